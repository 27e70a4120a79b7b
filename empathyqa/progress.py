"""Progress bars and end-of-run summaries shared by the long-running stages."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "rec") -> Iterator[T]:
    """tqdm on stderr; quiet when stderr is not a terminal unless EMPATHYQA_PROGRESS=1."""
    yield from progress_bar(desc, total, unit, items)


def progress_bar(desc: str, total: int | None, unit: str = "rec", items: Iterable[T] | None = None) -> tqdm:
    """The bar itself, for work that finishes out of order (call `.update()` per item)."""
    disable = not (sys.stderr.isatty() or os.environ.get("EMPATHYQA_PROGRESS") == "1")
    return tqdm(items, desc=desc, total=total, unit=unit, disable=disable, dynamic_ncols=True)


def print_summary(title: str, rows: Mapping[str, Any], file=None) -> None:
    """A small aligned table: counts in, out, dropped and why."""
    file = file or sys.stderr
    width = max((len(k) for k in rows), default=0)
    print(f"== {title} ==", file=file)
    for key, value in rows.items():
        if isinstance(value, float):
            value = f"{value:,.2f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        print(f"  {key.ljust(width)}  {value}", file=file)


def summary_figures(text: str) -> dict[str, float]:
    """The numeric rows of the summaries print_summary wrote into `text` (a command's output)."""
    figures = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition("  ")
        try:
            figures[key.strip()] = float(value.replace(",", ""))
        except ValueError:
            pass
    return figures
