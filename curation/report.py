"""report.json and report.md: counts per stage and reason, PII per kind, clusters, risk, lengths, time."""

from __future__ import annotations

from collections import Counter
from typing import Any

from curation.pipeline import Record, StepStats

LENGTH_BUCKETS = (0, 50, 100, 200, 400, 800, 1600, 3200)


def histogram(values: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for low, high in zip(LENGTH_BUCKETS, (*LENGTH_BUCKETS[1:], None), strict=True):
        label = f"{low}-{high - 1}" if high else f"{low}+"
        out[label] = sum(1 for v in values if v >= low and (high is None or v < high))
    return out


def build_report(
    *,
    inputs: list[str],
    read: dict[str, Any],
    stages: dict[str, StepStats],
    curated: list[Record],
    rejects: list[Record],
    clusters: dict[str, Any],
    timing: dict[str, float],
    settings: dict[str, Any],
) -> dict[str, Any]:
    pii_kinds: Counter = Counter()
    for name in ("pii",):
        if name in stages:
            pii_kinds.update(stages[name].counters)
    answers = [a for doc in curated for a in doc["answers"]]
    risk_levels = Counter(doc["risk_level"] for doc in curated)
    risk_categories = Counter(f["category"] for doc in curated for f in doc["risk_flags"])
    reasons = Counter(f"{r['stage']}:{r['reason']}" for r in rejects)
    return {
        "inputs": inputs,
        "settings": settings,
        "counts": {
            "threads_read": read["rows"],
            "bad_input": len(read["bad"]),
            "threads_out": len(curated),
            "answers_out": len(answers),
            "rejects": len(rejects),
            "taken_down": stages["takedown"].dropped["taken_down"] if "takedown" in stages else 0,
            "same_id_older_crawls": clusters.get("same_id_older_crawls", 0),
            "answers_merged_from_duplicates": clusters.get("answers_merged_from_duplicates", 0),
        },
        "bad_input": read["bad"][:200],
        "stages": {name: stats.to_dict() for name, stats in stages.items()},
        "stage_order": list(stages),  # report.json is written with sorted keys; this keeps the run order
        "rejects_by_reason": dict(sorted(reasons.items())),
        "pii_found": dict(sorted(pii_kinds.items())),
        "duplicates": clusters,
        "risk": {
            "threads_by_level": dict(sorted(risk_levels.items())),
            "flags_by_category": dict(sorted(risk_categories.items())),
        },
        "topics": dict(sorted(Counter(f"{d['topic']}/{d['subtopic']}" for d in curated).items())),
        "lengths": {
            "question_chars": histogram([len(d["title"]) + len(d["body"]) for d in curated]),
            "answer_chars": histogram([len(a["body"]) for a in answers]),
        },
        # the only part that changes between identical runs
        "timing": timing,
    }


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    c = report["counts"]
    parts = [
        "# Curation report",
        "",
        f"Threads read {c['threads_read']:,}, bad input {c['bad_input']:,}, threads out {c['threads_out']:,}, "
        f"answers out {c['answers_out']:,}, rejects {c['rejects']:,}.",
        "",
        f"Taken down (takedown list) {c['taken_down']:,}; questions crawled more than once "
        f"{report['duplicates'].get('same_id_questions', 0):,} (older crawls dropped "
        f"{c['same_id_older_crawls']:,}); answers merged from duplicate questions "
        f"{c['answers_merged_from_duplicates']:,}.",
        "",
        "## Stages",
        _table(
            [
                (
                    name,
                    s["in"],
                    s["out"],
                    ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "-",
                    f"{report['timing'].get(name, 0.0):.2f}",
                )
                for name, s in report["stages"].items()
            ],
            ("stage", "in", "out", "dropped (reason count)", "seconds"),
        ),
        "",
        "## Rejects by reason",
        _table(sorted(report["rejects_by_reason"].items()), ("stage:reason", "count")),
        "",
        "## PII found",
        _table(sorted(report["pii_found"].items()), ("kind", "count")) if report["pii_found"] else "none",
        "",
        "## Duplicates",
        _table(sorted(report["duplicates"].items()), ("measure", "value")),
        "",
        "## Risk",
        _table(sorted(report["risk"]["threads_by_level"].items()), ("level", "threads")),
        "",
        "## Topics",
        _table(sorted(report["topics"].items()), ("topic/subtopic", "threads")),
        "",
        "## Lengths",
        _table(list(report["lengths"]["question_chars"].items()), ("question chars", "threads")),
        "",
        _table(list(report["lengths"]["answer_chars"].items()), ("answer chars", "answers")),
        "",
    ]
    if report["bad_input"]:
        parts += [
            "## Bad input",
            _table([(b["where"], b["error"]) for b in report["bad_input"]], ("where", "error")),
            "",
        ]
    parts += ["## Time", _table(sorted(report["timing"].items()), ("stage", "seconds")), ""]
    return "\n".join(parts)
