"""The step pipeline, in datatrove's shape: small steps over batches of records, apart from the executor.

- `Step.process(batch, ctx)` turns a list of thread dicts into a list of thread dicts; the base class
  counts records in and out and times the step.
- `Filter.filter(doc)` and `AnswerFilter.filter_answer(answer, doc)` return `bool` or
  `(bool, reason)`; what they drop goes to the rejects with the step name and reason.
- `run_batch(steps, batch)` runs a chain on one batch and returns a `BatchResult`: a pure function of
  its input, so any executor can call it (LocalExecutor below with multiprocessing; a Ray executor with
  `Dataset.map_batches`).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Record = dict[str, Any]
Batch = list[Record]


@dataclass
class StepStats:
    records_in: int = 0
    records_out: int = 0
    seconds: float = 0.0
    dropped: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)

    def merge(self, other: StepStats) -> None:
        self.records_in += other.records_in
        self.records_out += other.records_out
        self.seconds += other.seconds
        self.dropped.update(other.dropped)
        self.counters.update(other.counters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "in": self.records_in,
            "out": self.records_out,
            "dropped": dict(sorted(self.dropped.items())),
            "counters": dict(sorted(self.counters.items())),
        }


def public_view(obj: Any) -> Any:
    """A record without its working fields (names starting with `_`), JSON-ready."""
    if isinstance(obj, dict):
        return {k: public_view(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list | tuple):
        return [public_view(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def reject_row(
    question_id: str | None, answer_id: str | None, stage: str, reason: str, detail: str, record: Any
) -> Record:
    return {
        "question_id": question_id,
        "answer_id": answer_id,
        "stage": stage,
        "reason": reason,
        "detail": detail,
        "record": json.dumps(public_view(record), ensure_ascii=False, sort_keys=True),
    }


@dataclass
class Context:
    """What a step reports while it runs on one batch."""

    rejects: list[Record] = field(default_factory=list)
    stats: dict[str, StepStats] = field(default_factory=dict)

    def step(self, name: str) -> StepStats:
        return self.stats.setdefault(name, StepStats())

    def reject(
        self, stage: str, doc: Record, reason: str, detail: str = "", answer: Record | None = None
    ) -> None:
        answer_id = answer.get("answer_id") if answer else None
        self.rejects.append(
            reject_row(doc.get("question_id"), answer_id, stage, reason, detail, answer or doc)
        )
        self.step(stage).dropped[reason if answer is None else f"answer:{reason}"] += 1

    def count(self, stage: str, key: str, n: int = 1) -> None:
        self.step(stage).counters[key] += n


class Step:
    name = "step"

    def process(self, batch: Batch, ctx: Context) -> Batch:
        raise NotImplementedError

    def __call__(self, batch: Batch, ctx: Context) -> Batch:
        started = time.perf_counter()
        out = self.process(batch, ctx)
        stats = ctx.step(self.name)
        stats.records_in += len(batch)
        stats.records_out += len(out)
        stats.seconds += time.perf_counter() - started
        return out


class MapStep(Step):
    """A step that changes each record in place and drops none."""

    def apply(self, doc: Record, ctx: Context) -> None:
        raise NotImplementedError

    def process(self, batch: Batch, ctx: Context) -> Batch:
        for doc in batch:
            self.apply(doc, ctx)
        return batch


def _verdict(result: bool | tuple[bool, str], default_reason: str) -> tuple[bool, str]:
    if isinstance(result, tuple):
        return result
    return result, default_reason


class Filter(Step):
    """Keeps threads for which `filter(doc)` is true; the rest go to the rejects with their reason."""

    def filter(self, doc: Record) -> bool | tuple[bool, str]:
        raise NotImplementedError

    def process(self, batch: Batch, ctx: Context) -> Batch:
        kept = []
        for doc in batch:
            keep, reason = _verdict(self.filter(doc), self.name)
            if keep:
                kept.append(doc)
            else:
                ctx.reject(self.name, doc, reason)
        return kept


class AnswerFilter(Step):
    """Keeps answers for which `filter_answer(answer, doc)` is true; threads are kept (see NoAnswers)."""

    def filter_answer(self, answer: Record, doc: Record) -> bool | tuple[bool, str]:
        raise NotImplementedError

    def process(self, batch: Batch, ctx: Context) -> Batch:
        for doc in batch:
            kept = []
            for answer in doc["answers"]:
                keep, reason = _verdict(self.filter_answer(answer, doc), self.name)
                if keep:
                    kept.append(answer)
                else:
                    ctx.reject(self.name, doc, reason, answer=answer)
            ctx.count(self.name, "answers_in", len(doc["answers"]))
            ctx.count(self.name, "answers_out", len(kept))
            doc["answers"] = kept
        return batch


@dataclass
class BatchResult:
    records: Batch
    rejects: list[Record]
    stats: dict[str, StepStats]


def run_batch(steps: list[Step], batch: Batch) -> BatchResult:
    ctx = Context()
    for step in steps:
        batch = step(batch, ctx)
    return BatchResult(batch, ctx.rejects, ctx.stats)


def merge_stats(into: dict[str, StepStats], stats: dict[str, StepStats]) -> None:
    for name, step_stats in stats.items():
        into.setdefault(name, StepStats()).merge(step_stats)


# --------------------------------------------------------------------------- executors
StepFactory = Callable[[Any], list[Step]]
_worker_steps: list[Step] = []


def _init_worker(factory: StepFactory, config: Any) -> None:
    global _worker_steps
    _worker_steps = factory(config)


def _run_in_worker(batch: Batch) -> BatchResult:
    return run_batch(_worker_steps, batch)


class LocalExecutor:
    """Runs the per-record steps over batches on this machine, one process per core.

    Steps are built once per worker from (factory, config), so nothing heavy crosses process
    boundaries but the batches; `imap` keeps batch order, so output is the same at any worker count.
    """

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def map_batches(
        self, factory: StepFactory, config: Any, batches: Iterable[Batch]
    ) -> Iterator[BatchResult]:
        if self.workers == 1:
            steps = factory(config)
            for batch in batches:
                yield run_batch(steps, batch)
            return
        if "fork" in mp.get_all_start_methods():
            # build once here; forked workers inherit the steps (jieba's dictionary included)
            global _worker_steps
            _worker_steps = factory(config)
            pool = mp.get_context("fork").Pool(self.workers)
        else:
            pool = mp.get_context("spawn").Pool(
                self.workers, initializer=_init_worker, initargs=(factory, config)
            )
        # Pool.imap would read the whole input ahead into its queue; a bounded window of batches in
        # flight keeps memory flat and the output in input order.
        with pool:
            pending: deque = deque()
            for batch in batches:
                pending.append(pool.apply_async(_run_in_worker, (batch,)))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
