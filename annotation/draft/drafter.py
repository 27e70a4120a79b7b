"""`python -m annotation draft CURATED --out DIR --model NAME`: an LLM drafts the Chain-of-Empathy.

Resumable: drafts are appended to DIR/parts/*.jsonl as they arrive and folded into DIR/coe.parquet
at the end; a rerun requests nothing whose cache key (prompt version, model, generation parameters,
question and answer text) already has a valid draft.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from annotation.draft.costs import TYPICAL_REPLY_TOKENS, cost_usd, count_tokens, load_prices, rough_tokens
from annotation.draft.llm import (
    Drafter,
    DraftFailure,
    EndpointRefused,
    GenParams,
    RateLimiter,
    RetryPolicy,
    load_probe,
    make_client,
    probe_mode,
    save_probe,
)
from annotation.draft.prompting import DEFAULT_PROMPT, MODES, PromptSpec, load_prompt
from annotation.draft.selection import InputError, Pair, read_curated, select_pairs
from annotation.draft.store import DraftStore, StoreBusy, cache_key, now_iso
from annotation.draft.timeline import Timeline
from empathyqa.config import add_dataclass_arguments, dataclass_from_args
from empathyqa.progress import print_summary
from empathyqa.schema import STAND_IN_MODEL

PROBE_FILE = "endpoint_probe.json"


@dataclass
class DraftConfig:
    model: str = field(default="", metadata={"help": "model name at the endpoint (required)"})
    base_url: str = field(default="", metadata={"help": "OpenAI-compatible endpoint; else $OPENAI_BASE_URL"})
    concurrency: int = field(default=16, metadata={"help": "requests in flight at once"})
    answers_per_question: int = field(
        default=1, metadata={"help": "K: at most this many answers per question"}
    )
    limit: int = field(default=0, metadata={"help": "draft at most N pairs (0: all)"})
    include_risk: bool = field(default=False, metadata={"help": "also draft risk-flagged threads"})
    dry_run: bool = field(default=False, metadata={"help": "estimate tokens and cost, call nothing"})
    prompt: str = field(
        default=DEFAULT_PROMPT, metadata={"help": "prompt file stem in annotation/draft/prompts/ or a path"}
    )
    response_format: str = field(
        default="auto",
        metadata={
            "help": "structured output mode; auto probes the endpoint once",
            "choices": ["auto", *MODES],
        },
    )
    temperature: float = field(default=0.3, metadata={"help": "sampling temperature"})
    max_tokens: int = field(default=1200, metadata={"help": "reply token cap per request"})
    timeout: float = field(default=120.0, metadata={"help": "seconds per request"})
    max_retries: int = field(default=6, metadata={"help": "retries per request on 429/5xx/timeouts"})
    backoff_base: float = field(
        default=0.5, metadata={"help": "first backoff in seconds (doubles, with jitter)"}
    )
    backoff_max: float = field(default=30.0, metadata={"help": "longest backoff in seconds"})
    rpm: float = field(default=0.0, metadata={"help": "requests per minute limit (0: none)"})
    tpm: float = field(default=0.0, metadata={"help": "tokens per minute limit (0: none)"})
    retry_failed: bool = field(
        default=False,
        metadata={
            "help": "also re-request pairs that failed before with length/content_filter/invalid_reply/4xx"
        },
    )
    prices: str = field(
        default="", metadata={"help": "YAML of USD per 1M tokens per model (default: bundled)"}
    )


@dataclass
class Job:
    key: str
    pairs: list[Pair]  # pairs with the same texts share one request

    @property
    def first(self) -> Pair:
        return self.pairs[0]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m annotation draft",
        description=__doc__.split("\n\n")[0] + " Key from $OPENAI_API_KEY.",
        epilog=__doc__.split("\n\n")[1]
        + " Prices per model (for the cost estimate) are in annotation/draft/prices.yaml or --prices.",
    )
    parser.add_argument("curated", help="curated set: curated.parquet or the folder holding it")
    parser.add_argument(
        "--out", required=True, type=Path, help="output folder (coe.parquet, failures.parquet)"
    )
    add_dataclass_arguments(parser, DraftConfig)
    return parser


SETTLED_REASONS = ("length", "content_filter", "invalid_reply")


def is_settled(failure: dict | None) -> bool:
    """A failure that would most likely repeat with the same request: not retried on a rerun by default."""
    if not failure:
        return False
    reason = failure.get("reason") or ""
    return reason in SETTLED_REASONS or (
        reason.startswith("http_4") and reason not in ("http_408", "http_409")
    )


def plan_jobs(
    pairs: list[Pair],
    store: DraftStore,
    prompt: PromptSpec,
    config: DraftConfig,
    params: GenParams,
) -> tuple[list[Job], list[Pair], Counter]:
    """(requests to make, pairs served from the cache, pairs left alone after a settled failure by reason)."""
    jobs: dict[str, Job] = {}
    cached: list[Pair] = []
    settled: Counter = Counter()
    for pair in pairs:
        key = cache_key(prompt.version, config.model, params.as_dict(), _question_text(pair), pair.answer)
        failure = store.failures.get(pair.pair_id)
        existing = store.records.get(pair.pair_id)
        if existing and existing.get("status") not in (None, "draft"):
            settled["already reviewed"] += 1  # a human verdict is never overwritten by a new draft
        elif store.cached(key):
            cached.append(pair)
            if pair.pair_id not in store.records or store.records[pair.pair_id].get("cache_key") != key:
                store.add_draft(_record_for(pair, store.cached(key)))  # same texts drafted under another id
        elif not config.retry_failed and is_settled(failure) and failure.get("cache_key") == key:
            settled[f"failed before: {failure['reason']}"] += 1
        else:
            jobs.setdefault(key, Job(key, [])).pairs.append(pair)
    return list(jobs.values()), cached, settled


def _question_text(pair: Pair) -> str:
    return f"{pair.title}\n{pair.question}"


def _record_for(pair: Pair, source: dict) -> dict:
    return {**source, "question_id": pair.question_id, "answer_id": pair.answer_id}


def dry_run(jobs: list[Job], cached: int, prompt: PromptSpec, config: DraftConfig, prices: dict) -> dict:
    prompt_tokens = 0
    for job in tqdm(jobs, desc="estimating", unit="pair", disable=not sys.stderr.isatty()):
        messages = prompt.messages(job.first.title, job.first.question, job.first.answer, "json_object")
        prompt_tokens += sum(count_tokens(m["content"]) + 4 for m in messages)
    typical, ceiling = TYPICAL_REPLY_TOKENS * len(jobs), config.max_tokens * len(jobs)
    cost, cost_max = (
        cost_usd(prices, config.model, prompt_tokens, typical),
        cost_usd(prices, config.model, prompt_tokens, ceiling),
    )
    return {
        "requests needed": len(jobs),
        "already drafted (cached)": cached,
        "prompt tokens (Qwen tokenizer)": prompt_tokens,
        "reply tokens, typical": typical,
        "reply tokens, at max_tokens": ceiling,
        "cost USD, typical": "unknown model price" if cost is None else round(cost, 4),
        "cost USD, upper bound": "unknown model price" if cost_max is None else round(cost_max, 4),
    }


@dataclass
class RunState:
    """What a run has done so far; outlives an interrupted event loop so the summary can report it."""

    failed: Counter = field(default_factory=Counter)
    drafted: int = 0
    drafter: Drafter | None = None
    fatal: DraftFailure | None = None  # the endpoint refused the run (bad key, unknown model)
    timeline: Timeline | None = None  # request spans, loop lag, CPU: the run's efficiency figures


async def draft_all(
    jobs: list[Job], store: DraftStore, drafter: Drafter, config: DraftConfig, state: RunState
) -> int:
    failed = state.failed
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    bar = tqdm(
        total=sum(len(j.pairs) for j in jobs),
        desc="drafting",
        unit="pair",
        disable=not (sys.stderr.isatty() or os.environ.get("EMPATHYQA_PROGRESS") == "1"),
        dynamic_ncols=True,
    )
    system_tokens = rough_tokens(drafter.prompt.system) + 100
    timeline = state.timeline = Timeline(max(1, config.concurrency))

    async def handle(job: Job) -> None:
        pair = job.first
        est = rough_tokens(pair.title + pair.question + pair.answer) + system_tokens + TYPICAL_REPLY_TOKENS
        started = time.monotonic()
        try:
            layers, reply, raw = await drafter.draft(pair.title, pair.question, pair.answer, est)
        except EndpointRefused as exc:
            state.fatal = state.fatal or exc
            while not queue.empty():  # stop handing out work; nothing is recorded against the pairs
                queue.get_nowait()
            return
        except DraftFailure as exc:
            for p in job.pairs:
                failed[exc.reason] += 1
                store.add_failure(_failure(p, job.key, config, exc.reason, exc.error, exc.raw_reply))
        except Exception as exc:  # a bug or an odd reply must cost one pair, not the run
            for p in job.pairs:
                failed["unexpected_error"] += 1
                store.add_failure(_failure(p, job.key, config, "unexpected_error", repr(exc)[:500], None))
        else:
            record = {
                **layers,
                "model": config.model,
                "prompt_version": drafter.prompt.version,
                "status": "draft",
                "draft": layers,
                "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens},
                "latency_s": round(time.monotonic() - started, 3),
                "raw_reply": raw,
                "cache_key": job.key,
                "created_at": now_iso(),
                "endpoint_model": reply.model,
                "stand_in": STAND_IN_MODEL in (reply.model, reply.fingerprint),
            }
            for p in job.pairs:
                store.add_draft({"question_id": p.question_id, "answer_id": p.answer_id, **record})
                state.drafted += 1
        timeline.add(started, time.monotonic())
        bar.update(len(job.pairs))
        bar.set_postfix(failed=sum(failed.values()), refresh=False)

    async def worker() -> None:
        while not queue.empty():
            await handle(queue.get_nowait())

    watch = asyncio.create_task(timeline.watch_loop())
    cpu0 = time.process_time()
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, config.concurrency))))
    finally:
        timeline.cpu_s = time.process_time() - cpu0
        watch.cancel()
        bar.close()
    return state.drafted


def _failure(pair: Pair, key: str, config: DraftConfig, reason: str, error: str, raw: str | None) -> dict:
    return {
        "pair_id": pair.pair_id,
        "question_id": pair.question_id,
        "answer_id": pair.answer_id,
        "reason": reason,
        "last_error": error,
        "model": config.model,
        "prompt_version": load_prompt(config.prompt).version,
        "cache_key": key,
        "raw_reply": raw,
        "created_at": now_iso(),
    }


async def run_drafting(jobs, store, config, prompt, params, base_url, api_key, state: RunState) -> None:
    retry = RetryPolicy(config.max_retries, config.backoff_base, config.backoff_max, config.timeout)
    client = make_client(base_url, api_key, config.timeout)
    try:
        drafter = Drafter(client, config.model, prompt, params, retry, RateLimiter(config.rpm, config.tpm))
        state.drafter = drafter
        endpoint = str(client.base_url)
        probe_file = store.out_dir / PROBE_FILE
        if config.response_format != "auto":
            drafter.mode, how = config.response_format, "set by --response-format"
        elif mode := load_probe(probe_file, endpoint, config.model):
            drafter.mode, how = mode, f"remembered in {probe_file}"
        else:
            mode, notes = await probe_mode(drafter)
            save_probe(probe_file, endpoint, config.model, mode, notes)
            drafter.mode, how = mode, "probed: " + "; ".join(notes)
        print(
            f"endpoint {endpoint} model {config.model}: response format {drafter.mode} ({how})",
            file=sys.stderr,
        )
        await draft_all(jobs, store, drafter, config, state)
    finally:
        await client.close()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_S = 10.0


def run_until_stopped(coro) -> bool:
    """Run the drafting; True when Ctrl-C or SIGTERM stopped it. The first signal cancels the requests in
    flight (what arrived is already on disk); later ones are ignored, so pressing Ctrl-C twice can neither
    hang the shutdown nor leave a traceback, and after STOP_GRACE_S the loop is stopped regardless."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    stopped = False
    handle_signals = threading.current_thread() is threading.main_thread()
    original = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        print("\nstopping: saving the drafts that arrived (Ctrl-C again is ignored)", file=sys.stderr)
        task.cancel()
        loop.call_later(STOP_GRACE_S, loop.stop)

    for sig in STOP_SIGNALS if handle_signals else ():
        loop.add_signal_handler(sig, stop)
    try:
        loop.run_until_complete(task)
    except (asyncio.CancelledError, RuntimeError):  # cancelled by stop(), or loop.stop() after the grace
        if not stopped:
            raise
    finally:
        for sig in STOP_SIGNALS if handle_signals else ():
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for leftover in pending:
                leftover.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=2))
            loop.close()
        finally:
            # once stopped, the run only saves and reports: late presses of Ctrl-C stay ignored till exit
            for sig, handler in original.items() if handle_signals and not stopped else ():
                signal.signal(sig, handler)
    return stopped


