# Herald — everyday commands. `make run` and `make test` work from a clean clone:
# they install what is missing (see deploy/local/bootstrap.sh) and start a real Kafka
# and Postgres under .local/.

PY := .venv/bin/python
STACK := $(PY) -m deploy.local.stack
PYTEST_ARGS ?=

.PHONY: help bootstrap run test test-fast lint format stop clean token psql openapi bench fuzz

help:
	@echo "make run        start Kafka, Postgres and the six services, web on :8080 (Ctrl-C stops all)"
	@echo "make test       the whole suite against real servers, lint and types included"
	@echo "make lint       ruff and mypy --strict"
	@echo "make stop       stop the local Kafka and Postgres"
	@echo "make clean      stop and delete .local/ (data, logs) and build output"
	@echo "make token SUB=<account-id>   a dev JWT the local stack accepts"
	@echo "make psql       a psql shell on the local database"
	@echo "make openapi    write docs/openapi/{publisher,feed}.json"
	@echo "make fuzz       OpenAPI fuzzing of publisher and feed (FUZZ_TIME_S=600)"
	@echo "make bench      benchmarks vs their baselines -> bench/results/ (ARGS=--quick: < 8 min)"
	@echo "make chaos      fault injection under load, 21 trials (restarts Kafka and Postgres)"
	@echo "make cluster    3 Kafka brokers, Patroni Postgres pair, HAProxy, 2 of each service (background)"
	@echo "make cluster-status   who leads what, each service process, HAProxy's backends"
	@echo "make cluster-stop     stop the cluster (services, then the data plane)"
	@echo "make chaos-cluster    cluster-mode faults under load, 18 trials: each of 9 kinds twice"

bootstrap:
	@bash deploy/local/bootstrap.sh

run: bootstrap
	@$(PY) -m deploy.local.run

lint: bootstrap
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared services deploy bench tests cli

format: bootstrap
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: lint
	$(STACK) with-stack $(PY) -m pytest $(PYTEST_ARGS)

# Unit tests only: no servers needed.
test-fast: bootstrap
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

stop:
	@[ ! -x $(PY) ] || $(STACK) stop

clean: stop
	@# As root the Postgres cluster lives outside the checkout, behind the .local/pg link.
	[ ! -L .local/pg ] || rm -rf "$$(readlink -f .local/pg)"
	rm -rf .local deploy/local/target .mypy_cache .ruff_cache .pytest_cache

token: bootstrap
	@test -n "$(SUB)" || (echo "usage: make token SUB=<account-id>"; exit 2)
	@$(PY) -m shared.auth "$(SUB)"

psql: bootstrap
	@$(STACK) start-postgres >/dev/null
	@$(STACK) psql

openapi: bootstrap
	$(PY) -m deploy.openapi docs/openapi

# Benchmarks against the local stack, each on its own database and topic namespace, written
# to bench/results/<date>.{json,md,png}: the full suite takes < 45 min, ARGS=--quick < 8 min.
bench: bootstrap
	$(STACK) with-stack $(PY) -m bench.run $(ARGS)

# Longer OpenAPI fuzzing of both HTTP services (schemathesis; no 5xx, answers match their
# schemas). `make test` runs the same test with a small budget.
FUZZ_EXAMPLES ?= 200
FUZZ_TIME_S ?= 600
fuzz: bootstrap
	HERALD_FUZZ_MAX_EXAMPLES=$(FUZZ_EXAMPLES) HERALD_FUZZ_MAX_TIME_S=$(FUZZ_TIME_S) \
		$(STACK) with-stack $(PY) -m pytest tests/security/test_fuzz_openapi.py -q

# Fault injection under load (tests/chaos): at least 20 trials, one fault each, including
# restarts of the local Kafka and Postgres; prints the trial table. Seed: CHAOS_SEED=<n>.
.PHONY: chaos
CHAOS_TRIALS ?= 21
CHAOS_SEED ?=
chaos: bootstrap
	HERALD_CHAOS_RESTART_SERVERS=1 HERALD_CHAOS_TRIALS=$(CHAOS_TRIALS) \
		HERALD_CHAOS_SEED=$(CHAOS_SEED) \
		$(STACK) with-stack $(PY) -m pytest tests/chaos -q -s $(PYTEST_ARGS)

# Cluster mode on one machine (deploy/cluster): three KRaft brokers, etcd, two Postgres
# nodes under Patroni, HAProxy, two processes of each service. `make cluster` returns once
# everything answers and leaves it running; ports from HERALD_CLUSTER_PORT_BASE (21000).
.PHONY: cluster cluster-stop cluster-status chaos-cluster
cluster: bootstrap
	@$(PY) -m deploy.cluster.stack start

cluster-stop:
	@[ ! -x $(PY) ] || $(PY) -m deploy.cluster.stack stop

cluster-status:
	@$(PY) -m deploy.cluster.stack status

# Fault injection in cluster mode, on a cluster of its own (port base
# CHAOS_CLUSTER_PORT_BASE): broker leader and Postgres primary kills, one process of each
# service killed, a fan-out paused for 20 s; prints the table, writes .local/chaos/cluster-*.json.
CLUSTER_CHAOS_TRIALS ?= 18
CHAOS_CLUSTER_PORT_BASE ?= 22000
chaos-cluster: bootstrap
	HERALD_TEST_CLUSTER_PORT_BASE=$(CHAOS_CLUSTER_PORT_BASE) \
		HERALD_CLUSTER_CHAOS_TRIALS=$(CLUSTER_CHAOS_TRIALS) HERALD_CLUSTER_CHAOS_PAUSE_S=20 \
		HERALD_CHAOS_SEED=$(CHAOS_SEED) \
		$(PY) -m pytest tests/cluster/test_cluster_chaos.py -q -s $(PYTEST_ARGS)
