"""Benchmark: curation on generated ~800-character Chinese threads with 10% planted near duplicates.

    .venv/bin/python bench/curation.py --docs 20000 [--engine local|ray|both]

Prints docs/s per step (one core) and end to end (all cores), peak memory, and the MinHash stage
(numpy signatures + group-by-band LSH) against a plain per-document `datasketch.MinHash.update` loop
with `MinHashLSH`, both scored by recall and precision on the planted duplicate pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.config import CurationConfig  # noqa: E402
from curation.dedup import verifier  # noqa: E402
from curation.minhash import cluster  # noqa: E402
from curation.pipeline import Context  # noqa: E402
from curation.reader import to_working  # noqa: E402
from curation.run import batched, curate  # noqa: E402
from curation.steps import build_record_steps, shingler  # noqa: E402
from curation.text import dedup_key, normalise  # noqa: E402

CHARS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过"
    "家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从已现开把两长想实"
    "意力它理体点样使女明高物但问机间正做最水感知世爱情话候总觉朋友工孩妈爸害怕担难活压校老师希望帮助喜欢身睡觉晚"
    "早每关系庭父母男恋婚焦虑紧张绪咨询改变努快乐痛苦累烦躁孤独迷茫失眠考试领导同事加班工资房子结婚离婚吵架沟通"
)


def make_words(rng: random.Random, n: int = 3000) -> list[str]:
    return ["".join(rng.choice(CHARS) for _ in range(rng.choice((1, 2, 2, 2, 3, 4)))) for _ in range(n)]


def sentence(rng: random.Random, words: list[str]) -> str:
    return "".join(rng.choice(words) for _ in range(rng.randint(4, 10))) + rng.choice("，，。。！？")


def paragraph(rng: random.Random, words: list[str], chars: int) -> str:
    out = ""
    while len(out) < chars:
        out += sentence(rng, words)
        if rng.random() < 0.08:
            out += "\n"
    return out


def perturb(text: str, rng: random.Random, words: list[str]) -> str:
    """A repost: a few edits, and a cut or appended sentence, punctuation or script changes."""
    import opencc

    chars = list(text)
    for pos in rng.sample(range(len(chars)), max(1, len(chars) // 100)):
        chars[pos] = rng.choice(CHARS)
    text = "".join(chars)
    kind = rng.randrange(4)
    if kind == 0:
        text = text[: int(len(text) * 0.9)]
    elif kind == 1:
        text += sentence(rng, words) * 2
    elif kind == 2:
        text = text.replace("，", ", ").replace("。", " . ")
    else:
        text = opencc.OpenCC("s2t").convert(text)
    return text


def generate(n: int, seed: int = 0) -> tuple[list[dict], list[tuple[int, int]]]:
    rng = random.Random(seed)
    words = make_words(rng)
    rows, pairs, originals = [], [], []
    for i in range(n):
        if originals and rng.random() < 0.1:
            source = rng.choice(originals)
            copy = thread(i, perturb(rows[source]["body"], rng, words), paragraph(rng, words, 150), rng)
            copy["title"] = rows[source]["title"]
            rows.append(copy)
            pairs.append((source, i))
        else:
            rows.append(thread(i, paragraph(rng, words, 780), paragraph(rng, words, 150), rng))
            originals.append(i)
    return rows, pairs


def thread(i: int, body: str, answer: str, rng: random.Random) -> dict:
    return {
        "source": "bench",
        "source_id": str(i),
        "url": f"https://bench.test/q/{i}",
        "title": body[:12] + "怎么办",
        "body": body,
        "tags": [],
        "asker": {"id": f"u{i}", "name": "x", "anonymous": False},
        "asked_at": f"2024-01-01T00:00:{i % 60:02d}+08:00",
        "answers": [
            {"answer_id": f"{i}-0", "body": answer, "author": {"id": "c1"}, "author_role": "counselor"}
        ],
        "crawled_at": "2024-02-01T00:00:00Z",
    }


def truth_groups(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    group = list(range(n))
    for source, dup in pairs:
        group[dup] = group[source]
    return group


def score(clusters: list[list[int]], group: list[int], pairs: list[tuple[int, int]]) -> tuple[float, float]:
    """Recall over planted pairs; precision over the pairs the method put together."""
    where = {}
    for cid, members in enumerate(clusters):
        for m in members:
            where[m] = cid
    found = sum(1 for a, b in pairs if a in where and where.get(a) == where.get(b))
    predicted = true = 0
    for members in clusters:
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                predicted += 1
                true += group[a] == group[b]
    return found / max(1, len(pairs)), (true / predicted if predicted else 1.0)


def per_step_rates(rows: list[dict], config: CurationConfig) -> dict[str, float]:
    steps = build_record_steps(config)
    records = [to_working(r, i) for i, r in enumerate(rows)]
    ctx = Context()
    for batch in batched(records, config.batch_size):
        for step in steps:
            batch = step(batch, ctx)
    return {name: s.records_in / s.seconds for name, s in ctx.stats.items() if s.seconds > 0}


def minhash_ours(keys: list[str], config: CurationConfig) -> tuple[float, list[list[int]]]:
    from curation.minhash import signature

    shingles = shingler(config)
    started = time.perf_counter()
    sigs = np.stack([signature(shingles(k), config.num_perm) for k in keys])
    uf, _ = cluster(keys, sigs, shingles, verifier(config), config.lsh_threshold, config.num_perm)
    seconds = time.perf_counter() - started
    return seconds, [m for m in uf.clusters().values() if len(m) > 1]


def minhash_plain_loop(keys: list[str], ngram: int, threshold: float) -> tuple[float, list[list[int]]]:
    """The baseline: datasketch MinHash.update per shingle, MinHashLSH insert and query."""
    from datasketch import MinHash, MinHashLSH

    from curation.minhash import UnionFind

    started = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    hashes = []
    for i, key in enumerate(keys):
        m = MinHash(num_perm=128)
        for j in range(max(1, len(key) - ngram + 1)):
            m.update(key[j : j + ngram].encode("utf-8"))
        lsh.insert(i, m)
        hashes.append(m)
    uf = UnionFind(len(keys))
    for i, m in enumerate(hashes):
        for j in lsh.query(m):
            uf.union(i, j)
    seconds = time.perf_counter() - started
    return seconds, [m for m in uf.clusters().values() if len(m) > 1]


def cpu_seconds() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def end_to_end(raw: Path, out: Path, rows: list[dict], config: CurationConfig) -> None:
    own0, children0 = cpu_seconds()
    started = time.perf_counter()
    report = curate([raw], out, config)
    wall = time.perf_counter() - started
    own1, children1 = cpu_seconds()
    main_cpu, worker_cpu = own1 - own0, children1 - children0
    rss_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    n = len(rows)
    print(f"\n== end to end, engine {config.engine}, workers {config.resolved_workers()} ==")
    print(
        f"  {n / wall:,.0f} docs/s wall ({wall:.1f} s incl. reading and writing; load average {os.getloadavg()[0]:.1f})"
    )
    if config.engine == "local":
        total = main_cpu + worker_cpu
        # contention-free projection: the work spread over 2 cores, or the main process, whichever binds
        projected = min(2 * n / total, n / main_cpu) if total and main_cpu else float("nan")
        print(
            f"  CPU: main {main_cpu:.1f} s, workers {worker_cpu:.1f} s -> {n / total:,.0f} docs per CPU-second; "
            f"projected on 2 idle cores: {projected:,.0f} docs/s"
        )
        ten_million = 10_000_000 / 3600 / (n / total)
        print(
            f"  10M docs in 1 hour at this per-core rate: about {ten_million:,.0f} cores (+ dedup on one node)"
        )
    print(
        f"  peak RSS: main {rss_main:,.0f} MiB, largest local worker {rss_child:,.0f} MiB (Ray workers not counted)"
    )
    print(f"  threads out {report['counts']['threads_out']:,}; dropped {report['rejects_by_reason']}")
    print(
        "  seconds by step (summed over workers): "
        + ", ".join(f"{k} {v}" for k, v in report["timing"].items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument(
        "--baseline-docs", type=int, default=2000, help="docs for the slow plain-loop baseline"
    )
    parser.add_argument("--word-docs", type=int, default=2000, help="docs for the jieba word 3-gram variant")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--engine", choices=["local", "ray", "both"], default="local")
    args = parser.parse_args()
    config = CurationConfig(workers=args.workers)
    rows, pairs = generate(args.docs)
    group = truth_groups(len(rows), pairs)
    print(
        f"docs {len(rows):,} (planted near-duplicate pairs {len(pairs):,}), load average {os.getloadavg()[0]:.2f}"
    )
    print(f"cores {os.cpu_count()}, workers {config.resolved_workers()}")

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.jsonl"
        raw.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        os.environ.setdefault("EMPATHYQA_SALT", "bench")
        engines = ["local", "ray"] if args.engine == "both" else [args.engine]
        for engine in engines:
            end_to_end(raw, Path(tmp) / engine, rows, CurationConfig(workers=args.workers, engine=engine))

    sample = rows[: min(len(rows), 4000)]
    print(f"\n== per step, one core, {len(sample):,} docs ==")
    for name, rate in per_step_rates(sample, config).items():
        print(f"  {name:16s} {rate:10,.0f} docs/s")

    keys = [dedup_key(normalise(r["title"]) + "\n" + normalise(r["body"])) for r in rows]
    ours_s, ours_clusters = minhash_ours(keys, config)
    recall, precision = score(ours_clusters, group, pairs)
    print(f"\n== MinHash stage on question keys, one core, {len(keys):,} docs ==")
    print(
        f"  numpy MinHash + LSH group-by-band + verification: {len(keys) / ours_s:,.0f} docs/s, "
        f"recall {recall:.3f}, precision {precision:.3f}"
    )
    n_word = min(len(keys), args.word_docs)
    word_pairs = [(a, b) for a, b in pairs if b < n_word]
    word_s, word_clusters = minhash_ours(keys[:n_word], CurationConfig(shingle="word", ngram=3))
    w_recall, w_precision = score(word_clusters, group[:n_word], word_pairs)
    print(
        f"  same with jieba word 3-grams on {n_word:,} docs: {n_word / word_s:,.0f} docs/s, "
        f"recall {w_recall:.3f}, precision {w_precision:.3f}"
    )
    n_base = min(len(keys), args.baseline_docs)
    base_pairs = [(a, b) for a, b in pairs if b < n_base]
    base_s, base_clusters = minhash_plain_loop(keys[:n_base], config.ngram, 0.7)
    b_recall, b_precision = score(base_clusters, group[:n_base], base_pairs)
    print(
        f"  baseline datasketch MinHash.update loop + MinHashLSH(0.7) on {n_base:,} docs: {n_base / base_s:,.0f} docs/s, "
        f"recall {b_recall:.3f} on its {len(base_pairs)} pairs, precision {b_precision:.3f}"
    )
    print(f"  speed-up {(len(keys) / ours_s) / (n_base / base_s):.1f}x")


if __name__ == "__main__":
    main()
