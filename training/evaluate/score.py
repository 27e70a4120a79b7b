"""`evaluate score`: automatic metrics for every system, then the LLM judge, then the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from training.evaluate.generate import EvaluateInputError, read_generations
from training.evaluate.judge import JudgeOptions, PostAnswers, run_judge
from training.evaluate.metrics import system_metrics
from training.evaluate.ranking import agreement, win_table
from training.evaluate.report import agreement_markdown, automatic_markdown, ranking_markdown, write_report


@dataclass
class ScoreOptions:
    ks: list[int] = field(default_factory=list)  # empty: 1 .. number of systems - 1
    bootstrap: int = 1000
    seed: int = 0
    judge: JudgeOptions | None = None
    judge_max_posts: int | None = None


def generation_files(inputs: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(path.glob("*.parquet")))
        elif path.is_file():
            files.append(path)
        else:
            raise EvaluateInputError(f"input not found: {path}")
    if not files:
        raise EvaluateInputError(f"no generation files (*.parquet) in {', '.join(inputs)}")
    return files


def aligned_posts(systems: dict[str, list[dict[str, Any]]]) -> tuple[list[str], int]:
    """Question ids every system answered (sorted), and how many were left out for a gap."""
    per_system = [{r["question_id"] for r in rows} for rows in systems.values()]
    common = set.intersection(*per_system)
    return sorted(common), len(set.union(*per_system) - common)


def default_ks(n_systems: int) -> list[int]:
    return list(range(1, max(2, n_systems)))


def score(inputs: list[str], out: Path, options: ScoreOptions) -> tuple[dict[str, Any], dict[str, Path]]:
    systems = read_generations(generation_files(inputs))
    names = sorted(systems)
    posts, dropped = aligned_posts(systems)
    if not posts:
        raise EvaluateInputError("the systems share no post; were they generated from the same split?")
    by_post = {s: {r["question_id"]: r for r in rows} for s, rows in systems.items()}
    automatic = {}
    for system in names:
        rows = [by_post[system][q] for q in posts]
        automatic[system] = system_metrics(
            [r["answer"] or "" for r in rows],
            [r["references"] or [] for r in rows],
            [r["format_ok"] for r in rows],
        )
        automatic[system]["errors"] = sum(1 for r in rows if r.get("error"))
    ks = options.ks or default_ks(len(names))
    report: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "systems": names,
        "posts": len(posts),
        "posts_left_out": dropped,
        "automatic": automatic,
        "judge": None,
    }
    markdown = [
        "# Empathy-QA evaluation",
        "",
        f"Systems: {', '.join(names)}. Posts answered by every system: {len(posts)}"
        + (f" ({dropped} left out: not answered by every system)." if dropped else "."),
        "",
        "## Automatic metrics",
        "",
        "Character level, against the professional answers (the reference system against the *other*",
        "professional answers of a post; n/a when there are none). BLEU-4: sentence level, add-one",
        "smoothed (NLTK method2), averaged. CoE format: share of outputs that parse as the Chain-of-Empathy.",
        "",
        *automatic_markdown(automatic),
    ]
    chart = None
    if options.judge and len(names) >= 2:
        judged = posts[: options.judge_max_posts] if options.judge_max_posts else posts
        items = [
            PostAnswers(q, by_post[names[0]][q]["prompt"], {s: by_post[s][q]["answer"] or "" for s in names})
            for q in judged
        ]
        judgements, log = run_judge(items, names, options.judge)
        table = win_table(judgements, names, ks, options.bootstrap, options.seed) if judgements else {}
        failed = [e for e in log if not e["ranking"]]
        consistency = agreement(judgements, names) if judgements else None
        report["judge"] = {
            "model": options.judge.model,
            "note": options.judge.note or None,
            "base_url": options.judge.base_url,
            "orders_per_post": options.judge.orders,
            "posts": len(judged),
            "calls": len(log),
            "failed_calls": len(failed),
            "failures": [
                {"question_id": e["question_id"], "order": e["order_index"], "error": e["error"]}
                for e in failed
            ],
            "ks": ks,
            "table": table,
            "position_consistency": consistency,
        }
        _write_log(out / "judge_calls.jsonl", log)
        markdown += [
            "",
            "## LLM judge",
            "",
            f"Judge `{options.judge.model}`"
            + (f" **({options.judge.note})**" if options.judge.note else "")
            + f"; each post shown in {options.judge.orders} answer orders "
            f"(position swapping), {len(log)} calls, {len(failed)} without a valid ranking. "
            "Ranks are averaged over orders, then over the four dimensions; ties share places.",
            "",
            *ranking_markdown(table, ks),
        ]
        if consistency:
            markdown += ["", "Agreement of the judge with itself across answer orders:", ""]
            markdown += agreement_markdown(consistency, "orders")
        chart = table
    elif options.judge:
        markdown += ["", "## LLM judge", "", "Skipped: ranking needs at least two systems."]
    else:
        markdown += ["", "## LLM judge", "", "Not run (give --judge-model to rank the systems)."]
    files = write_report(out, report, markdown, chart, ks, "LLM judge: Win@K per system")
    return report, files


def _write_log(path: Path, log: list[dict[str, Any]]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for entry in log:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
