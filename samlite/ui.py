"""Rendering for the CLI: rich tables and messages on stderr, results on stdout.

Only `samlite.cli` imports this module. Tables go to stderr when they are progress or
decoration, and to stdout when they are the command's result (listings without --output json).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table

# Piped output keeps long values (URLs, ARNs) on one line instead of wrapping at 80 columns.
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def print_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None,
               to_stderr: bool = False) -> None:
    (err if to_stderr else out).print(table(columns, rows, title))


def info(message: str) -> None:
    err.print(message)


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/yellow] {message}")


def success(message: str) -> None:
    err.print(f"[green]{message}[/green]")
