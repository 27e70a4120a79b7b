"""The dataset card (README.md of a release), generated from the rows, the inputs and the curation report.

Everything here is a function of its inputs, with no clock, so a rebuild gives the same bytes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from empathyqa.schema import LAYERS, RELEASE_SPLITS, STAND_IN_MODEL

FIELD_DOCS = {
    "id": "`{question_id}/{answer_id}`, unique in the release and stable across versions",
    "question_id": "`q-` + 16 hex of a hash of the site's question id; all answers of a question are in one split",
    "answer_id": "`a-` + 16 hex of a hash of the site's (question, answer) ids",
    "source": "the site the thread came from (spider name)",
    "topic": "primary topic assigned by curation",
    "subtopic": "sub-topic assigned by curation",
    "topic_source": "where the topic came from: `tag` (the site's tag), `classifier`, `keywords` or `default`",
    "title": "question title",
    "question": "question text (normalised, PII replaced by typed placeholders such as `<PHONE>`)",
    "answer": "answer text (normalised, PII replaced)",
    "answer_role": "`counselor`, `user` or `unknown`",
    "likes": "likes the answer had when crawled",
    "coe": "struct `l1`..`l4`: the Chain-of-Empathy layers; null for a plain QA pair",
    "coe_status": "`accepted` or `edited` (human-verified), `draft` (LLM only), null without a chain",
    "review": "struct `ratings` (reviewers' 1-5 ratings), `agreement` (verdict agreement; null without overlap)",
    "prompt": "the user turn as training sees it (`empathyqa.coe.build_prompt(title, question)`)",
    "completion": "training target: `<empathy_think>` with `<L1>`..`<L4>`, then `<answer>`; null without a chain",
    "risk_flags": "`category:level` risk flags of the question and this answer (e.g. `suicide:high`)",
    "risk_level": "the asker's risk level (title and body): `none`, `low`, `medium`, `high`",
    "dup_group": "questions linked through a near-duplicate cluster; a group never spans two splits",
    "coe_model": "the model id the drafting endpoint named; `empathyqa-offline-sample` marks stand-in text",
    "source_question_id": "(only with `--include-source-ids`) the site's `{source}:{source_id}`",
    "source_answer_id": "(only with `--include-source-ids`) the site's answer id",
    "url": "(only with `--include-source-ids`) the question's page on the site, query string dropped",
}
SOURCE_FIELDS = ("source_question_id", "source_answer_id", "url")
# Licence of the texts per site, where it is known; anything else is "unknown: see the site's terms".
LICENCES = {
    "127.0.0.1": "written for the Empathy-QA toolkit (bundled sample site, no real user's text): Apache-2.0",
    "localhost": "written for the Empathy-QA toolkit (bundled sample site, no real user's text): Apache-2.0",
}
UNKNOWN_LICENCE = "unknown: see the site's terms"
LONG_MEDIAN = 300  # characters: a text kind is called "long" only when its median reaches this

CITATION = """@article{yao2025empathyr1,
  title   = {Empathy-R1: A Chain-of-Empathy and Reinforcement Learning Framework for Long-Form Mental Health Support},
  author  = {Yao, Xianrong and She, Dong and Zhang, Chenxu and Zhang, Yimeng and Sun, Yueru and Ahmed, Noman and Gao, Yang and Jin, Zhanpeng},
  journal = {arXiv preprint arXiv:2509.14851},
  year    = {2025}
}"""

CRISIS_RESOURCES = (
    "全国心理援助热线 400-161-9995 (national psychological assistance hotline, 24 h)",
    "北京心理危机研究与干预中心 010-82951332 (Beijing Psychological Crisis Research and Intervention Center)",
    "in an emergency: 120 (ambulance) or 110 (police)",
)


@dataclass
class SourceInfo:
    domain: str
    questions: int = 0
    first_crawl: str | None = None
    last_crawl: str | None = None


@dataclass
class CardFacts:
    version: str
    rows: dict[str, list[dict[str, Any]]]  # split -> release rows
    sources: dict[str, SourceInfo]
    report: dict[str, Any] | None
    tally: Mapping[str, int]
    seed: int
    fractions: Sequence[float]
    include_drafts: bool
    plain_qa: bool
    checksums: str  # SHA256SUMS lines for the data files
    notes: list[str] = field(default_factory=list)
    agreements: list[dict[str, Any]] = field(default_factory=list)  # review pull's agreement.json files
    include_source_ids: bool = False
    allow_stand_in: bool = False
    previous: str | None = None  # name of the release whose splits were kept
    path: str = ""  # the release folder as built, for the load and verify snippets

    @property
    def release_path(self) -> str:
        return self.path or f"datasets/empathy_qa/{self.version}"


# --------------------------------------------------------------------------- small helpers
def _table(header: Sequence[str], body: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in body]
    return "\n".join(lines)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def length_stats(lengths: list[int]) -> list[Any]:
    """n, min, p25, median, p75, mean, p90, max (nearest-rank quantiles)."""
    if not lengths:
        return [0, "-", "-", "-", "-", "-", "-", "-"]
    ordered = sorted(lengths)

    def rank(q: float) -> int:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    mean = sum(ordered) / len(ordered)
    return [
        len(ordered),
        ordered[0],
        rank(0.25),
        rank(0.5),
        rank(0.75),
        f"{mean:.1f}",
        rank(0.9),
        ordered[-1],
    ]


def text_lengths(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Characters of each question (once) and each answer."""
    return {
        "question": [len(r["question"]) for r in _questions(rows).values()],
        "answer": [len(r["answer"]) for r in rows],
    }


