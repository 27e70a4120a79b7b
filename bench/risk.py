"""Benchmark: the risk scanner on the labelled sets tests/data/risk_eval/*.jsonl.

    .venv/bin/python bench/risk.py [--split dev|tuning|holdout|train_a|train_b|holdout2|both|holdout3] [--errors]
        [--synthetic N] [--cv writers [--thresholds 0.3,0.5]] [--lexicon-only]

Texts go through curation's Normalise (t2s, NFKC) first, as in the pipeline; `where=answer` items are
scanned with the answer rules. Prints precision and recall per level (exact level), for medium+high
together ("at risk": predicted >= medium against gold >= medium), the false-flag rate on level none
(any flag raised), and scan speed. dev is frozen, tuning.jsonl holds sentences written later to tune
generalisation; the holdout is scored here only, never tuned on.
--errors lists the misses of dev and tuning (never the holdout's). --synthetic N times N generated threads
(title, body, answers) beside the earlier word list, and beside the lexicon alone.
--cv writers: leave-one-writer-out cross-validation (train the model on all writers' sets but one, score
the one left out) for the lexicon alone, the model alone and the two combinations, pooled over the folds
with each fold's at-risk figures. The sets the model trains on are the scanner's tuning data (the lexicon
was tuned on dev, tuning and the spent holdout); only --split holdout3 (the frozen set, when present)
is unread.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.risk import LEVELS, RANK, RiskScanner, overall_level  # noqa: E402
from curation.risk_model import CONFIGS, EXTRA_NONE, WRITERS, cross_validate, load_rows  # noqa: E402
from curation.text import normalise  # noqa: E402

EVAL_DIR = ROOT / "tests" / "data" / "risk_eval"


def predict(scanner: RiskScanner, row: dict) -> str:
    field = "answer:eval" if row["where"] == "answer" else "body"
    return overall_level(scanner.scan(normalise(row["text"]), field))


def _pr(tp: int, n_pred: int, n_gold: int) -> tuple[float, float]:
    return (tp / n_pred if n_pred else 1.0), (tp / n_gold if n_gold else 1.0)


def score(gold: list[str], pred: list[str]) -> dict[str, dict[str, float]]:
    """{level or 'at risk': {precision, recall, support}} plus {'none': {false_flag_rate}}."""
    out: dict[str, dict[str, float]] = {}
    for level in LEVELS:
        tp = sum(g == p == level for g, p in zip(gold, pred, strict=True))
        p, r = _pr(tp, pred.count(level), gold.count(level))
        out[level] = {"precision": p, "recall": r, "support": gold.count(level)}
    at_gold = [RANK[g] >= RANK["medium"] for g in gold]
    at_pred = [RANK[p] >= RANK["medium"] for p in pred]
    tp = sum(g and p for g, p in zip(at_gold, at_pred, strict=True))
    p, r = _pr(tp, sum(at_pred), sum(at_gold))
    out["at risk"] = {"precision": p, "recall": r, "support": sum(at_gold)}
    nones = [p for g, p in zip(gold, pred, strict=True) if g == "none"]
    out["none"]["false_flag_rate"] = sum(p != "none" for p in nones) / len(nones) if nones else 0.0
    out["none"]["at_risk_false_flag_rate"] = (
        sum(RANK[p] >= RANK["medium"] for p in nones) / len(nones) if nones else 0.0
    )
    return out


def load(split: str) -> list[dict]:
    path = EVAL_DIR / f"{split}.jsonl"
    if not path.exists():
        raise SystemExit(f"{path} not found")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _table(figures: dict[str, dict[str, float]]) -> None:
    print(f"  {'level':<8} {'support':>7} {'precision':>9} {'recall':>7}")
    for level in ("high", "medium", "low", "none", "at risk"):
        f = figures[level]
        print(f"  {level:<8} {f['support']:>7} {f['precision']:>9.3f} {f['recall']:>7.3f}")
    none = figures["none"]
    print(
        f"  false flags on none: {none['false_flag_rate']:.3f} any level, "
        f"{none['at_risk_false_flag_rate']:.3f} at medium or high"
    )


def cv_writers(thresholds: list[float], by: str) -> None:
    if by == "writers":
        groups = {w: load_rows(names, EVAL_DIR) for w, names in WRITERS.items()}
    else:  # one fold per file: dev and holdout share a writer, so this flatters the model
        groups = {name: load_rows([name], EVAL_DIR) for names in WRITERS.values() for name in names}
    sizes = ", ".join(f"{w} {len(rows)}" for w, rows in groups.items())
    print(
        f"\nleave-one-{by[:-1]}-out cross-validation ({sizes} items; in answers the model reads only the replier's own words)"
    )
    results = cross_validate(
        {w: rows for w, rows in groups.items() if rows}, thresholds, load_rows(EXTRA_NONE, EVAL_DIR)
    )
    for config in CONFIGS:
        for t in thresholds if config != "lexicon" else thresholds[:1]:
            rows = results[(config, t)]
            label = config if config == "lexicon" else f"{config}, threshold {t:g}"
            print(f"\n{label}: pooled over the folds")
            _table(score([g for _, g, _ in rows], [p for _, _, p in rows]))
            for writer in groups:
                fold = [(g, p) for w, g, p in rows if w == writer]
                if fold:
                    f = score([g for g, _ in fold], [p for _, p in fold])["at risk"]
                    print(
                        f"  left out {writer:<8} at risk: precision {f['precision']:.3f} "
                        f"recall {f['recall']:.3f} ({f['support']:.0f})"
                    )


def report(split: str, scanner: RiskScanner, errors: bool) -> None:
    rows = load(split)
    start = time.perf_counter()
    pred = [predict(scanner, row) for row in rows]
    seconds = time.perf_counter() - start
    gold = [row["level"] for row in rows]
    figures = score(gold, pred)
    print(f"\n{split}: {len(rows)} items, {len(rows) / seconds:,.0f} texts/s (one core, loaded machine)")
    _table(figures)
    if errors and split != "holdout3":
        for row, p in zip(rows, pred, strict=True):
            if p != row["level"]:
                print(f"  {row['level']:>6} -> {p:<6} {row['kind']:<22} {row['text']}")


# The earlier word list (one alternation of 28 literal terms, matches looked at in a 12-character window):
# the speed baseline, timed on the same threads.
_WORD_LIST = re.compile(
    "结束自己的生命|活着没有意义|活着没意思|离开这个世界|结束生命|了结自己|一了百了|不想活|活不下去|自杀|轻生|寻死|"
    "想死|去死|跳楼|跳河|上吊|烧炭|安眠药|吞药|遗书|自残|自伤|割腕|划手|伤害自己|杀了他|同归于尽"
)


def _word_list_scan(text: str) -> list[str]:
    return [text[max(0, m.start() - 12) : m.end() + 3] for m in _WORD_LIST.finditer(text)]


def synthetic(scanner: RiskScanner, n: int) -> None:
    """Thread-level levels against empathyqa.synthetic's planted risk sentences (another author's), and
    threads/s over title, body and answers (normalised beforehand) beside the earlier word list."""
    from empathyqa.synthetic import generate_corpus

    corpus = generate_corpus(n, seed=4, same_id_rate=0.0, risk_rate=0.1)
    threads = [
        (
            t["source_id"],
            normalise(t["title"]),
            normalise(t["body"]),
            [normalise(a["body"]) for a in t["answers"]],
        )
        for t in corpus.threads
    ]
    start = time.perf_counter()
    for _, title, body, answers in threads:
        for text in (title, body, *answers):
            _word_list_scan(text)
    baseline = len(threads) / (time.perf_counter() - start)
    lexicon = RiskScanner(lexicon=scanner.entries, model=False)
    rates = {}
    for name, sc in (("lexicon alone", lexicon), ("scanner", scanner)):
        gold, pred = [], []
        start = time.perf_counter()
        for source_id, title, body, answers in threads:
            for answer in answers:  # answers are scanned in curation too (recorded, not gating)
                sc.scan(answer, "answer:x")
            gold.append(corpus.truth.risk.get(source_id, "none"))
            pred.append(overall_level(sc.scan(title, "title") + sc.scan(body, "body")))
        rates[name] = len(gold) / (time.perf_counter() - start)
    figures = score(gold, pred)
    print(
        f"\nsynthetic threads (empathyqa.synthetic, risk_rate 0.1): {len(gold)} threads with their answers, "
        f"{rates['scanner']:,.0f} threads/s ({'with' if scanner.model else 'without'} the model, "
        f"combine {scanner.combine}); the lexicon alone {rates['lexicon alone']:,.0f} threads/s; "
        f"the earlier word list {baseline:,.0f} threads/s (one core, loaded machine)"
    )
    for level in ("high", "medium", "low", "none", "at risk"):
        f = figures[level]
        print(f"  {level:<8} {f['support']:>7} {f['precision']:>9.3f} {f['recall']:>7.3f}")
    print(f"  false flags on none: {figures['none']['at_risk_false_flag_rate']:.3f} at medium or high")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    splits = ["dev", "tuning", "holdout", "train_a", "train_b", "holdout2"]
    parser.add_argument("--split", choices=[*splits, "both", "holdout3", "none"], default="both")
    parser.add_argument("--errors", action="store_true", help="list the misses (never the frozen set's)")
    parser.add_argument("--synthetic", type=int, default=0, help="also score N generated threads")
    parser.add_argument("--cv", choices=["writers", "splits"], help="leave-one-writer-out cross-validation")
    parser.add_argument("--thresholds", default="0.5", help="model thresholds for --cv, comma-separated")
    parser.add_argument("--lexicon-only", action="store_true", help="score the lexicon without the model")
    args = parser.parse_args(argv)
    scanner = RiskScanner(model=not args.lexicon_only)
    if args.split == "both":
        chosen = [s for s in splits if (EVAL_DIR / f"{s}.jsonl").exists()]
    else:
        chosen = [] if args.split == "none" else [args.split]
    for split in chosen:
        report(split, scanner, args.errors)
    if args.cv:
        cv_writers([float(t) for t in args.thresholds.split(",")], args.cv)
    if args.synthetic:
        synthetic(scanner, args.synthetic)


if __name__ == "__main__":
    main()
