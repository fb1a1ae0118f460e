"""Cluster mode on one machine: three KRaft brokers, etcd, two Postgres nodes under
Patroni, HAProxy, and two processes of every service, on loopback ports (see `layout`)."""