def describe_length(name: str, lengths: list[int]) -> str:
    """'long answers (median 554 characters, quartiles 380-760)': "long" only where the median is."""
    if not lengths:
        return f"no {name}s"
    stats = length_stats(lengths)
    long = "long " if stats[3] >= LONG_MEDIAN else ""
    return f"{long}{name}s (median {stats[3]:,} characters, quartiles {stats[2]:,}-{stats[4]:,})"


def _all_rows(facts: CardFacts) -> list[dict[str, Any]]:
    return [row for split in RELEASE_SPLITS for row in facts.rows.get(split, [])]


def _questions(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["question_id"]: row for row in rows}


def _status_counts(rows: Iterable[dict[str, Any]]) -> Counter:
    return Counter(row["coe_status"] or "none (plain QA)" for row in rows)


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M" if n < 1_000_000 else "n>1M"


# --------------------------------------------------------------------------- sections
def _loadable_splits(facts: CardFacts) -> list[str]:
    """Splits with rows: Hugging Face `datasets` refuses a split that has none."""
    return [s for s in RELEASE_SPLITS if facts.rows.get(s)]


def _front_matter(facts: CardFacts) -> str:
    splits = "\n".join(f"  - split: {s}\n    path: {s}.parquet" for s in _loadable_splits(facts))
    return f"""---
pretty_name: Empathy-QA
language:
- zh
license: other
license_name: empathy-qa-research-only
task_categories:
- text-generation
- question-answering
tags:
- mental-health
- counseling
- empathy
- chain-of-empathy
size_categories:
- {size_category(len(_all_rows(facts)))}
configs:
- config_name: default
  data_files:
{splits}
---"""


def _sources_section(facts: CardFacts) -> str:
    body = [
        [
            name,
            info.domain,
            info.questions,
            info.first_crawl or "-",
            info.last_crawl or "-",
            LICENCES.get(info.domain.rsplit(":", 1)[0], UNKNOWN_LICENCE),
        ]
        for name, info in sorted(facts.sources.items())
    ]
    return "## Sources, crawl dates and licences\n\n" + _table(
        [
            "source",
            "site",
            "released questions",
            "first crawled (UTC)",
            "last crawled (UTC)",
            "licence of the texts",
        ],
        body,
    )


def _counts_section(facts: CardFacts) -> str:
    body = []
    totals = Counter()
    for split in RELEASE_SPLITS:
        rows = facts.rows.get(split, [])
        counts = Counter(
            questions=len(_questions(rows)),
            answers=len(rows),
            with_coe=sum(1 for r in rows if r["coe"] is not None),
        )
        totals.update(counts)
        body.append(_count_row(split, counts))
    body.append(_count_row("**total**", totals))
    ratio = totals["answers"] / totals["questions"] if totals["questions"] else 0.0
    return (
        "## Counts\n\nOne row per (question, answer) pair.\n\n"
        + _table(
            ["split", "questions", "answers (rows)", "with CoE", "plain QA", "answers per question"], body
        )
        + f"\n\n{totals['questions']:,} questions and {totals['answers']:,} answers "
        f"({ratio:.2f} answers per question)."
    )


def _count_row(name: str, counts: Counter) -> list[Any]:
    per_question = f"{counts['answers'] / counts['questions']:.2f}" if counts["questions"] else "-"
    plain = counts["answers"] - counts["with_coe"]
    return [name, counts["questions"], counts["answers"], counts["with_coe"], plain, per_question]


