"""The SSE broadcast benchmark's accounting: every stream counted, rounds judged one by
one, and the verdicts that make `make bench` fail."""

from __future__ import annotations

import math

from pytest import approx

from bench.harness import Result
from bench.sse.accounting import (
    Round,
    SizeRun,
    compare,
    not_measured,
    result,
    tally,
    verdicts,
)
from bench.sse.baseline import event_frame
from bench.sse.clients import processes_for, share, source_address

SENT = 100.0


def test_a_stream_without_the_event_or_never_opened_is_lost_and_a_late_one_is_late() -> None:
    # 4 streams expected: one on time, one after the deadline, one open that never got
    # it, and one that never opened (absent from the arrivals).
    round_ = tally(SENT, [SENT + 0.120, SENT + 7.0, None], expected=4, deadline_s=5.0)
    assert round_.delays == approx([0.120])
    assert round_.late == 1
    assert round_.lost == 2
    assert round_.failures == 3
    assert round_.delivered == 1


def test_each_round_has_its_own_percentiles_and_the_slowest_round_is_judged() -> None:
    fast = tally(SENT, [SENT + i / 1000 for i in range(1, 101)], 100, 5.0)
    slow = tally(SENT, [SENT + i / 100 for i in range(1, 101)], 100, 5.0)
    assert [fast.figure(p) for p in (50, 99, 100)] == approx([50.0, 99.0, 100.0])
    run = _run("Herald", 100, [fast, slow, fast])
    assert run.worst_p99_ms == slow.figure(99) == approx(990.0)
    figures = result(run, workers=1)
    assert figures.values["r1_p99"] == approx(99.0)
    assert figures.values["r2_p99"] == approx(990.0)
    assert figures.values["r2_max"] == approx(1000.0)
    # The pooled percentiles mix the rounds: the slow round is not hidden by the check,
    # which takes the worst round's p99, not the pooled one.
    assert figures.latency_ms["p50"] < figures.values["worst_round_p99"]


def test_a_round_that_delivered_nothing_has_no_p99_and_so_no_valid_worst_round() -> None:
    nothing = tally(SENT, [None, None], 2, 5.0)
    assert math.isnan(nothing.figure(99))
    run = _run("Herald", 2, [nothing])
    assert math.isnan(run.worst_p99_ms)
    assert run.delivered_every_round == 0


def test_warm_up_failures_count_though_its_latencies_are_not_figures() -> None:
    ok = tally(SENT, [SENT + 0.01] * 10, 10, 5.0)
    lossy_warmup = tally(SENT, [SENT + 0.01] * 9, 10, 5.0)
    run = _run("Herald", 10, [ok, ok, ok], warmup=lossy_warmup)
    figures = result(run, workers=1)
    assert figures.errors == 1
    assert figures.samples == 30


def test_ten_thousand_streams_all_delivered_in_time_meet_every_target() -> None:
    herald, bare = _pair(10_000, p99_s=0.300, kib=4.0, open_s=8.0)
    checks = {c.what.rsplit(", ", 1)[-1]: c for c in verdicts(herald, bare, quick=False)}
    assert set(checks) == {"delivered_every_round", "worst_round_p99", "KiB_per_stream", "open_s"}
    assert all(c.met for c in checks.values()), [c.verdict for c in checks.values()]
    # Each carries the bare broadcaster's figure of the same run as its baseline.
    assert checks["worst_round_p99"].baseline == approx(bare.values["worst_round_p99"])
    assert checks["worst_round_p99"].subject == checks["worst_round_p99"].value


def test_herald_cost_over_the_bare_broadcast_is_a_ratio_or_nan_when_a_side_has_none() -> None:
    herald, bare = _pair(1_000, p99_s=0.200, kib=8.0, open_s=2.0)
    compare(herald, bare)
    assert herald.values["worst_round_p99_over_bare"] == approx(4.0, rel=0.01)
    assert herald.values["KiB_per_stream_over_bare"] == approx(8.0)
    nothing = result(_run("Herald", 2, [tally(SENT, [None, None], 2, 5.0)]), workers=1)
    compare(nothing, bare)
    assert math.isnan(nothing.values["worst_round_p99_over_bare"])