@contextmanager
def signals_ignored():
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = dataclass_from_args(DraftConfig, args)
    if not config.model:
        parser.error("--model is required")
    if config.concurrency < 1 or config.answers_per_question < 1 or config.limit < 0:
        parser.error("--concurrency and --answers-per-question must be >= 1, --limit >= 0")
    base_url = config.base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = os.environ.get("OPENAI_API_KEY")
    if base_url and "@" in base_url.split("//", 1)[-1].split("/", 1)[0]:
        # the HTTP client cannot send URL credentials, and they would end up in logs and state files
        print("error: --base-url must not hold a user name or password: put the key in OPENAI_API_KEY", file=sys.stderr)  # fmt: skip
        return 2
    if not config.dry_run and not base_url and not api_key:
        print(
            "error: set OPENAI_API_KEY (or point --base-url / OPENAI_BASE_URL at a local endpoint)",
            file=sys.stderr,
        )
        return 2
    started, cpu0 = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    try:
        threads = read_curated(args.curated)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    prompt = load_prompt(config.prompt)
    prices = load_prices(config.prices or None)
    params = GenParams(config.temperature, config.max_tokens)
    pairs, skipped = select_pairs(threads, config.answers_per_question, config.include_risk)
    if config.limit:
        pairs = pairs[: config.limit]
    try:
        store = DraftStore(args.out)
    except StoreBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    jobs, cached, settled = plan_jobs(pairs, store, prompt, config, params)
    summary: dict = {"threads read": len(threads), "pairs selected": len(pairs)}
    summary.update({f"skipped: {k}": v for k, v in sorted(skipped.items())})
    summary["already drafted (cached)"] = len(cached)
    summary.update({f"left alone: {k}": v for k, v in sorted(settled.items())})
    if config.dry_run:
        store.close()
        summary.update(dry_run(jobs, len(cached), prompt, config, prices))
        print_summary(f"draft dry run ({prompt.version}, {config.model}): no request made", summary)
        return 0

    state = RunState()
    interrupted, fatal = False, None
    try:
        if jobs:  # nothing to request: no client, no probe
            interrupted = run_until_stopped(
                run_drafting(jobs, store, config, prompt, params, base_url, api_key, state)
            )
    except DraftFailure as exc:  # the probe could not reach a working endpoint
        fatal = exc
    fatal = fatal or state.fatal
    with signals_ignored():  # a second Ctrl-C must not cut the compaction short
        coe, failures = store.compact()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - started
    stats, failed = (state.drafter.stats if state.drafter else None), state.failed
    summary["drafted now"] = state.drafted
    summary["failed"] = sum(failed.values())
    summary.update({f"failed: {reason}": n for reason, n in sorted(failed.items())})
    if stats:
        cost = cost_usd(prices, config.model, stats.prompt_tokens, stats.completion_tokens)
        summary.update(
            {
                "requests": stats.requests,
                "retries": stats.retries,
                **{f"retries: {k}": v for k, v in sorted(stats.retry_reasons.items())},
                "repair requests": stats.repairs,
                **(
                    {"replies without usage (tokens estimated)": stats.usage_estimated}
                    if stats.usage_estimated
                    else {}
                ),
                "tokens in": stats.prompt_tokens,
                "tokens out": stats.completion_tokens,
                "cost USD": "unknown model price" if cost is None else round(cost, 4),
            }
        )
    if stats and stats.endpoint_note:
        summary["endpoint says"] = stats.endpoint_note
    summary["wall time s"] = round(wall, 2)
    if state.timeline:
        summary.update({k: round(v, 2) for k, v in state.timeline.figures().items()})
    summary["client CPU s"] = round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 2)
    summary["records in coe.parquet"] = len(store.records)
    summary["output"] = f"{coe}, {failures}"
    print_summary(
        f"draft ({prompt.version}, {config.model})" + (" INTERRUPTED" if interrupted else ""), summary
    )
    if fatal:
        why = " (the pairs not drafted are not marked failed: fix the key or model and rerun)"
        print(f"error: {fatal.error}" + (why if isinstance(fatal, EndpointRefused) else ""), file=sys.stderr)
        return 1
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
