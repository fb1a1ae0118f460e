# Postgres 15 under Patroni for docker-compose.cluster.yml. There is no official Patroni
# image: this one is the official `postgres` image plus Debian's own `patroni` package
# (with its etcd v3 client) and the `hll` extension Herald's schema needs, from the PGDG
# apt source the image already carries. Patroni, not the image's entrypoint, runs initdb,
# replication and failover; its configuration is mounted from deploy/cluster/compose/.
FROM postgres:15

RUN apt-get update \
    && apt-get install -y --no-install-recommends patroni python3-etcd postgresql-15-hll \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/wal-archive \
    && chown postgres:postgres /var/lib/postgresql/wal-archive

USER postgres
# Patroni's REST API (health checks for HAProxy, `patronictl`) and Postgres.
EXPOSE 8008 5432
ENTRYPOINT ["patroni"]
CMD ["/etc/patroni/patroni.yml"]