def _status_section(facts: CardFacts) -> str:
    rows = _all_rows(facts)
    counts = _status_counts(rows)
    order = ["accepted", "edited", "draft", "none (plain QA)"]
    body = [[s, counts[s], _pct(counts[s], len(rows))] for s in order if s in counts]
    drafts = (
        "Drafts (LLM only, not human-verified) are **included** in this release (`--include-drafts`)."
        if facts.include_drafts
        else "Only human-verified chains (accepted or edited) are released; drafts are held back."
    )
    text = (
        "## Chain-of-Empathy status\n\n"
        + _table(["coe_status", "rows", "share"], body)
        + f"\n\n{drafts} Chains rejected in review are never released (the pair is left out)."
    )
    models = Counter(r["coe_model"] for r in rows if r["coe"] is not None)
    if models:
        text += "\n\nWho drafted the chains (`coe_model`, the model id the endpoint's reply named):\n\n"
        text += _table(["coe_model", "rows"], sorted(models.items(), key=lambda i: (-i[1], str(i[0]))))
    stand_in = models.get(STAND_IN_MODEL, 0)
    if stand_in:
        text += (
            f"\n\n**{stand_in:,} chains are stand-in text, not LLM drafts** (`coe_model` "
            f"`{STAND_IN_MODEL}`): the offline sample endpoint wrote them from hand-written drafts of the "
            "bundled sample posts or from templates filled with phrases of the post, so the demo runs "
            "without a model. They were released on request (`--allow-stand-in`); do not train or "
            "evaluate on them as if a model or a person had written them."
        )
    return text


def _topic_section(facts: CardFacts) -> str:
    questions = Counter()
    answers = Counter()
    per_split = {split: Counter() for split in RELEASE_SPLITS}
    subtopics = set()
    for split in RELEASE_SPLITS:
        rows = facts.rows.get(split, [])
        for row in _questions(rows).values():
            questions[row["topic"] or "(none)"] += 1
            per_split[split][row["topic"] or "(none)"] += 1
        for row in rows:
            answers[row["topic"] or "(none)"] += 1
            if row["subtopic"]:
                subtopics.add((row["topic"], row["subtopic"]))
    total = sum(questions.values())
    body = [
        [topic, n, _pct(n, total), answers[topic], *(per_split[s][topic] for s in RELEASE_SPLITS)]
        for topic, n in sorted(questions.items(), key=lambda item: (-item[1], item[0]))
    ]
    return f"## Topics\n\n{len(questions)} topics, {len(subtopics)} sub-topics.\n\n" + _table(
        ["topic", "questions", "share", "answers", *(f"{s} q." for s in RELEASE_SPLITS)], body
    )


def _length_section(facts: CardFacts) -> str:
    rows = _all_rows(facts)
    texts = text_lengths(rows)
    for layer in LAYERS:
        texts[layer.upper()] = [len(r["coe"][layer]) for r in rows if r["coe"] is not None]
    body = [[name, *length_stats(lengths)] for name, lengths in texts.items()]
    return (
        "## Length statistics (characters)\n\nMeasured on the released rows (questions counted once, answers "
        "once per row; p25 and p75 are the quartiles).\n\n"
        + _table(["text", "n", "min", "p25", "median", "p75", "mean", "p90", "max"], body)
    )