def test_one_stream_missing_one_round_fails_delivery_and_latency_not_memory() -> None:
    herald, bare = _pair(10_000, p99_s=0.300, kib=4.0, open_s=8.0, lost_in_round_2=1)
    checks = {c.what.rsplit(", ", 1)[-1]: c for c in verdicts(herald, bare, quick=False)}
    assert checks["delivered_every_round"].value == 9_999
    assert not checks["delivered_every_round"].met
    assert checks["worst_round_p99"].verdict == "1 lost or failed"
    assert checks["KiB_per_stream"].met and checks["open_s"].met


def test_a_slow_round_misses_the_p99_target_and_too_much_memory_misses_its_own() -> None:
    herald, bare = _pair(10_000, p99_s=0.400, kib=16.0, open_s=11.0)
    checks = {c.what.rsplit(", ", 1)[-1]: c for c in verdicts(herald, bare, quick=False)}
    assert checks["delivered_every_round"].met
    for missed in ("worst_round_p99", "KiB_per_stream", "open_s"):
        assert checks[missed].verdict == "missed", missed


def test_a_hundred_streams_are_judged_on_their_median_and_other_sizes_on_delivery() -> None:
    herald, bare = _pair(100, p99_s=0.050, kib=20.0, open_s=0.5)
    checks = {c.what.rsplit(", ", 1)[-1]: c for c in verdicts(herald, bare, quick=True)}
    assert set(checks) == {"delivered_every_round", "p50"}
    assert checks["p50"].met
    slow, bare = _pair(100, p99_s=0.150, kib=20.0, open_s=0.5)
    assert not next(c for c in verdicts(slow, bare, quick=True) if c.what.endswith("p50")).met
    workers, bare = _pair(20_000, p99_s=0.900, kib=4.0, open_s=30.0, workers=2)
    assert [c.what.rsplit(", ", 1)[-1] for c in verdicts(workers, bare, quick=False)] == [
        "delivered_every_round"
    ]


def test_a_size_that_could_not_be_measured_fails_and_says_why() -> None:
    check = not_measured("Herald feed, workers", 20_000, "no feed workers")
    assert not check.met and check.verdict == "invalid measurement"
    assert check.note == "not measured: no feed workers"


def test_client_processes_share_every_stream_and_stay_within_their_file_limit() -> None:
    for total, processes in ((100, 2), (1_000, 3), (20_000, 3), (7, 4)):
        shares = [share(total, i, processes) for i in range(processes)]
        assert sum(shares) == total
        assert max(shares) - min(shares) <= 1
    assert processes_for(100) >= 2
    assert processes_for(20_000) >= 3
    # Each connects from its own loopback address: a port range of its own.
    sources = [source_address(i) for i in range(processes_for(20_000))]
    assert len(set(sources)) == len(sources)
    assert all(s.startswith("127.") for s in sources)


def test_the_bare_frame_is_one_sse_event_in_one_chunk_carrying_the_marker() -> None:
    wire = event_frame("sse-marker-42")
    size, _, rest = wire.partition(b"\r\n")
    assert int(size, 16) == len(rest) - 2 and rest.endswith(b"\n\n\r\n")
    assert b"event: post\ndata: " in rest and b"sse-marker-42" in rest


# --- helpers ------------------------------------------------------------------------------


def _run(label: str, streams: int, rounds: list[Round], warmup: Round | None = None) -> SizeRun:
    return SizeRun(
        label=label,
        streams=streams,
        opened=streams,
        open_s=1.0,
        kib_per_stream=1.0,
        rounds=rounds,
        warmup=warmup,
    )


def _pair(
    streams: int,
    *,
    p99_s: float,
    kib: float,
    open_s: float,
    lost_in_round_2: int = 0,
    workers: int = 1,
) -> tuple[Result, Result]:
    def rounds(top_s: float, lost: int) -> list[Round]:
        # Delays spread evenly up to `top_s`: the p99 is just under it.
        even = [SENT + top_s * (i + 1) / streams for i in range(streams)]
        made = [tally(SENT, even, streams, 5.0) for _ in range(3)]
        made[1] = tally(SENT, even[lost:], streams, 5.0)
        return made

    herald = SizeRun("Herald feed", streams, streams, open_s, kib, rounds(p99_s, lost_in_round_2))
    bare = SizeRun("bare", streams, streams, 0.5, 1.0, rounds(p99_s / 4, 0), baseline=True)
    return result(herald, workers), result(bare, workers)
