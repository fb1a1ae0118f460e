"""The rules that decide whether a benchmark passed: checks that can fail, and runs that
name their code only when the tree is clean."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import report
from bench.harness import Check, Result, absolute, interleaved, ratio, ratio_value
from bench.run import code_identity, dirty_paths, failures


def _rate(label: str, rate: float, *, baseline: bool = False, errors: int = 0) -> Result:
    return Result(bench="b", path="p", label=label, rate=rate, baseline=baseline, errors=errors)


def test_a_zero_baseline_is_an_invalid_measurement_not_an_infinite_ratio() -> None:
    check = ratio(_rate("subject", 100.0), _rate("bare", 0.0, baseline=True), "rate", ">=", 0.5)
    assert math.isnan(check.value)
    assert not check.valid
    assert not check.met
    assert check.verdict == "invalid measurement"


def test_a_zero_subject_or_a_missing_figure_is_invalid_too() -> None:
    assert math.isnan(ratio_value(0.0, 10.0))
    assert math.isnan(ratio_value(5.0, math.nan))
    no_latency = Result(bench="b", path="p", label="nothing arrived", errors=3)
    check = absolute(no_latency, "p99", "<=", 1000, "ms")
    assert not check.met and not check.valid


def test_losses_fail_a_target_whatever_the_percentiles_of_the_rest() -> None:
    delivered = Result(
        bench="b",
        path="p",
        label="broadcast",
        latency_ms={"p50": 10.0, "p99": 20.0},
        samples=999,
        errors=1,
    )
    check = absolute(delivered, "p99", "<=", 1000, "ms")
    assert check.value == 20.0
    assert not check.met
    assert check.verdict == "1 lost or failed"
    # A baseline's failed requests make the comparison incomplete as well.
    lossy_baseline = ratio(_rate("s", 90.0), _rate("b", 100.0, errors=2), "rate", ">=", 0.5)
    assert lossy_baseline.losses == 2 and not lossy_baseline.met
    clean = ratio(_rate("s", 90.0), _rate("b", 100.0), "rate", ">=", 0.5)
    assert clean.met and clean.verdict == "met"


def test_the_suite_fails_on_any_unmet_check_or_failed_benchmark_and_says_which() -> None:
    met = ratio(_rate("s", 90.0), _rate("b", 100.0), "rate", ">=", 0.5)
    missed = ratio(_rate("s", 10.0), _rate("b", 100.0), "rate", ">=", 0.5)
    invalid = ratio(_rate("s", 10.0), _rate("b", 0.0), "rate", ">=", 0.5)
    assert failures([{"name": "x", "error": None}], [met]) == []
    lines = failures([{"name": "x", "error": "over budget"}], [met, missed, invalid])
    assert len(lines) == 3
    assert lines[0] == "x: failed: over budget"
    assert "missed" in lines[1] and "invalid measurement" in lines[2]


def test_an_invalid_check_round_trips_through_standard_json(tmp_path: Path) -> None:
    invalid = ratio(_rate("s", 10.0), _rate("b", 0.0, baseline=True), "rate", ">=", 0.5)
    suite = report.Suite("2026-01-01T00:00:00+00:00", True, {}, [], [], [invalid])
    report.write(suite, tmp_path, "day")
    text = (tmp_path / "day.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    (reloaded,) = report.load(tmp_path / "day.json").checks
    assert isinstance(reloaded, Check) and not reloaded.met
    assert "**invalid measurement**" in (tmp_path / "day.md").read_text()


def test_dirty_paths_ignore_results_and_local_data_only() -> None:
    porcelain = "\0".join(
        [
            "?? bench/results/2026-12-03-quick.json",
            " M .local/pg/postgresql.conf",
            " M bench/run.py",
            "R  bench/new_name.py",
            "bench/old_name.py",
            "?? notes.txt",
            "",
        ]
    )
    assert dirty_paths(porcelain) == [
        "bench/run.py",
        "bench/new_name.py",
        "bench/old_name.py",
        "notes.txt",
    ]
    assert dirty_paths("?? bench/results/x.png\0") == []
    assert dirty_paths("") == []


def test_a_dirty_run_is_never_labelled_with_a_commit() -> None:
    assert code_identity("abc1234", []) == {"commit": "abc1234", "dirty": False, "dirty_paths": []}
    dirty = code_identity("abc1234", ["bench/run.py"])
    assert dirty["commit"] is None and dirty["dirty"] is True
    assert dirty["dirty_paths"] == ["bench/run.py"]
    unknown = code_identity(None, [])
    assert unknown["commit"] is None and unknown["dirty"] is True


async def test_interleaved_rounds_rotate_the_order_and_measure_every_side_alike() -> None:
    order: list[str] = []

    def call(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            order.append(name)

        return run

    took = await interleaved(
        {"subject": call("subject"), "baseline": call("baseline")}, times=3, max_s=10, warmup=1
    )
    assert {name: len(runs) for name, runs in took.items()} == {"subject": 3, "baseline": 3}
    # Warm-up round, then measured rounds in rotated order: neither side always goes first.
    rounds = [order[i : i + 2] for i in range(0, len(order), 2)]
    assert rounds == [["subject", "baseline"], ["baseline", "subject"]] * 2
