"""KRaft cluster ids for the local stack and cluster mode: the storage tool must accept
every one (an id starting with `-` was read as an option, one format in 64 failed)."""

from __future__ import annotations

import base64

from deploy.local.stack import new_kafka_cluster_id


def test_cluster_ids_are_16_random_bytes_never_starting_with_a_dash() -> None:
    ids = [new_kafka_cluster_id() for _ in range(3000)]
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
    for cluster_id in ids[:50]:
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
