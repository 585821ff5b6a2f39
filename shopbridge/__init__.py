"""shopbridge: keeps an ERP and any number of online shops in sync through RabbitMQ."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shopbridge")     # one source: pyproject.toml, as installed
except PackageNotFoundError:                 # run from a source tree that was never installed
    __version__ = "0+unknown"