def _flatten_numbers(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Numeric leaves of a JSON object as (dotted path, value); big maps are summarised."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [(prefix, value)]
    if isinstance(value, Mapping):
        numeric = [v for v in value.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(value) > 30 and len(numeric) == len(value):
            return [(f"{prefix} ({len(value)} entries, total)", sum(numeric))]
        out = []
        for key, child in value.items():
            out += _flatten_numbers(child, f"{prefix}.{key}" if prefix else str(key))
        return out
    return []


# Parts of report.json that describe the run, not the data (timing differs between identical runs).
REPORT_SKIPPED = (
    "steps",
    "stages",
    "stage_order",
    "timing",
    "settings",
    "inputs",
    "bad_input",
    "topics",
    "lengths",
)


def _step_rows(report: Mapping[str, Any]) -> list[list[Any]]:
    """Rows of (step, in, out, removed, why) from `stages` (name -> stats) or `steps` (list of stats)."""
    stages = report.get("stages")
    if isinstance(stages, Mapping):
        order = [n for n in report.get("stage_order") or [] if n in stages]
        order += [n for n in stages if n not in order]
        named = [(name, stages[name]) for name in order if isinstance(stages[name], Mapping)]
    elif isinstance(report.get("steps"), list):
        named = [
            (s.get("name") or s.get("step") or s.get("stage") or "?", s)
            for s in report["steps"]
            if isinstance(s, Mapping)
        ]
    else:
        return []
    rows = []
    for name, stats in named:
        removed = stats.get("removed", stats.get("dropped", "-"))
        why = "-"
        if isinstance(removed, Mapping):
            why = ", ".join(f"{reason} {n}" for reason, n in removed.items()) or "-"
            removed = sum(v for v in removed.values() if isinstance(v, (int, float)))
        rows.append([name, stats.get("in", "-"), stats.get("out", "-"), removed, why])
    return rows


def _report_section(facts: CardFacts) -> str:
    head = "## Curation steps and what each removed\n\n"
    report = facts.report
    if report is None:
        return head + (
            "No curation report (`report.json` beside `curated.parquet`) was found when this release "
            "was built, so the steps and their removals are not recorded here."
        )
    parts = [
        "These are the counts of the curation run, before the release step: the counts of this release are in "
        "Counts above."
    ]
    steps = _step_rows(report)
    if steps:
        parts.append(_table(["step", "in", "out", "removed", "why"], steps))
    numbers = _flatten_numbers({k: v for k, v in report.items() if k not in REPORT_SKIPPED})
    if numbers:
        parts.append(_table(["report entry", "value"], numbers[:80]))
    if len(parts) == 1:
        parts.append("`report.json` was present but held no counts this card could show.")
    return head + "From the curation report (`report.json`):\n\n" + "\n\n".join(parts)


def _release_filter_section(facts: CardFacts) -> str:
    body = [[key, value] for key, value in facts.tally.items()]
    return "## What the release step kept and left out\n\n" + _table(["", "pairs"], body)


AGREEMENT_KEYS = (
    ("project", "Label Studio project"),
    ("tasks", "tasks"),
    ("tasks_with_overlap", "tasks reviewed by more than one person"),
    ("annotations", "annotations"),
    ("verdict_agreement", "mean pairwise verdict agreement"),
    ("verdict_alpha_nominal", "Krippendorff's alpha, verdicts (nominal)"),
    ("rating_alpha_ordinal", "Krippendorff's alpha, ratings (ordinal)"),
    ("text_similarity", "similarity of the kept texts"),
    ("needs_adjudication", "ties left for adjudication"),
)


def _agreement_tables(agreements: list[dict[str, Any]]) -> list[str]:
    tables = []
    for doc in agreements:
        body = [
            [label, "n/a" if doc.get(key) is None else doc[key]]
            for key, label in AGREEMENT_KEYS
            if key in doc
        ]
        if body:
            tables.append(_table(["review project (agreement.json)", ""], body))
    return tables


def _review_section(facts: CardFacts) -> str:
    rows = [r for r in _all_rows(facts) if r["review"] is not None]
    agreements = [r["review"]["agreement"] for r in rows if r["review"]["agreement"] is not None]
    ratings = [x for r in rows for x in (r["review"]["ratings"] or []) if x is not None]
    lines = ["## Review", *_agreement_tables(facts.agreements)]
    if not rows:
        lines.append("No released row carries review data.")
        return "\n\n".join(lines)
    lines.append(f"{len(rows):,} released rows carry review data.")
    if agreements:
        mean = sum(agreements) / len(agreements)
        lines.append(
            f"Reviewer agreement on the {len(agreements):,} pairs reviewed by more than one person: "
            f"mean {mean:.3f}, min {min(agreements):.3f}, max {max(agreements):.3f}."
        )
    else:
        lines.append("No pair was reviewed by more than one person, so there is no agreement figure.")
    if ratings:
        counts = Counter(ratings)
        spread = ", ".join(f"{k}: {counts[k]}" for k in sorted(counts))
        lines.append(f"Ratings: {len(ratings):,} given, mean {sum(ratings) / len(ratings):.2f} ({spread}).")
    return "\n\n".join(lines)


def _risk_section(facts: CardFacts) -> str:
    rows = _all_rows(facts)
    flagged = [r for r in rows if r["risk_flags"]]
    counts = Counter(flag for r in flagged for flag in r["risk_flags"])
    questions = _questions(rows)
    flagged_q = {r["question_id"] for r in flagged}
    text = (
        f"## Risk content\n\n{len(flagged):,} of {len(rows):,} rows ({_pct(len(flagged), len(rows))}), from "
        f"{len(flagged_q):,} of {len(questions):,} questions, carry "
        "risk flags (self-harm, suicide, harm to others, …) from curation's lexicon; they are kept, flagged, "
        "so that users can filter them or handle them with care. Counted on the released rows."
    )
    if counts:
        text += "\n\n" + _table(["flag", "rows"], sorted(counts.items(), key=lambda i: (-i[1], i[0])))
    return text


def _splits_section(facts: CardFacts) -> str:
    shares = ", ".join(f"{s} {f:g}" for s, f in zip(RELEASE_SPLITS, facts.fractions, strict=True))
    pinned = (
        f" Every question that release {facts.previous} held keeps the split it had there (`--previous`)."
        if facts.previous
        else ""
    )
    return (
        "## How the splits were made\n\n"
        f"By question ({shares}; seed {facts.seed}): all answers of a question are in one split, and "
        "questions linked through a near-duplicate cluster (question or answer `dup_cluster`) form one "
        "`dup_group` that is never split. A group's split is a hash of the seed and the release id of the "
        "group's earliest post, read against the cumulative shares: it does not depend on the rest of the "
        "data, so later versions built with the same shares and seed keep every question in its split (no "
        "test post moves into train), reposts added later included. Topics are not stratified; the Topics "
        "table shows how each was cut."
        f"{pinned} The same input and seed give byte-identical data files and card (`manifest.json` adds "
        "the build time)."
    )


def _fields_section(facts: CardFacts) -> str:
    docs = [(k, v) for k, v in FIELD_DOCS.items() if facts.include_source_ids or k not in SOURCE_FIELDS]
    return "## Fields\n\n" + _table(["field", "meaning"], [[f"`{k}`", v] for k, v in docs])


def _ids_section(facts: CardFacts) -> str:
    head = "## Ids and links to the sites\n\n"
    if facts.include_source_ids:
        return head + (
            "**This release includes the sites' question and answer ids and the question urls** "
            "(`source_question_id`, `source_answer_id`, `url`; built with `--include-source-ids`): they lead "
            "to the live page and from there to the asker's profile. Share it only with people who need them."
        )
    return head + (
        "This release carries **no site ids and no urls**. `question_id` and `answer_id` are stable hashes "
        "(`q-`/`a-` and 16 hex digits of SHA-256 over the site's ids): the same post has the same id in every "
        "version, so splits, drafts and evaluations join across versions, but the id does not point to the "
        "page. The hash is not keyed: a maintainer holding a url can compute its id to honour a takedown "
        "request. The texts themselves can still be searched for on the web."
    )


def _load_section(facts: CardFacts) -> str:
    names = ", ".join(f'"{s}"' for s in _loadable_splits(facts))
    names = f"({names},)" if len(_loadable_splits(facts)) == 1 else f"({names})"
    path = facts.release_path
    return f"""## How to load it

```python
from datasets import load_dataset

ds = load_dataset(
    "parquet",
    data_files={{s: f"{path}/{{s}}.parquet" for s in {names}}},
)
sft = ds["train"].filter(lambda row: row["completion"] is not None)  # rows with a Chain-of-Empathy
print(sft[0]["prompt"], sft[0]["completion"])
```

```python
import pandas as pd

train = pd.read_parquet("{path}/train.parquet")
train.groupby("topic").size()
```

`schema.json` lists the fields and their Arrow types; `SHA256SUMS` holds checksums
(`sha256sum -c SHA256SUMS`); `manifest.json` lists every file with its rows and SHA-256;
`python -m curation.release verify {path}` re-runs the release checks."""


STATIC_SECTIONS = """## Licence and terms

The texts are public posts and answers from Chinese online counseling Q&A communities (see Sources).
Their copyright stays with their authors and the sites; they are redistributed here, pseudonymised,
**for non-commercial research only**, under the sites' terms of use. Do not try to re-identify anyone,
do not republish the texts outside research, and remove a record on request of its author or the site.
The Chain-of-Empathy annotations come under the same research-only terms; the toolkit that built this
release is Apache-2.0. Its crawler obeys robots.txt, crawls slowly and never evades anti-bot measures.

## Intended use

Research on empathetic, structured response generation for long counseling texts: supervised
fine-tuning on `prompt` / `completion`, reward modelling with professional answers, evaluation of
empathy and of the Chain-of-Empathy reasoning (L1 emotions and context, L2 causes and beliefs, L3 intent,
L4 response strategy).

## Out-of-scope use

- **Not a substitute for professional care.** A model trained on this data is not a counselor, must not
  be presented as one, and must not be deployed to people in distress without qualified human oversight.
- Not for diagnosis, for profiling or re-identifying the people who wrote the posts, or for any decision
  about an individual.
- Answers are community and counselor posts, not vetted clinical guidance; LLM drafts may be wrong.

If you or someone you know is in crisis, contact local emergency services or a crisis line. In mainland China:
{crisis}

## PII handling

Curation replaced personal data in every text with typed placeholders (`<PHONE>`, `<EMAIL>`, `<ID_CARD>`,
`<BANK_CARD>`, `<WECHAT>`, `<QQ>`, `<URL>`, …) and replaced askers' and answerers' names and ids with salted
hashes, which this release drops altogether (see "Ids and links to the sites" for question and answer ids). On write and in `verify`, every Parquet text column (`title`,
`question`, `answer`, `prompt`, `completion`, `coe.l1`..`coe.l4`) is scanned with `curation.pii`: a build
leaves out any pair with a hit (counted above under "What the release step kept and left out") and `verify`
fails a release that holds one. The scan covers the data files, not this card, which quotes hotline numbers
on purpose.
Report remaining personal data to the maintainers and it will be removed in the next version."""


def render_card(facts: CardFacts) -> str:
    crisis = "\n".join(f"- {line}" for line in CRISIS_RESOURCES)
    total = len(_all_rows(facts))
    lengths = text_lengths(_all_rows(facts))
    intro = (
        f"# Empathy-QA {facts.version}\n\n"
        "Empathy-QA is a Chinese dataset of counseling texts: help-seeking posts and the answers written to "
        "them, each answer optionally paired with a four-layer **Chain-of-Empathy** (CoE) "
        "rationale (L1 emotions and context, L2 causes and beliefs, L3 intent, L4 response strategy) that "
        "leads to it. It follows Empathy-QA of the Empathy-R1 paper (arXiv 2509.14851) and was built with the "
        f"Empathy-QA toolkit (`python -m curation.release`). This version holds {total:,} (question, answer) "
        f"rows: {describe_length('question', lengths['question'])} and "
        f"{describe_length('answer', lengths['answer'])}."
    )
    notes = "\n".join(f"> {note}" for note in facts.notes)
    sections = [
        _front_matter(facts),
        intro + ("\n\n" + notes if notes else ""),
        _sources_section(facts),
        _counts_section(facts),
        _status_section(facts),
        _topic_section(facts),
        _length_section(facts),
        _report_section(facts),
        _release_filter_section(facts),
        _review_section(facts),
        _risk_section(facts),
        _splits_section(facts),
        _ids_section(facts),
        _fields_section(facts),
        STATIC_SECTIONS.format(crisis=crisis),
        _load_section(facts),
        "## Files\n\n```\n" + facts.checksums + "```",
        "## Citation\n\n```bibtex\n" + CITATION + "\n```",
    ]
    return "\n\n".join(sections) + "\n"


def card_summary(facts: CardFacts) -> dict[str, Any]:
    """A few lines of the card for the end of a build."""
    rows = _all_rows(facts)
    summary: dict[str, Any] = {}
    for split in RELEASE_SPLITS:
        split_rows = facts.rows.get(split, [])
        summary[split] = f"{len(_questions(split_rows)):,} questions / {len(split_rows):,} answers"
    summary["CoE status"] = ", ".join(f"{k} {v}" for k, v in sorted(_status_counts(rows).items()))
    topics = Counter(r["topic"] or "(none)" for r in _questions(rows).values())
    summary["topics"] = f"{len(topics)}: " + ", ".join(f"{t} {n}" for t, n in topics.most_common(5))
    answers = length_stats([len(r["answer"]) for r in rows])
    summary["answer chars (median/mean)"] = f"{answers[3]} / {answers[5]}"
    stand_in = sum(1 for r in rows if r["coe_model"] == STAND_IN_MODEL)
    if stand_in:
        summary["stand-in chains (offline sample endpoint)"] = stand_in
    summary["ids"] = "site ids and urls included" if facts.include_source_ids else "hashed release ids only"
    summary["sources"] = ", ".join(
        f"{name} ({info.first_crawl or '?'}..{info.last_crawl or '?'})"
        for name, info in sorted(facts.sources.items())
    )
    summary["curation report"] = "included" if facts.report is not None else "absent"
    return summary
