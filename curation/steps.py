"""The per-record steps: normalise, PII, boilerplate, filters, risk, topics, dedup signatures."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import xxhash

from curation import pii
from curation.config import CurationConfig
from curation.kernels import sign_flat, sign_texts
from curation.names import scrub_names
from curation.pipeline import AnswerFilter, Batch, Context, Filter, MapStep, Record, Step
from curation.risk import RiskScanner, load_lexicon, overall_level
from curation.text import (
    char_shingle_batch,
    char_shingles,
    dedup_key,
    normalise,
    repetition,
    word_shingles,
    zh_share,
)
from curation.topic_model import TopicModel
from curation.topics import Taxonomy, from_classifier, keywords, load_jieba
from empathyqa.schema import question_id


def question_text(doc: Record) -> str:
    return f"{doc['title']}\n{doc['body']}"


def question_key(doc: Record) -> str:
    return dedup_key(question_text(doc))


def key_hash(key: str) -> int:
    return xxhash.xxh3_64_intdigest(key.encode("utf-8")) >> 1  # fits int64 (Arrow, JSON)


class Normalise(MapStep):
    name = "normalise"

    def __init__(self, config: CurationConfig) -> None:
        self.default = config.opencc
        self.by_source = config.opencc_by_source

    def apply(self, doc: Record, ctx: Context) -> None:
        conv = self.by_source.get(doc["source"], self.default)
        before = len(doc["title"]) + len(doc["body"])
        doc["title"] = normalise(doc["title"], conv).replace("\n", " ")
        doc["body"] = normalise(doc["body"], conv)
        doc["tags"] = [t for t in (normalise(t, conv) for t in doc["tags"]) if t]
        for answer in doc["answers"]:
            answer["body"] = normalise(answer["body"], conv)
        ctx.count(self.name, "chars_removed", before - len(doc["title"]) - len(doc["body"]))


def rekey(*parts: str) -> str:
    """A deterministic, unsalted id made of its parts: the same on every machine and every run."""
    return "h" + hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def pseudonym(salt: str, value: str | None) -> str | None:
    if not value:
        return None
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()[:16]


_MOBILE_ID = re.compile(r"(?:\+?86)?1[3-9]\d{9}")
_LONG_NUMBER = re.compile(r"\d{15,}")


def looks_like_identifier(value: str) -> bool:
    """An id a person could be reached or named by: a phone, card or ID number, an e-mail, a cue word."""
    compact = re.sub(r"[\s\-.()]", "", value)
    return bool(
        _MOBILE_ID.fullmatch(compact)
        or _LONG_NUMBER.search(compact)
        or "@" in value
        or value.lower().startswith("wxid_")
        or pii.find(value)
    )


def safe_id(source: str, value: str) -> str:
    """The site's id, or a hash of (source, id) when the id itself is an identifier (never a placeholder)."""
    return rekey(source, value) if looks_like_identifier(value) else value


def clean_url(url: str | None, source: str, renamed: dict[str, str] | None = None) -> str | None:
    """Query string and fragment dropped; path segments that are identifiers re-keyed like ids."""
    if not url:
        return url
    parts = urlsplit(url)
    segments = []
    for segment in parts.path.split("/"):
        if segment in (renamed or {}):
            segment = renamed[segment]
        elif segment and looks_like_identifier(segment):
            segment = rekey(source, segment)
        segments.append(segment)
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "", ""))


def _pii_counts(found: dict[str, int]) -> list[dict[str, object]]:
    return [{"kind": k, "count": v} for k, v in sorted(found.items())]


def scrub_text(text: str, found: dict[str, int] | None = None, with_names: bool = True) -> str:
    """Identifiers to typed placeholders, then person names to <NAME>; counts added to `found`."""
    result = pii.scrub(text)
    counts = result.counts()
    out = result.text
    if with_names:
        out, n = scrub_names(out)
        if n:
            counts["NAME"] = counts.get("NAME", 0) + n
    if found is not None:
        for kind, n in counts.items():
            found[kind] = found.get(kind, 0) + n
    return out


