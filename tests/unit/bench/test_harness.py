"""The benchmark harness: percentiles, bounded loops, checks and the report files."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report
from bench.harness import Check, Result, closed_loop, latency_summary, percentile, ratio, timed
from bench.run import discover


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    summary = latency_summary([0.001, 0.002, 0.003])
    assert summary["p50"] == 2.0 and summary["max"] == 3.0


async def test_closed_loop_stops_at_its_call_limit_and_counts_failures() -> None:
    calls = 0

    async def call() -> bool:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise RuntimeError("a failing request counts as an error, it does not abort")
        return True

    sample = await closed_loop(call, concurrency=4, duration_s=30, warmup_s=0, max_calls=20)
    assert len(sample.latencies) >= 20
    assert sample.errors > 0
    assert sample.seconds < 30


async def test_timed_is_bounded_by_count_and_resets_between_runs() -> None:
    resets = 0

    async def noop() -> None:
        return None

    async def reset() -> None:
        nonlocal resets
        resets += 1

    took = await timed(noop, times=5, max_s=10, warmup=1, between=reset)
    assert len(took) == 5
    assert resets == 6


def test_ratio_checks_compare_against_the_target() -> None:
    subject = Result(bench="b", path="publish", label="publisher", rate=60.0)
    baseline = Result(bench="b", path="publish", label="bare", baseline=True, rate=100.0)
    check = ratio(subject, baseline, "rate", ">=", 0.5)
    assert check.value == 0.6 and check.met
    assert not ratio(subject, baseline, "rate", ">=", 0.8).met


def test_report_writes_json_markdown_and_plots(tmp_path: Path) -> None:
    results = [
        Result(
            bench="b",
            path="publish",
            label="publisher",
            rate=60.0,
            latency_ms={"p50": 1.0, "p90": 2.0, "p99": 3.0},
        ),
        Result(
            bench="b",
            path="publish",
            label="bare",
            baseline=True,
            rate=100.0,
            latency_ms={"p50": 0.5, "p90": 1.0, "p99": 2.0},
        ),
        *(
            Result(
                bench="c",
                path="curve",
                label="insert",
                x=n,
                latency_ms={"p50": n / 100},
                params={"plot": "p50", "mark_x": 10},
            )
            for n in (1, 10, 100)
        ),
    ]
    checks = [ratio(results[0], results[1], "rate", ">=", 0.5)]
    suite = report.Suite("2026-01-01T00:00:00+00:00", True, {"cpus": 2}, [], results, checks)
    written = report.write(suite, tmp_path, "day")
    assert {p.suffix for p in written} == {".json", ".md", ".png"}
    assert len([p for p in written if p.suffix == ".png"]) == 2
    markdown = (tmp_path / "day.md").read_text()
    assert "| 0.600 | >= 0.5 | met |" in markdown
    reloaded = report.load(tmp_path / "day.json")
    assert reloaded.results == results
    assert reloaded.checks == checks
    assert json.loads((tmp_path / "day.json").read_text())["quick"] is True
    assert isinstance(reloaded.checks[0], Check)


def test_the_runner_finds_only_modules_with_the_entry_point() -> None:
    names = [name for name, _ in discover(set(), set())]
    assert {"scaling_fanout", "scaling_reads", "load", "sse_broadcast"} <= set(names)
    assert "harness" not in names and "report" not in names
