# The parking centre: `parking serve` with two workers, migrating the database on start.
# Build: docker build -t city-parking .   Run the whole set: docker compose up (compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system parking \
    && useradd --system --gid parking --home-dir /app --shell /usr/sbin/nologin parking

WORKDIR /app
COPY . /app
# Editable: the demo city reads tariffs/ beside the packages (sandbox/demo_city.py), which a
# plain wheel would not carry. Every dependency is pinned in pyproject.toml.
RUN pip install -e . \
    && mkdir -p /var/lib/parking/sandbox /var/lib/parking/images /var/lib/parking/objects \
    && chown -R parking:parking /var/lib/parking \
    && chmod 0755 /app/deploy/entrypoint.sh

# Listen beyond the container (PARKING_ENV=production then demands a real PARKING_SECRET_KEY),
# two workers sharing the port, files on the data volume, JSON logs.
ENV PARKING_ENV=production \
    PARKING_HOST=0.0.0.0 \
    PARKING_PORT=8080 \
    PARKING_WORKERS=2 \
    PARKING_LOG_FORMAT=json \
    PARKING_IMAGE_DIR=/var/lib/parking/images \
    PARKING_OBJECT_STORE_DIR=/var/lib/parking/objects \
    PARKING_SANDBOX_KEYS_DIR=/var/lib/parking/sandbox

USER parking
EXPOSE 8080
VOLUME ["/var/lib/parking"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["serve"]
