"""Printing answers: JSON as the API gave it (`--json`), or lines for people."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import typer


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={scalar(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(scalar(v) for v in value) or "-"
    return str(value)


def fields(value: Mapping[str, Any], names: Iterable[str] | None = None) -> None:
    """`name: value` lines, in `names`' order (every field when None)."""
    keys = list(value) if names is None else [n for n in names if n in value]
    width = max((len(k) for k in keys), default=0)
    for key in keys:
        typer.echo(f"{key.ljust(width)}  {scalar(value[key])}")


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], empty: str) -> None:
    """Aligned columns with a header; `empty` when there are no rows."""
    if not rows:
        typer.echo(empty)
        return
    cells = [[scalar(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def done(message: str) -> None:
    typer.echo(message)