def scrub_raw(obj: Any, salt: str, source: str = "", key: str = "", parent: str = "") -> Any:
    """Any input-shaped value (a bad record kept in the rejects) scrubbed like a curated thread:
    names dropped, asker/author ids pseudonymised, identifier-like ids re-keyed, urls cleaned, text scrubbed.
    """
    if isinstance(obj, dict):
        source = obj.get("source") if isinstance(obj.get("source"), str) else source
        out = {}
        for k, v in obj.items():
            if k == "name" or (parent == "" and k == "asker" and not isinstance(v, dict)):
                continue
            out[k] = scrub_raw(v, salt, source, k, key)
        return out
    if isinstance(obj, list):
        return [scrub_raw(v, salt, source, key, parent) for v in obj]
    if obj is None or isinstance(obj, bool | int | float):
        if key == "id" and parent in ("asker", "author") and obj is not None:
            return pseudonym(salt, str(obj))
        return obj
    text = str(obj)
    if key == "id" and parent in ("asker", "author") or key in ("asker_id", "author_id"):
        return pseudonym(salt, text)
    if key in ("source_id", "answer_id", "question_id"):
        return safe_id(source, text)
    if key == "url":
        return clean_url(text, source)
    return scrub_text(text)


class ScrubPii(MapStep):
    """Every text field that leaves curation: identifiers to typed placeholders, person names to <NAME>,
    asker and author ids to salted pseudonyms, identifier-like question and answer ids re-keyed, urls
    without their query strings."""

    name = "pii"

    def __init__(self, config: CurationConfig) -> None:
        self.salt, _ = config.resolved_salt()
        self.names = config.scrub_names

    def _scrub(self, text: str, found: dict[str, int], ctx: Context) -> str:
        local: dict[str, int] = {}
        out = scrub_text(text, local, self.names)
        for kind, n in local.items():
            found[kind] = found.get(kind, 0) + n
            ctx.count(self.name, kind, n)
        return out

    def apply(self, doc: Record, ctx: Context) -> None:
        found: dict[str, int] = {}
        source = doc["source"]
        new_id = safe_id(source, doc.get("source_id") or "")
        if new_id != (doc.get("source_id") or ""):
            ctx.count(self.name, "ids_rekeyed")
            renamed = {doc["source_id"]: new_id}
            doc["source_id"], doc["question_id"] = new_id, question_id(source, new_id)
        else:
            renamed = {}
        doc["url"] = clean_url(doc.get("url"), source, renamed)
        doc["title"] = self._scrub(doc["title"], found, ctx)
        doc["body"] = self._scrub(doc["body"], found, ctx)
        doc["tags"] = [t for t in (self._scrub(t, found, ctx) for t in doc["tags"]) if t]
        doc["pii_counts"] = _pii_counts(found)
        doc["asker_id"] = None if doc["asker_anonymous"] else pseudonym(self.salt, doc["asker_id"])
        for answer in doc["answers"]:
            answer_found: dict[str, int] = {}
            new_answer_id = safe_id(source, answer["answer_id"])
            if new_answer_id != answer["answer_id"]:
                ctx.count(self.name, "ids_rekeyed")
                answer["answer_id"] = new_answer_id
            answer["body"] = self._scrub(answer["body"], answer_found, ctx)
            answer["pii_counts"] = _pii_counts(answer_found)
            answer["author_id"] = pseudonym(self.salt, answer["author_id"])


# Lines a counsellor appends to every answer: they carry no content and chain unrelated answers
# together in dedup (a shared signature is the classic false cluster).
_BOILERPLATE = re.compile(
    r"^(?:[—\-=~_*]{2,}.{0,40}|.{0,20}(?:心理咨询师|咨询师|心理老师|执业|二级|三级)\s*[:：]?.{0,20}"
    r"|.{0,30}(?:公众号|个人主页|工作室|点赞|关注我|收藏|转发|转载|原创|版权|私信|预约咨询|欢迎咨询|如需咨询).{0,30}"
    r"|(?:以上|希望对你有(?:所)?帮助|祝好|祝福你|加油)[!！。~]*)$"
)


class StripBoilerplate(MapStep):
    name = "boilerplate"

    def apply(self, doc: Record, ctx: Context) -> None:
        for answer in doc["answers"]:
            lines = answer["body"].split("\n")
            kept = [line for line in lines if not (len(line) <= 60 and _BOILERPLATE.match(line))]
            if len(kept) != len(lines):
                ctx.count(self.name, "lines_removed", len(lines) - len(kept))
                answer["body"] = "\n".join(kept)


