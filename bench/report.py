"""The benchmark report: one JSON file, one Markdown file and PNG plots per run.

`write(suite, out_dir, stem)` writes `<stem>.json` (everything measured, reloadable with
`load`), `<stem>.md` (the checks against DESIGN.md targets, every figure, the plots) and
`<stem>-<path>.png`: for a path measured against a baseline, its throughput and latency
percentiles side by side with the ratio in the title; for a scaling curve (results with
`x`), the figure against `x` on log axes, with the `mark_x` parameter drawn as a line
(e.g. the hybrid fan-out threshold).

Usage: python -m bench.report bench/results/<stem>.json   (re-renders md + png)
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from bench.harness import Check, Result, from_json, to_json


@dataclass
class Suite:
    started_at: str
    quick: bool
    machine: dict[str, Any]
    runs: list[dict[str, Any]]
    results: list[Result] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value == 0 or 0.01 <= abs(value) < 100_000:
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:.3g}"


def checks_table(checks: list[Check]) -> str:
    lines = [
        "| benchmark | path | what | subject | baseline | value | target | |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for c in checks:
        if not c.valid:
            value = "-"
        elif c.unit == "ratio":
            value = f"{c.value:.3f}"
        else:
            value = f"{_fmt(c.value)} {c.unit}"
        lines.append(
            f"| {c.bench} | {c.path} | {c.what} | {_fmt(c.subject)} | {_fmt(c.baseline)} | "
            f"{value} | {c.op} {c.target:g} | {c.verdict if c.met else f'**{c.verdict}**'} |"
        )
    return "\n".join(lines)


def results_table(results: list[Result]) -> str:
    lines = [
        "| benchmark | path | label | x | rate | p50 ms | p90 ms | p99 ms | max ms | other | n "
        "| errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        lat = r.latency_ms
        rate = f"{_fmt(r.rate)} {r.unit}" if r.rate is not None else "-"
        other = ", ".join(f"{k} {_fmt(v)}" for k, v in r.values.items())
        lines.append(
            f"| {r.bench} | {r.path} | {r.label}{' (baseline)' if r.baseline else ''} | "
            f"{_fmt(r.x)} | {rate} | {_fmt(lat.get('p50'))} | {_fmt(lat.get('p90'))} | "
            f"{_fmt(lat.get('p99'))} | {_fmt(lat.get('max'))} | {other} | {r.samples} | "
            f"{r.errors} |"
        )
    return "\n".join(lines)


def _latency_bars(ax: Any, results: list[Result]) -> None:
    pcts = ["p50", "p90", "p99"]
    with_lat = [r for r in results if r.latency_ms]
    width = 0.8 / max(1, len(with_lat))
    for i, r in enumerate(with_lat):
        ax.bar(
            [j + i * width for j in range(len(pcts))],
            [r.latency_ms.get(p, 0) for p in pcts],
            width,
            label=r.label,
            color="#888888" if r.baseline else None,
        )
    ax.set_xticks([j + width * (len(with_lat) - 1) / 2 for j in range(len(pcts))], pcts)
    ax.set_ylabel("ms")
    ax.set_title("latency")
    if with_lat:
        ax.legend(fontsize=8)


def _plot_comparison(path: str, results: list[Result], checks: list[Check], png: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    colors = ["#888888" if r.baseline else "#1f77b4" for r in results]
    labels = [r.label for r in results]
    rated = [r for r in results if r.rate is not None]
    if rated:
        left.bar(
            [r.label for r in rated],
            [r.rate or 0 for r in rated],
            color=["#888888" if r.baseline else "#1f77b4" for r in rated],
        )
        left.set_ylabel(rated[0].unit)
        left.set_title("throughput")
        _latency_bars(right, results)
    else:
        # No throughput (e.g. retention's DROP vs DELETE): the first two other figures,
        # log scale, since subject and baseline differ by orders of magnitude.
        # Figures every side has (a subject's extra figures would plot as empty bars).
        shared = set.intersection(*(set(r.values) for r in results)) if results else set()
        keys = sorted(shared or {k for r in results for k in r.values})[:2]
        for ax, key in zip((left, right), keys, strict=False):
            ax.bar(labels, [r.values.get(key, 0) for r in results], color=colors)
            ax.set_yscale("log")
            ax.set_title(key)
            ax.tick_params(axis="x", labelrotation=15)
    left.tick_params(axis="x", labelrotation=15)
    ratios = "; ".join(
        f"{c.what.split(',')[-1].strip()} ratio {c.value:.3g}" for c in checks if c.unit == "ratio"
    )
    fig.suptitle(f"{path}" + (f" — {ratios}" if ratios else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def _plot_curve(path: str, results: list[Result], png: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        series[r.label].append(r)
    metric = str(results[0].params.get("plot", "p50"))
    for label, points in series.items():
        points.sort(key=lambda r: r.x or 0)
        ax.plot(
            [r.x or 0.0 for r in points],
            [r.figure(metric) for r in points],
            marker="o",
            label=label,
        )
    marks = {
        r.params["mark_x"]: r.params.get("mark_label", "") for r in results if "mark_x" in r.params
    }
    for x, text in marks.items():
        ax.axvline(x, color="red", linestyle="--", linewidth=1)
        ax.annotate(
            text,
            (x, 0.95),
            xycoords=("data", "axes fraction"),
            fontsize=8,
            color="red",
            ha="right",
            rotation=90,
            va="top",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(results[0].x_label or "x")
    unit = "ms" if metric.startswith("p") or metric in ("max", "mean") else results[0].unit
    ax.set_ylabel(f"{metric} ({unit})")
    ax.set_title(path, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def plot(suite: Suite, out_dir: Path, stem: str) -> list[Path]:
    by_path: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in suite.results:
        by_path[(r.bench, r.path)].append(r)
    written: list[Path] = []
    for (bench, path), results in by_path.items():
        png = out_dir / f"{stem}-{slug(bench + '-' + path)}.png"
        checks = [c for c in suite.checks if c.bench == bench and c.path == path]
        if any(r.x is not None for r in results):
            _plot_curve(path, [r for r in results if r.x is not None], png)
        else:
            _plot_comparison(path, results, checks, png)
        written.append(png)
    return written


def markdown(suite: Suite, pngs: list[Path]) -> str:
    m = suite.machine
    missed = [c for c in suite.checks if not c.met]
    failed = [r for r in suite.runs if r["error"]]
    code = (
        f"Commit `{m.get('commit')}`"
        if m.get("commit") and not m.get("dirty")
        else "**Uncommitted working tree** (no commit names this code)"
    )
    parts = [
        f"# Herald benchmarks — {suite.started_at} ({'quick' if suite.quick else 'full'} run)",
        "",
        f"{code}, {m.get('cpus')} CPUs, Python {m.get('python')}, "
        f"{m.get('platform')}; load average at start {m.get('load_average_at_start', 0):.1f}; "
        f"suite took {m.get('seconds', 0):.0f} s. Every ratio compares two figures "
        "measured in this run on this machine. Produced by `make bench` (`python -m bench.run`)"
        "; method and analysis in docs/performance.md.",
        "",
        f"## Targets ({len(suite.checks) - len(missed)} met, {len(missed)} missed)",
        "",
        checks_table(suite.checks),
        "",
        "## Benchmarks run",
        "",
        "| benchmark | seconds | outcome |",
        "|---|---:|---|",
        *(f"| {r['name']} | {r['seconds']:.0f} | {r['error'] or 'ok'} |" for r in suite.runs),
        "",
        "## All figures",
        "",
        results_table(suite.results),
        "",
        "## Plots",
        "",
        *(f"![{p.stem}]({p.name})\n" for p in pngs),
    ]
    if failed:
        parts.insert(
            2,
            f"**{len(failed)} benchmark(s) failed**: "
            + ", ".join(r["name"] for r in failed)
            + "\n",
        )
    return "\n".join(parts)


def write(suite: Suite, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "started_at": suite.started_at,
        "quick": suite.quick,
        "machine": suite.machine,
        "runs": suite.runs,
        "records": [to_json(r) for r in suite.results] + [to_json(c) for c in suite.checks],
    }
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    pngs = plot(suite, out_dir, stem)
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown(suite, pngs) + "\n")
    return [json_path, md_path, *pngs]


def load(json_path: Path) -> Suite:
    data = json.loads(json_path.read_text())
    records = [from_json(r) for r in data["records"]]
    return Suite(
        started_at=data["started_at"],
        quick=data["quick"],
        machine=data["machine"],
        runs=data["runs"],
        results=[r for r in records if isinstance(r, Result)],
        checks=[r for r in records if isinstance(r, Check)],
    )


if __name__ == "__main__":
    source = Path(sys.argv[1])
    for written in write(load(source), source.parent, source.stem):
        print(written)
