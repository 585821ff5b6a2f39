# shopbridge: one image for every role; the command picks it (see docker-compose.yml).
#   docker build -t shopbridge .
#   docker run --rm shopbridge --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Everything the wheel is built from: pyproject.toml names README.md as the readme, packages
# shopbridge, producers and consumers, and force-includes schemas/ as shopbridge/_schemas.
COPY pyproject.toml README.md ./
COPY shopbridge/ shopbridge/
COPY systems/ systems/
COPY producers/ producers/
COPY consumers/ consumers/
COPY schemas/ schemas/
RUN pip install . \
 && cd / && rm -rf /src \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/shopbridge \
        --shell /usr/sbin/nologin shopbridge

# The source is installed into site-packages; run as an unprivileged user.
WORKDIR /home/shopbridge
USER 10001:10001

# Mount the configuration here (or pass -c / --config).
ENV SHOPBRIDGE_CONFIG=/etc/shopbridge/shopbridge.toml

ENTRYPOINT ["shopbridge"]
CMD ["--help"]