# Ad-speak: the words an advert is made of.
AD_WORDS = re.compile(
    r"(代写|代考|日赚|月入|返利|优惠|促销|扫码|二维码|点击链接|免费领取|加盟|包过|低价|特价|课程报名|限时|"
    r"名额有限|招代理|躺赚|稳赚|零投资)"
)
# What adverts sell, but also what people in trouble write about (a gambling husband, loan debts, a
# part-time job scam, a hotline an answer recommends): these count towards spam only beside ad-speak.
AD_TOPICS = re.compile(r"(兼职|刷单|推广|代理|贷款|网贷|博彩|彩票|赌|减肥药|咨询热线)")
CONTACT = re.compile(r"<(?:PHONE|LANDLINE|WECHAT|QQ|URL|EMAIL)>")
SOLICIT = re.compile(r"(加我|联系我|私聊|私信|咨询|预约|找我|详聊|添加|扫)")


def spam_reason(text: str, min_ad_words: int, contact_rule: bool) -> str | None:
    ads = len(AD_WORDS.findall(text))
    solicits = CONTACT.search(text) is not None and SOLICIT.search(text) is not None
    if (ads or solicits) and ads + len(AD_TOPICS.findall(text)) >= min_ad_words:
        return "ad_words"  # ad-speak, or what ads sell plus "add me at <WECHAT>"
    if contact_rule and solicits:
        return "contact_solicitation"
    return None


class QuestionFilter(Filter):
    """Too short, too little Chinese, too repetitive, or an ad."""

    name = "question_filter"

    def __init__(self, config: CurationConfig) -> None:
        self.config = config

    def filter(self, doc: Record) -> bool | tuple[bool, str]:
        c = self.config
        text = question_text(doc)
        if len(doc["title"]) + len(doc["body"]) < c.min_question_chars:
            return False, "question_too_short"
        share = zh_share(text)
        reps = repetition(doc["body"])
        doc["quality"] = {"zh_share": round(share, 4), **reps, "question_chars": float(len(text))}
        if share < c.min_zh_share:
            return False, "low_chinese_share"
        if reps["dup_line_frac"] > c.max_dup_line_frac:
            return False, "repetition:dup_lines"
        if reps["top_2gram_frac"] > c.max_top_2gram_frac:
            return False, "repetition:top_2gram"
        if reps["dup_10gram_frac"] > c.max_dup_10gram_frac:
            return False, "repetition:dup_10gram"
        reason = spam_reason(text, c.spam_min_ad_words, contact_rule=False)
        return (False, f"spam:{reason}") if reason else True


class AnswerQualityFilter(AnswerFilter):
    name = "answer_filter"

    def __init__(self, config: CurationConfig) -> None:
        self.config = config

    def filter_answer(self, answer: Record, doc: Record) -> bool | tuple[bool, str]:
        c = self.config
        body = answer["body"]
        if len(re.sub(r"\s", "", body)) < c.min_answer_chars:
            return False, "answer_too_short"
        if zh_share(body) < c.min_zh_share:
            return False, "low_chinese_share"
        reps = repetition(body)
        if reps["dup_line_frac"] > c.max_dup_line_frac or reps["dup_10gram_frac"] > c.max_dup_10gram_frac:
            return False, "repetitive"
        if reps["top_2gram_frac"] > c.max_top_2gram_frac:
            return False, "repetitive"
        reason = spam_reason(body, c.spam_min_ad_words, contact_rule=True)
        return (False, f"spam:{reason}") if reason else True


class NoAnswers(Filter):
    name = "no_answers"

    def filter(self, doc: Record) -> bool | tuple[bool, str]:
        return bool(doc["answers"]), "no_answers_left"


class FlagRisk(Step):
    """The asker's level (title and body) is the thread's; answers' flags are kept but gate nothing."""

    name = "risk"

    def __init__(self, config: CurationConfig) -> None:
        self.scanner = RiskScanner(load_lexicon(config.risk_lexicon))

    def process(self, batch: Batch, ctx: Context) -> Batch:
        fields = [
            (text, field, answer)
            for doc in batch
            for text, field, answer in (
                (doc["title"], "title", False),
                (doc["body"], "body", False),
                *((a["body"], f"answer:{a['answer_id']}", True) for a in doc["answers"]),
            )
        ]
        flags = iter(self.scanner.scan_many(fields))  # one model call for the whole batch
        for doc in batch:
            asker = next(flags) + next(flags)
            level = overall_level(asker)
            every = asker + [f for _ in doc["answers"] for f in next(flags)]
            doc["risk_flags"] = [f.to_dict() for f in every]
            doc["risk_level"] = level
            ctx.count(self.name, f"level:{level}")
            if level == "none" and every:
                ctx.count(self.name, "answer_only_flags")
        return batch


