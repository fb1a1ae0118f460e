# One image for every Herald service. The role is the command, chosen by docker-compose.yml:
#   python -m services.publisher | services.feed | services.fanout | services.retention
#   | services.push | services.web
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Inside a container the services listen on every interface (the defaults are loopback).
    HERALD_PUBLISHER_HOST=0.0.0.0 \
    HERALD_PUBLISHER_OPS_HOST=0.0.0.0 \
    HERALD_FEED_HOST=0.0.0.0 \
    HERALD_FEED_OPS_HOST=0.0.0.0 \
    HERALD_FANOUT_OPS_HOST=0.0.0.0 \
    HERALD_RETENTION_OPS_HOST=0.0.0.0 \
    HERALD_PUSH_OPS_HOST=0.0.0.0 \
    HERALD_WEB_HOST=0.0.0.0 \
    HERALD_WEB_OPS_HOST=0.0.0.0 \
    HERALD_MEDIA_DIR=/var/lib/herald/media \
    HERALD_LOG_JSON=true

RUN useradd --system --uid 10001 --home-dir /app herald \
    && mkdir -p /app /var/lib/herald/media /var/lib/herald/push \
    && chown herald:herald /app /var/lib/herald/media /var/lib/herald/push
WORKDIR /app

# The pinned dependencies alone first: this layer is reused while only Herald's code changes.
COPY pyproject.toml README.md ./
RUN mkdir shared services \
    && touch shared/__init__.py services/__init__.py \
    && pip install . \
    && pip uninstall -y herald \
    && rm -rf shared services build ./*.egg-info

COPY shared ./shared
COPY services ./services
# Editable, so Herald runs from /app where its SQL migrations and event examples live.
RUN pip install --no-deps -e . && rm -rf build

# No state in the container but uploaded media (the volume below): the rest is in Postgres
# and Kafka, so a container can be replaced at any time. Nothing under /app needs persisting:
# fan-out declares no faust tables, so faust's data directory, if made, stays empty.
USER herald
VOLUME ["/var/lib/herald/media"]
EXPOSE 8080 8081 8082 8083 8084 8085 8090 8091 8092
CMD ["python", "-m", "services.publisher"]
