"""The per-record steps: normalise, PII, boilerplate, filters, risk, topics, dedup signatures."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import numpy as np
import xxhash

from curation import pii
from curation.config import CurationConfig
from curation.minhash import signature
from curation.pipeline import AnswerFilter, Context, Filter, MapStep, Record, Step
from curation.risk import RiskScanner, load_lexicon, overall_level
from curation.text import char_shingles, dedup_key, normalise, repetition, word_shingles, zh_share
from curation.topic_model import TopicModel
from curation.topics import Taxonomy, from_classifier, keywords, load_jieba


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


def pseudonym(salt: str, value: str | None) -> str | None:
    if not value:
        return None
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()[:16]


def _pii_counts(found: dict[str, int]) -> list[dict[str, object]]:
    return [{"kind": k, "count": v} for k, v in sorted(found.items())]


class ScrubPii(MapStep):
    """Typed placeholders for identifiers; salted-hash pseudonyms for asker and author ids."""

    name = "pii"

    def __init__(self, config: CurationConfig) -> None:
        self.salt, _ = config.resolved_salt()

    def _scrub(self, text: str, found: dict[str, int], ctx: Context) -> str:
        result = pii.scrub(text)
        for kind, n in result.counts().items():
            found[kind] = found.get(kind, 0) + n
            ctx.count(self.name, kind, n)
        return result.text

    def apply(self, doc: Record, ctx: Context) -> None:
        found: dict[str, int] = {}
        doc["title"] = self._scrub(doc["title"], found, ctx)
        doc["body"] = self._scrub(doc["body"], found, ctx)
        doc["pii_counts"] = _pii_counts(found)
        doc["asker_id"] = None if doc["asker_anonymous"] else pseudonym(self.salt, doc["asker_id"])
        for answer in doc["answers"]:
            answer_found: dict[str, int] = {}
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


class FlagRisk(MapStep):
    """The asker's level (title and body) is the thread's; answers' flags are kept but gate nothing."""

    name = "risk"

    def __init__(self, config: CurationConfig) -> None:
        self.scanner = RiskScanner(load_lexicon(config.risk_lexicon))

    def apply(self, doc: Record, ctx: Context) -> None:
        flags = self.scanner.scan(doc["title"], "title") + self.scanner.scan(doc["body"], "body")
        level = overall_level(flags)
        for answer in doc["answers"]:
            flags += self.scanner.scan(answer["body"], f"answer:{answer['answer_id']}", answer=True)
        doc["risk_flags"] = [f.to_dict() for f in flags]
        doc["risk_level"] = level
        ctx.count(self.name, f"level:{level}")
        if level == "none" and flags:
            ctx.count(self.name, "answer_only_flags")


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


def shingler(config: CurationConfig) -> Callable[[str], np.ndarray]:
    if config.shingle == "word":
        return lambda key: word_shingles(key, config.ngram)
    return lambda key: char_shingles(key, config.ngram)


class Signatures(MapStep):
    """Dedup keys and MinHash signatures, computed here so they run on every core."""

    name = "signatures"

    def __init__(self, config: CurationConfig) -> None:
        self.shingles = shingler(config)
        self.num_perm = config.num_perm
        self.answers = config.dedup_answers

    def apply(self, doc: Record, ctx: Context) -> None:
        # only a hash of the key is kept (exact duplicates); dedup recomputes keys for candidate pairs
        key = question_key(doc)
        shingles = self.shingles(key)
        doc["_key_hash"], doc["_nsh"] = key_hash(key), len(shingles)
        doc["_sig"] = signature(shingles, self.num_perm)
        if self.answers:
            for answer in doc["answers"]:
                key = dedup_key(answer["body"])
                shingles = self.shingles(key)
                answer["_key_hash"], answer["_nsh"] = key_hash(key), len(shingles)
                answer["_sig"] = signature(shingles, self.num_perm)


def build_record_steps(config: CurationConfig) -> list[Step]:
    """The per-record chain, in order. Executors build it once per worker."""
    steps: list[Step] = [Normalise(config), ScrubPii(config)]
    if config.strip_boilerplate:
        steps.append(StripBoilerplate())
    steps += [QuestionFilter(config), AnswerQualityFilter(config)]
    if config.require_answers:
        steps.append(NoAnswers())
    steps += [FlagRisk(config), AssignTopic(config), Signatures(config)]
    return steps
