"""What PromQL may name: the series Herald's metric catalogue exports, plus built-ins.

The catalogue is read from the source of `shared/metrics/*.py` (every `Counter(...)`,
`Gauge(...)`, `Histogram(...)`, … whose first argument is a literal name), so a metric
that is renamed or removed there breaks the dashboards and alerts that still use it.
`metric_names(expr)` pulls the metric names out of a PromQL expression.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE_DIR = ROOT / "shared" / "metrics"

# Series a metric type exposes beyond its own name (prometheus_client's text format).
_SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
    "Info": ("_info",),
    "Enum": ("",),
}
# Prometheus's own per-target series and prometheus_client's process collector.
BUILTINS = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "process_start_time_seconds",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
    }
)

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "offset", "bool"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)


def catalogue_series() -> dict[str, str]:
    """Every series name the catalogue exports, mapped to the module declaring it."""
    series: dict[str, str] = {}
    for module in sorted(CATALOGUE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            kind = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if kind not in _SUFFIXES or not isinstance(first, ast.Constant):
                continue
            name = str(first.value)
            base = name.removesuffix("_total") if kind == "Counter" else name
            for suffix in _SUFFIXES[kind]:
                series[base + suffix] = module.name
    return series


def known_names() -> frozenset[str]:
    return frozenset(catalogue_series()) | BUILTINS


# Removed before picking identifiers: strings, label matchers, range/subquery selectors,
# Grafana variables, and the label lists of by/without/on/ignoring/group_x.
_STRIP = [
    re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''),
    re.compile(r"\{[^}]*\}"),
    re.compile(r"\[[^\]]*\]"),
    re.compile(r"\$\{?\w+\}?"),
    re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"),
]
_IDENTIFIER = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions and keywords excluded)."""
    text = expr
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call is None and name.lower() not in _KEYWORDS:
            names.add(name)
    return names
