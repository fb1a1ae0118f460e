# Postgres 15 with the `hll` extension Herald's schema needs (unique post views as
# HyperLogLog sketches). The official image lacks it; its PGDG apt source provides it.
FROM postgres:15

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15-hll \
    && rm -rf /var/lib/apt/lists/*
