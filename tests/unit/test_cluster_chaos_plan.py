"""The cluster chaos run's plan and its JSON rows (pure; the run itself is in tests/cluster)."""

from __future__ import annotations

import random

from tests.chaos.cluster_mode import CLUSTER_FAULTS, KILL_ONE, reduced_kinds, trial_record
from tests.chaos.faults import REQUIRED, Fault, Proof, Shown, schedule
from tests.chaos.runner import Trial


def test_the_reduced_run_has_one_fault_of_each_kind_and_replays_by_seed() -> None:
    for seed in range(20):
        kinds = reduced_kinds(random.Random(seed))
        assert kinds[:2] == (Fault.KILL_KAFKA_LEADER, Fault.KILL_PG_PRIMARY)
        assert kinds[2] in KILL_ONE and kinds[3] is Fault.PAUSE_A_FANOUT
        assert reduced_kinds(random.Random(seed)) == kinds
    # Over seeds, every service's process gets its turn.
    assert {reduced_kinds(random.Random(s))[2] for s in range(200)} == set(KILL_ONE)


def test_eighteen_trials_meet_every_cluster_fault_twice() -> None:
    faults = schedule(CLUSTER_FAULTS, 18, random.Random(7))
    assert len(CLUSTER_FAULTS) == 9 == len(set(CLUSTER_FAULTS))
    assert all(faults.count(f) == 2 for f in CLUSTER_FAULTS)


def test_every_cluster_fault_needs_evidence_and_a_dead_http_process_a_serving_front() -> None:
    for fault in CLUSTER_FAULTS:
        assert REQUIRED[fault], fault
    for fault in (Fault.KILL_A_PUBLISHER, Fault.KILL_A_FEED, Fault.KILL_A_WEB):
        assert Shown.SERVED in REQUIRED[fault]
    assert Shown.KEPT in REQUIRED[Fault.KILL_PG_PRIMARY]


def test_a_trial_row_says_what_was_measured_and_what_proof_is_missing() -> None:
    proof = Proof(Fault.KILL_PG_PRIMARY, shown={Shown.LEADER, Shown.RESTART})
    proof.notes.append("primary pg1 → pg2 in 9.6s")
    new = {"lost": 0, "duplicated": 0, "wrong_counts": 0, "stalled": 0, "unproven": 1}
    trial = Trial(3, Fault.KILL_PG_PRIMARY, 1.234, 21.57, 360, proof, new, publish_s=None)
    record = trial_record(trial)
    assert record["fault"] == "kill pg primary"
    assert record["lag_drained_s"] == 21.57 and record["publishing_works_again_s"] is None
    assert record["proven"] is False and record["missing_proof"] == ["kept"]
    assert record["evidence"] == ["primary pg1 → pg2 in 9.6s"] and record["unproven"] == 1