class AssignTopic(MapStep):
    """A site tag decides; else the classifier when sure; else keyword scoring; else the default."""

    name = "topics"

    def __init__(self, config: CurationConfig) -> None:
        self.taxonomy = Taxonomy.load(config.taxonomy)
        self.model = None if config.topic_model == "none" else TopicModel.load(config.topic_model)
        self.chars = config.keyword_chars
        self.top_k = config.top_k_keywords
        self.scan_chars = config.scan_chars
        if self.chars > 0 or self.model is not None:
            load_jieba()

    def apply(self, doc: Record, ctx: Context) -> None:
        node = self.taxonomy.from_tags(doc["tags"])
        if node is not None:
            topic, subtopic, source = node.topic, node.subtopic, "tag"
        else:
            text = question_text(doc)
            node = from_classifier(self.taxonomy, self.model, text[: self.scan_chars])
            if node is not None:
                topic, subtopic, source = node.topic, node.subtopic, "classifier"
            else:
                words = keywords(text[: self.chars], self.top_k) if self.chars > 0 else []
                topic, subtopic, score = self.taxonomy.classify([], words, text[: self.scan_chars])
                source = "keywords" if score > 0 else "default"
        doc["topic"], doc["subtopic"], doc["topic_source"] = topic, subtopic, source
        ctx.count(self.name, f"source:{source}")


class Shingler:
    """Sorted unique shingle hashes of a dedup key (`many`: of many keys, characters in one pass)."""

    def __init__(self, config: CurationConfig) -> None:
        self.word, self.n = config.shingle == "word", config.ngram

    def __call__(self, key: str) -> np.ndarray:
        return word_shingles(key, self.n) if self.word else char_shingles(key, self.n)

    def many(self, keys: list[str]) -> list[np.ndarray]:
        if self.word:
            return [self(key) for key in keys]
        flat, offsets = char_shingle_batch(keys, self.n)
        return [
            np.unique(flat[a:b]) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
        ]


def shingler(config: CurationConfig) -> Shingler:
    return Shingler(config)


def sign_keys(keys: list[str], config: CurationConfig) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (rows) and shingle-set sizes of many dedup keys, character shingles in one
    pass over all of them; the same values `signature(shingler(config)(key))` gives key by key."""
    if config.shingle == "word":
        sets = [word_shingles(key, config.ngram) for key in keys]
        sizes = np.array([len(s) for s in sets], dtype=np.int64)
        flat = np.concatenate(sets) if sets else np.zeros(0, dtype=np.uint64)
        return sign_flat(flat, np.concatenate(([0], np.cumsum(sizes))), config.num_perm), sizes
    return sign_texts(keys, config.ngram, config.num_perm)


class Signatures(Step):
    """Dedup keys and MinHash signatures, computed here so they run on every core (a batch at a time)."""

    name = "signatures"

    def __init__(self, config: CurationConfig) -> None:
        self.config = config
        self.answers = config.dedup_answers

    def process(self, batch: Batch, ctx: Context) -> Batch:
        # only a hash of the key is kept (exact duplicates); dedup recomputes keys for candidate pairs
        items: list[Record] = list(batch)
        keys = [question_key(doc) for doc in batch]
        if self.answers:
            for doc in batch:
                items += doc["answers"]
                keys += [dedup_key(answer["body"]) for answer in doc["answers"]]
        sigs, sizes = sign_keys(keys, self.config)
        for item, key, sig, size in zip(items, keys, sigs, sizes.tolist(), strict=True):
            item["_key_hash"], item["_nsh"], item["_sig"] = key_hash(key), size, sig
        return batch


def build_record_steps(config: CurationConfig) -> list[Step]:
    """The per-record chain, in order. Executors build it once per worker."""
    from curation.takedown import Takedown, load_takedown  # it needs safe_id from here

    steps: list[Step] = [Takedown(load_takedown(config.takedown)), Normalise(config), ScrubPii(config)]
    if config.strip_boilerplate:
        steps.append(StripBoilerplate())
    steps += [QuestionFilter(config), AnswerQualityFilter(config)]
    if config.require_answers:
        steps.append(NoAnswers())
    steps += [FlagRisk(config), AssignTopic(config), Signatures(config)]
    return steps
