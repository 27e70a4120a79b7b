"""empathyqa.synthetic: shape, realism targets, determinism and ground truth."""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter
from functools import cache

from empathyqa.schema import validate_raw_thread
from empathyqa.synthetic import (
    Corpus,
    Truth,
    coe_layers,
    field_text,
    fragments,
    gb11643_check,
    generate_corpus,
    iter_threads,
    luhn_ok,
    main,
)


@cache
def corpus(n: int = 500, seed: int = 0) -> Corpus:
    return generate_corpus(n, seed=seed)


def dumps(c: Corpus) -> bytes:
    return json.dumps(c.threads, ensure_ascii=False).encode() + json.dumps(c.truth.to_json()).encode()


def test_every_thread_validates_against_the_raw_schema():
    for source in ("yixinli", "douban"):
        c = corpus() if source == "yixinli" else generate_corpus(100, seed=3, source=source)
        assert all(validate_raw_thread(t) == [] for t in c.threads)
        for t in c.threads:
            assert t["source"] == source and t["source_id"].isdigit()
            assert t["asked_at"].endswith("+08:00") and t["crawled_at"].endswith("+00:00")
            assert t["answer_count"] == len(t["answers"])
            assert (len(t["tags"]) >= 2) == (source == "yixinli")
    assert corpus().threads[0]["url"].startswith("https://www.xinli001.com/qa/")


def test_lengths_match_the_paper_scale_targets():
    threads = corpus().threads
    bodies = [len(t["body"]) for t in threads]
    answers = [len(a["body"]) for t in threads for a in t["answers"]]
    titles = [len(t["title"]) for t in threads]
    assert 130 <= statistics.median(bodies) <= 200
    assert 80 <= min(bodies) and max(bodies) <= 800
    assert 450 <= statistics.median(answers) <= 650 and max(answers) <= 2100
    assert 10 <= statistics.median(titles) <= 30
    assert 3.8 <= len(answers) / len(threads) <= 4.4
    assert sum(t.endswith(("？", "?")) for t in (t["title"] for t in threads)) > len(threads) / 4


def test_same_seed_same_bytes_other_seed_other_bytes():
    assert dumps(generate_corpus(120, seed=7)) == dumps(generate_corpus(120, seed=7))
    assert dumps(generate_corpus(120, seed=7)) != dumps(generate_corpus(120, seed=8))


def test_pinned_values_for_seed_zero():
    c = corpus()
    assert len({t["source_id"] for t in c.threads}) == 500
    assert c.threads[0]["source_id"] == PINNED_FIRST_ID
    assert len(c.threads) == PINNED_RECORDS


def test_streaming_yields_the_same_threads():
    truth = Truth()
    streamed = list(iter_threads(500, seed=0, truth=truth))
    assert streamed == corpus().threads and truth.to_json() == corpus().truth.to_json()


def test_planted_identifiers_names_and_lookalikes_sit_where_the_truth_says():
    c = generate_corpus(500, seed=1, pii_rate=0.4)
    by_id: dict[str, list[dict]] = {}
    for t in c.threads:
        by_id.setdefault(t["source_id"], []).append(t)
    kinds = Counter(kind for _, _, kind, _ in c.truth.planted_pii)
    assert set(kinds) == {"phone", "wechat", "qq", "email", "id_card", "bank_card"}
    places = {f.split(".")[-1] if f.startswith("answers[") else f for _, f, _, _ in c.truth.planted_pii}
    assert {"body", "title", "tags", "url", "asker.name", "answer_id", "name"} <= places
    for sid, fld, _, value in c.truth.planted_pii:
        assert all(value in field_text(t, fld) for t in by_id[sid]), (sid, fld, value)
    for sid, fld, value in c.truth.names + c.truth.lookalikes:
        assert all(value in field_text(t, fld) for t in by_id[sid]), (sid, fld, value)
    assert c.truth.names and c.truth.lookalikes


def test_id_cards_pass_gb11643_and_bank_cards_pass_luhn():
    c = generate_corpus(400, seed=2, pii_rate=0.5)
    cards = [(k, v) for _, _, k, v in c.truth.planted_pii if k in ("id_card", "bank_card")]
    assert any(k == "id_card" for k, _ in cards) and any(k == "bank_card" for k, _ in cards)
    for kind, value in cards:
        if kind == "id_card":
            assert len(value) == 18 and gb11643_check(value[:17]) == value[17]
        else:
            assert 16 <= len(value) <= 19 and luhn_ok(value)
    assert gb11643_check("11010519491231002") == "X" and luhn_ok("4111111111111111")


