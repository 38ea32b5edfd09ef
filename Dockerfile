# driftwarden container image.
#
#   docker build -t driftwarden .
#   docker run --rm -p 8321:8321 driftwarden            # runs the embedded demo
#   docker run --rm -p 8321:8321 -v $PWD/my.toml:/etc/driftwarden/config.toml:ro \
#       -e SLACK_BOT_TOKEN=... driftwarden
#
# The default configuration (deploy/docker/config.toml) replays the demo stream shipped in
# /usr/share/driftwarden/demo and keeps its SQLite store under /var/lib/driftwarden (mount a
# volume there to keep state). In a cluster, mount your own config.toml (see deploy/k8s/).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/driftwarden
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY detectors ./detectors
COPY connectors ./connectors
COPY alerts ./alerts
RUN /opt/driftwarden/bin/pip install --upgrade pip \
 && /opt/driftwarden/bin/pip install . \
 && /opt/driftwarden/bin/driftwarden --help > /dev/null

FROM python:3.11-slim
LABEL org.opencontainers.image.title="driftwarden" \
      org.opencontainers.image.description="Drift and data-quality monitoring daemon for ML models in production" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/driftwarden/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 driftwarden \
 && useradd --system --uid 10001 --gid driftwarden --home-dir /var/lib/driftwarden \
        --shell /usr/sbin/nologin driftwarden \
 && install -d -o driftwarden -g driftwarden -m 0750 /var/lib/driftwarden
COPY --from=build /opt/driftwarden /opt/driftwarden
COPY deploy/docker/config.toml /etc/driftwarden/config.toml
COPY demo /usr/share/driftwarden/demo
USER 10001:10001
WORKDIR /var/lib/driftwarden
VOLUME ["/var/lib/driftwarden"]
EXPOSE 8321
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8321/healthz', timeout=4).status == 200 else 1)"]
CMD ["driftwarden", "run", "--config", "/etc/driftwarden/config.toml"]
