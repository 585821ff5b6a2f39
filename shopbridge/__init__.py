"""shopbridge: keeps an ERP and any number of online shops in sync through RabbitMQ."""

__version__ = "0.1.0"
