"""Curation settings: dataclass defaults < `--config curation.yaml` < CLI flags (empathyqa.config)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

DEV_SALT = "empathyqa-dev-salt"


@dataclass
class CurationConfig:
    # normalise
    opencc: str = field(
        default="t2s", metadata={"help": "OpenCC conversion (tw2s/hk2s convert more for TW/HK sites)"}
    )
    opencc_by_source: dict[str, str] = field(
        default_factory=dict, metadata={"cli": False, "help": "per-source OpenCC config, e.g. {ptt: tw2s}"}
    )
    # pii
    salt: str | None = field(
        default=None, metadata={"help": "salt for author pseudonyms (else $EMPATHYQA_SALT)"}
    )
    # filters (defaults: Empathy-R1's 100-char answers; FineWeb-2 cmn_Hani / Gopher repetition ratios)
    min_answer_chars: int = field(default=100, metadata={"help": "answers shorter than this are dropped"})
    min_question_chars: int = field(default=20, metadata={"help": "title+body shorter than this is dropped"})
    min_zh_share: float = field(default=0.5, metadata={"help": "minimum share of Chinese among letters"})
    max_dup_line_frac: float = field(default=0.3, metadata={"help": "max share of chars in repeated lines"})
    max_top_2gram_frac: float = field(
        default=0.2, metadata={"help": "max share of chars in the top char 2-gram"}
    )
    # 0.5, not FineWeb-2's web-page 0.13-0.2: in a 100-300 character post one clause said twice
    # ("我觉得没有人能理解我") already covers 0.2-0.4, and a rejected question loses the whole thread.
    # A doubled paragraph or a repeated slogan still scores 0.6-1.0.
    max_dup_10gram_frac: float = field(
        default=0.5, metadata={"help": "max share of chars in repeated 10-grams"}
    )
    require_answers: bool = field(
        default=True,
        metadata={
            "help": "reject threads left with no answer (off: keep questions alone, e.g. to dedup posts)"
        },
    )
    spam_min_ad_words: int = field(
        default=2, metadata={"help": "ad words that make a post spam (one must be ad-speak)"}
    )
    strip_boilerplate: bool = field(
        default=True, metadata={"help": "remove signature/boilerplate lines from answers"}
    )
    # dedup
    dedup_threshold: float = field(default=0.7, metadata={"help": "Jaccard threshold for near duplicates"})
    containment_threshold: float = field(
        default=0.8,
        metadata={"help": "also duplicate when this share of the shorter is in the longer (cut/append)"},
    )
    edit_similarity: float = field(
        default=0.8,
        metadata={
            "help": "also duplicate at this difflib ratio of the keys (reworded reposts; checked when J >= 0.2)"
        },
    )
    lsh_threshold: float = field(
        default=0.4,
        metadata={"help": "Jaccard that LSH bands are derived for (below the dedup threshold, for recall)"},
    )
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations"})
    shingle: Literal["char", "word"] = field(
        default="char", metadata={"help": "char n-grams or jieba word n-grams"}
    )
    ngram: int = field(default=5, metadata={"help": "shingle size (5 for char, 3 for word)"})
    dedup_answers: bool = field(default=True, metadata={"help": "also deduplicate answers across threads"})
    answer_dedup_empties_threads: bool = field(
        default=False,
        metadata={
            "help": "drop a duplicate answer even when it is its thread's last one (the thread is then "
            "rejected); by default that copy stays, marked with dup_cluster"
        },
    )
    max_bucket_pairs: int = field(
        default=64, metadata={"help": "members of one LSH bucket compared pairwise"}
    )
    # topics
    taxonomy: str | None = field(default=None, metadata={"help": "taxonomy YAML (default: the bundled one)"})
    keyword_chars: int = field(
        default=60,
        metadata={"help": "chars of title+body given to jieba.analyse (its cost grows with length)"},
    )
    scan_chars: int = field(
        default=300, metadata={"help": "chars of title+body searched for taxonomy keywords"}
    )
    top_k_keywords: int = field(default=8, metadata={"help": "jieba.analyse keywords per thread"})
    topic_model: str | None = field(
        default=None,
        metadata={"help": "topic classifier JSON for untagged posts (default: the bundled one; 'none': off)"},
    )
    # risk
    risk_lexicon: str | None = field(default=None, metadata={"help": "extra risk lexicon YAML"})
    # execution
    workers: int = field(default=0, metadata={"help": "processes for per-record steps (0: all cores)"})
    batch_size: int = field(default=256, metadata={"help": "records per batch"})
    engine: Literal["local", "ray"] = field(
        default="local",
        metadata={"help": "local (processes on this machine) or ray (Ray Data; pip install '.[ray]')"},
    )
    ray_address: str | None = field(
        default=None,
        metadata={"help": "with --engine ray: 'auto' or HOST:PORT of a cluster (default: start one here)"},
    )

    def resolved_salt(self) -> tuple[str, str]:
        """(salt, where it came from)."""
        if self.salt:
            return self.salt, "config"
        if os.environ.get("EMPATHYQA_SALT"):
            return os.environ["EMPATHYQA_SALT"], "env"
        return DEV_SALT, "default (set EMPATHYQA_SALT for real data)"

    def resolved_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)
