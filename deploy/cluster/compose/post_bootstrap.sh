#!/bin/sh
# Patroni's post_bootstrap for docker-compose.cluster.yml: runs once, on the node that
# initialised the cluster, with a superuser connection string as its argument. Creates the
# role and database Herald's services use (HERALD_DB_PASSWORD) and the hll extension,
# which a non-superuser cannot create; Herald's migrations do the rest.
set -eu
psql "$1" -v ON_ERROR_STOP=1 -v pw="${HERALD_DB_PASSWORD:?HERALD_DB_PASSWORD is required}" <<'SQL'
CREATE ROLE herald LOGIN PASSWORD :'pw';
CREATE DATABASE herald OWNER herald;
\connect herald
CREATE EXTENSION IF NOT EXISTS hll;
SQL