def test_reposts_share_the_asker_and_recrawls_keep_the_id():
    c = generate_corpus(600, seed=4, repost_rate=0.1, same_id_rate=0.05)
    by_id: dict[str, list[dict]] = {}
    for t in c.threads:
        by_id.setdefault(t["source_id"], []).append(t)
    assert len(c.truth.repost_groups) > 20
    for group in c.truth.repost_groups:
        threads = [by_id[sid][0] for sid in group]
        assert len(group) >= 2 and len({t["asker"]["id"] for t in threads}) == 1
        original = min(threads, key=lambda t: int(t["source_id"]))
        assert all(t["body"] != original["body"] for t in threads if t is not original)
        answer_ids = [a["answer_id"] for t in threads for a in t["answers"]]
        assert len(answer_ids) == len(set(answer_ids))
    assert len(c.truth.same_id_pairs) > 10
    for sid, first, second in c.truth.same_id_pairs:
        a, b = by_id[sid][:2]
        assert (a["crawled_at"], b["crawled_at"]) == (first, second) and first < second
        assert abs(len(a["answers"]) - len(b["answers"])) == 1 and a["body"] == b["body"]
    assert any(
        t["title"] != t2["title"] for g in c.truth.repost_groups for t, t2 in [[by_id[s][0] for s in g][:2]]
    )


def test_risk_levels_and_decoys():
    c = generate_corpus(600, seed=5, risk_rate=0.15)
    risk = fragments()["risk"]
    levels = Counter(c.truth.risk.values())
    assert set(levels) == {"none", "low", "medium", "high"}
    for t in c.threads:
        level = c.truth.risk[t["source_id"]]
        if level != "none" and t["source_id"] not in {s for g in c.truth.repost_groups for s in g}:
            assert any(s in t["body"] for s in risk[level])
    text = "".join(a["body"] for t in corpus().threads for a in t["answers"])
    assert "热线" in text
    assert any(f in t["body"] for t in corpus().threads for f in ("累死了", "气死我了", "笑死", "饿死了"))


def test_full_width_punctuation_dominates_with_some_sloppy_ascii():
    text = "".join(t["body"] + "".join(a["body"] for a in t["answers"]) for t in corpus().threads)
    assert text.count("，") > 20 * text.count(",") > 0
    for mark in "。？！：；（）“”、《》①②③":
        assert mark in text, mark
    assert any("?" in t["body"] and "，" not in t["body"][:10] for t in corpus().threads)


def test_coe_layers_differ_per_post_and_stay_in_bounds():
    rng = random.Random(0)
    pairs = [(t, a) for t in corpus().threads for a in t["answers"][:1]][:200]
    assert len(pairs) == 200
    outputs = [coe_layers(t, a, rng) for t, a in pairs]
    assert len({json.dumps(o, ensure_ascii=False, sort_keys=True) for o in outputs}) == 200
    for layer in ("l1", "l2", "l3", "l4"):
        assert len({o[layer] for o in outputs}) > 150
        assert all(30 <= len(o[layer]) <= 150 for o in outputs)


def shingles(text: str) -> set[str]:
    clean = "".join(c for c in text if c.isalnum())
    return {clean[i : i + 5] for i in range(len(clean) - 4)}


def test_distinct_posts_share_little_beyond_stock_sentences():
    c = generate_corpus(300, seed=11, repost_rate=0, same_id_rate=0, pii_rate=0, risk_rate=0)
    answers = list(
        dict.fromkeys(a["body"] for t in c.threads for a in t["answers"] if a["author_role"] == "counselor")
    )
    bodies = list(dict.fromkeys(t["body"] for t in c.threads))
    rng = random.Random(0)
    for texts in (answers, bodies):
        sets = [shingles(t) for t in texts]
        js = []
        for _ in range(5000):
            a, b = (sets[i] for i in rng.sample(range(len(sets)), 2))
            js.append(len(a & b) / len(a | b))
        assert sum(j >= 0.4 for j in js) / len(js) < 0.003
        assert sum(js) / len(js) < 0.08
    openings, closings = fragments()["openings"], fragments()["closings"]
    stock = sum(a.startswith(tuple(openings)) or a.endswith(tuple(closings)) for a in answers) / len(answers)
    assert 0.5 <= stock <= 0.75


def test_coe_layers_name_each_emotion_once():
    thread = corpus().threads[0] | {
        "title": "焦虑到睡不着怎么办？",
        "body": "我最近特别焦虑，一到晚上就焦虑，越焦虑越睡不着，心里又委屈又焦虑。我是不是太没用了？",
    }
    layers = coe_layers(thread, thread["answers"][0], random.Random(0))
    named = layers["l1"].split("核心情绪是")[1].rstrip("。")
    assert named == "焦虑、委屈"


def test_cli_writes_jsonl_truth_and_a_summary(tmp_path, capsys):
    out, truth = tmp_path / "raw.jsonl", tmp_path / "truth.json"
    assert main(["--questions", "40", "--seed", "1", "--out", str(out), "--truth", str(truth)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len({r["source_id"] for r in rows}) == 40
    assert set(json.loads(truth.read_text())) >= {"repost_groups", "planted_pii", "risk", "topic"}
    assert "median answer" in capsys.readouterr().out


PINNED_FIRST_ID = "100885450"
PINNED_RECORDS = 504
