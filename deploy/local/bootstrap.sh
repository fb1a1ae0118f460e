#!/usr/bin/env bash
# Installs whatever the local stack needs and is missing, then is quiet on later runs:
#   system packages (Java, Maven, PostgreSQL server + hll, Prometheus/promtool, and for
#   cluster mode Patroni, etcd and HAProxy) with apt,
#   the Python virtualenv with Herald and its pinned dependencies,
#   the Kafka broker jars from Maven Central.
# Safe to run again: each step is skipped when its inputs have not changed.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
STAMPS=.local/stamps
mkdir -p "$STAMPS"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root (or sudo) to run: $*"; exit 1; fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    say "missing: $* — install them with your system's package manager (see README)"; exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- system packages -------------------------------------------------------------
missing=()
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

pg_major=$(ls -d /usr/lib/postgresql/*/ 2>/dev/null | sed 's#.*/postgresql/\([0-9]*\)/#\1#' | sort -n | tail -1)
if [ -n "$pg_major" ] && [ ! -f "/usr/share/postgresql/$pg_major/extension/hll.control" ]; then
  apt_install "postgresql-$pg_major-hll"
fi
command -v promtool >/dev/null || apt_install prometheus
# Cluster mode (deploy/cluster/): Patroni with etcd as its store, HAProxy in front.
# Patroni reaches etcd through python3-etcd (one of the alternatives Debian's patroni
# depends on; named here so apt never picks another). It runs on the system python3.
cluster=()
command -v patroni >/dev/null || cluster+=(patroni)
/usr/bin/python3 -c 'import etcd' 2>/dev/null || cluster+=(python3-etcd)
command -v etcd >/dev/null || cluster+=(etcd-server)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || cluster+=(haproxy)
[ ${#cluster[@]} -eq 0 ] || apt_install "${cluster[@]}"
# The browser tests (tests/browser/) drive Debian's Chromium; on Ubuntu `chromium` is a
# snap that Playwright cannot launch: see the README.
if ! command -v chromium >/dev/null; then
  if grep -qi ubuntu /etc/os-release 2>/dev/null; then
    say "browser tests: install a non-snap Chromium or Chrome and set HERALD_TEST_CHROMIUM (README)"
  else
    apt_install chromium
  fi
fi

# --- Python virtualenv -----------------------------------------------------------
py_stamp="$STAMPS/venv-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ ! -f "$py_stamp" ]; then
  say "creating .venv and installing Herald with its pinned dependencies"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f "$STAMPS"/venv-*
  touch "$py_stamp"
fi

# --- Kafka jars ------------------------------------------------------------------
jar_stamp="$STAMPS/kafka-$(sha256sum deploy/local/pom.xml | cut -c1-16)"
if [ ! -f "$jar_stamp" ] || [ ! -d deploy/local/target/dependency ]; then
  say "fetching the Kafka broker jars from Maven Central"
  rm -rf deploy/local/target
  (cd deploy/local && mvn -q -B dependency:copy-dependencies)
  rm -f "$STAMPS"/kafka-*
  touch "$jar_stamp"
fi
say "ready ($ROOT)"
