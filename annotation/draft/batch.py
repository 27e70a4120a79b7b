"""`python -m annotation batch {export,submit,poll,ingest}`: CoE drafting through the OpenAI Batch API.

export  CURATED --out FILE.jsonl --model M   one request per pair (custom_id = pair id), plus FILE.manifest.json
submit  FILE.jsonl [--wait --out DIR]        upload and start a batch where the endpoint has /v1/batches
poll    FILE.jsonl [--wait --out DIR]        status; when done, download FILE.results.jsonl (and ingest)
ingest  RESULTS.jsonl --manifest M --out DIR  validate replies into the same CoE records as `draft`
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import openai

from annotation.draft.llm import GenParams
from annotation.draft.prompting import MODES, ReplyError, load_prompt, parse_reply, response_format
from annotation.draft.selection import InputError, read_curated, select_pairs
from annotation.draft.store import DraftStore, cache_key, now_iso
from empathyqa.endpoint import sync_client
from empathyqa.io import iter_jsonl, write_json_atomic
from empathyqa.progress import print_summary


def _paths(batch_file: Path) -> dict[str, Path]:
    stem = batch_file.with_suffix("")
    return {
        "manifest": stem.with_suffix(".manifest.json"),
        "state": stem.with_suffix(".batch.json"),
        "results": stem.with_suffix(".results.jsonl"),
    }


def export(args: argparse.Namespace) -> int:
    prompt = load_prompt(args.prompt)
    params = GenParams(args.temperature, args.max_tokens)
    pairs, skipped = select_pairs(read_curated(args.curated), args.answers_per_question, args.include_risk)
    if args.limit:
        pairs = pairs[: args.limit]
    store = DraftStore(args.drafted) if args.drafted else None
    manifest = {
        "model": args.model,
        "prompt_version": prompt.version,
        "mode": args.response_format,
        "pairs": {},
    }
    cached = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        for pair in pairs:
            key = cache_key(
                prompt.version, args.model, params.as_dict(), f"{pair.title}\n{pair.question}", pair.answer
            )
            if store and store.cached(key):
                cached += 1
                continue
            body = {
                "model": args.model,
                "messages": prompt.messages(pair.title, pair.question, pair.answer, args.response_format),
                **params.as_dict(),
            }
            if response_format(args.response_format):
                body["response_format"] = response_format(args.response_format)
            line = {"custom_id": pair.pair_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            manifest["pairs"][pair.pair_id] = {
                "question_id": pair.question_id,
                "answer_id": pair.answer_id,
                "cache_key": key,
            }
    if store:
        store.close()
    write_json_atomic(manifest, _paths(args.out)["manifest"])
    rows = {"pairs selected": len(pairs), **{f"skipped: {k}": v for k, v in sorted(skipped.items())}}
    rows |= {
        "already drafted (cached)": cached,
        "requests written": len(manifest["pairs"]),
        "file": str(args.out),
    }
    print_summary(f"batch export ({prompt.version}, {args.model})", rows)
    return 0


def ingest(results: Path, manifest_path: Path, out_dir: Path) -> int:
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read manifest {manifest_path}: {exc}", file=sys.stderr)
        return 2
    store = DraftStore(out_dir)
    counts: Counter = Counter()
    seen = set()
    for lineno, line, error in iter_jsonl(results):
        if error:
            counts["unreadable lines"] += 1
            print(f"warning: {results}:{lineno}: {error}", file=sys.stderr)
            continue
        custom_id = line.get("custom_id")
        pair = manifest["pairs"].get(custom_id)
        if pair is None:
            counts["unknown custom_id"] += 1
            continue
        seen.add(custom_id)
        reason, detail, raw = _check(line, manifest["mode"])
        if reason == "drafted":
            body = line["response"]["body"]
            usage = body.get("usage") or {}
            store.add_draft(
                {
                    **pair,
                    **detail,
                    "model": manifest["model"],
                    "prompt_version": manifest["prompt_version"],
                    "status": "draft",
                    "draft": detail,
                    "usage": {k: int(usage.get(k) or 0) for k in ("prompt_tokens", "completion_tokens")},
                    "raw_reply": raw,
                    "created_at": now_iso(),
                }
            )
            counts["drafted"] += 1
            counts["tokens in"] += int(usage.get("prompt_tokens") or 0)
            counts["tokens out"] += int(usage.get("completion_tokens") or 0)
        else:
            store.add_failure(
                {
                    "pair_id": custom_id, **{k: pair[k] for k in ("question_id", "answer_id", "cache_key")},
                    "reason": reason, "last_error": detail, "model": manifest["model"],
                    "prompt_version": manifest["prompt_version"], "raw_reply": raw, "created_at": now_iso(),
                }
            )  # fmt: skip
            counts[f"failed: {reason}"] += 1
    for custom_id in sorted(set(manifest["pairs"]) - seen):
        pair = manifest["pairs"][custom_id]
        store.add_failure({"pair_id": custom_id, **pair, "reason": "missing_in_results", "last_error": str(results),
                           "model": manifest["model"], "prompt_version": manifest["prompt_version"], "created_at": now_iso()})  # fmt: skip
        counts["failed: missing_in_results"] += 1
    coe, failures = store.compact()
    print_summary("batch ingest", {"requests in manifest": len(manifest["pairs"]), **dict(sorted(counts.items())),
                                   "records in coe.parquet": len(store.records), "output": f"{coe}, {failures}"})  # fmt: skip
    return 0


def _check(line: dict, mode: str) -> tuple[str, dict | str, str | None]:
    """('drafted', layers, raw) or (failure reason, error text, raw). Batch gets no repair round."""
    if line.get("error"):
        return "batch_error", json.dumps(line["error"], ensure_ascii=False)[:500], None
    response = line.get("response") or {}
    status = response.get("status_code")
    body = response.get("body") or {}
    if status != 200:
        return f"http_{status}", json.dumps(body, ensure_ascii=False)[:500], None
    try:
        choice = body["choices"][0]
        content = choice["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return "bad_response", "no choices[0].message in the response body", None
    if choice.get("finish_reason") in ("length", "content_filter"):
        return choice["finish_reason"], f"finish_reason={choice['finish_reason']}", content
    try:
        return "drafted", parse_reply(content, mode).layers(), content
    except ReplyError as exc:
        return (
            "invalid_reply_no_repair",
            f"{exc} (batch has no repair round: `annotation draft` retries these)",
            content,
        )


def submit(args: argparse.Namespace) -> int:
    client = sync_client(args.base_url)
    paths = _paths(args.file)
    try:
        with open(args.file, "rb") as fh:
            uploaded = client.files.create(file=fh, purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    except openai.NotFoundError:
        print(f"error: {client.base_url} offers no Batch API (/v1/files, /v1/batches); use `annotation draft`", file=sys.stderr)  # fmt: skip
        return 1
    write_json_atomic(
        {"batch_id": batch.id, "input_file_id": uploaded.id, "base_url": str(client.base_url)}, paths["state"]
    )
    print(f"submitted batch {batch.id} ({batch.status}); state in {paths['state']}", file=sys.stderr)
    return poll(args) if args.wait else 0


def poll(args: argparse.Namespace) -> int:
    paths = _paths(args.file)
    try:
        state = json.loads(paths["state"].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print(
            f"error: no submitted batch recorded in {paths['state']}; run `batch submit` first",
            file=sys.stderr,
        )
        return 2
    client = sync_client(args.base_url or state.get("base_url"))
    while True:
        batch = client.batches.retrieve(state["batch_id"])
        counts = batch.request_counts
        print(
            f"batch {batch.id}: {batch.status}" + (f" ({counts.completed}/{counts.total})" if counts else ""),
            file=sys.stderr,
        )
        if batch.status in ("failed", "expired", "cancelled"):
            print(f"error: batch {batch.id} ended {batch.status}: {batch.errors}", file=sys.stderr)
            return 1
        if batch.status == "completed" or not args.wait:
            break
        time.sleep(args.interval)
    if batch.status != "completed":
        return 0
    if not batch.output_file_id:
        print(f"error: batch {batch.id} completed without an output file", file=sys.stderr)
        return 1
    paths["results"].write_bytes(client.files.content(batch.output_file_id).read())
    print(f"results in {paths['results']}", file=sys.stderr)
    return ingest(paths["results"], paths["manifest"], args.out) if args.out else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m annotation batch", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write OpenAI Batch JSONL for the selected pairs")
    ex.add_argument("curated", help="curated.parquet or its folder")
    ex.add_argument("--out", type=Path, required=True, help="batch JSONL file to write")
    ex.add_argument("--model", required=True)
    ex.add_argument("--answers-per-question", type=int, default=1)
    ex.add_argument("--limit", type=int, default=0)
    ex.add_argument("--include-risk", action="store_true")
    ex.add_argument("--prompt", default="coe_v1")
    ex.add_argument("--response-format", choices=MODES, default="json_schema")
    ex.add_argument("--temperature", type=float, default=0.3)
    ex.add_argument("--max-tokens", type=int, default=1200)
    ex.add_argument(
        "--drafted", type=Path, help="a draft output folder: pairs already drafted there are left out"
    )
    for name, text in (
        ("submit", "upload FILE and create a batch"),
        ("poll", "check the batch; download results when done"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("file", type=Path, help="the exported batch JSONL")
        p.add_argument(
            "--base-url", default="", help="endpoint (default $OPENAI_BASE_URL, or the one submitted to)"
        )
        p.add_argument("--wait", action="store_true", help="poll until the batch ends")
        p.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
        p.add_argument("--out", type=Path, help="ingest the results into this draft folder when done")
    ing = sub.add_parser("ingest", help="turn a Batch results file into CoE records")
    ing.add_argument("results", type=Path)
    ing.add_argument("--manifest", type=Path, required=True, help="FILE.manifest.json written by export")
    ing.add_argument(
        "--out", type=Path, required=True, help="draft output folder (coe.parquet, failures.parquet)"
    )
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "export":
            return export(args)
        if args.command == "ingest":
            if not args.results.exists():
                raise InputError(f"results file not found: {args.results}")
            return ingest(args.results, args.manifest, args.out)
        if args.command == "submit":
            if not args.file.exists():
                raise InputError(f"batch file not found: {args.file}")
            return submit(args)
        return poll(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except openai.APIConnectionError as exc:
        print(f"error: endpoint unreachable: {exc}", file=sys.stderr)
        return 1
