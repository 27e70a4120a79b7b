"""Split assignment: by question, near-duplicates together, stratified by topic, deterministic."""

from __future__ import annotations

from collections import Counter

import pytest

from curation.release.splits import assign_splits, dup_groups, parse_fractions


def _threads(n: int, topics: int = 4) -> list[dict]:
    return [
        {"question_id": f"s:{i}", "topic": f"t{i % topics}", "dup_cluster": None, "answers": []}
        for i in range(n)
    ]


def test_every_topic_is_cut_in_proportion():
    threads = _threads(2000)
    split_of, _ = assign_splits(
        threads, (0.8, 0.1, 0.1), seed=0, released={t["question_id"] for t in threads}
    )
    for topic in ("t0", "t1", "t2", "t3"):
        counts = Counter(split_of[t["question_id"]] for t in threads if t["topic"] == topic)
        assert abs(counts["train"] - 400) <= 2 and abs(counts["validation"] - 50) <= 2, (topic, counts)


def test_same_seed_same_split_other_seed_other_split():
    threads = _threads(200)
    released = {t["question_id"] for t in threads}
    first, _ = assign_splits(threads, (0.8, 0.1, 0.1), 1, released)
    assert assign_splits(list(reversed(threads)), (0.8, 0.1, 0.1), 1, released)[0] == first
    assert assign_splits(threads, (0.8, 0.1, 0.1), 2, released)[0] != first


def test_chained_clusters_form_one_group_even_through_an_unreleased_question():
    threads = _threads(6)
    threads[0]["dup_cluster"] = "c1"
    threads[1]["dup_cluster"] = "c1"
    threads[1]["answers"] = [{"dup_cluster": "x"}]
    threads[2]["answers"] = [{"dup_cluster": "x"}]
    # Question and answer clusters are separate namespaces: "c1" on an answer links nothing.
    threads[3]["answers"] = [{"dup_cluster": "c1"}]
    groups = dup_groups(threads)
    assert groups["s:0"] == groups["s:1"] == groups["s:2"] == "s:0"
    assert groups["s:3"] == "s:3"
    released = {"s:0", "s:2", "s:3", "s:4", "s:5"}  # s:1 has no released answer but still links
    split_of, _ = assign_splits(threads, (0.34, 0.33, 0.33), 0, released)
    assert split_of["s:0"] == split_of["s:2"] and "s:1" not in split_of


@pytest.mark.parametrize("text", ["0.9,0.1", "0.9,0.2,0.1", "0,0.5,0.5", "-0.1,0.6,0.5", "x,y,z"])
def test_bad_fractions_are_refused(text):
    with pytest.raises(ValueError):
        parse_fractions(text)


def test_fractions_parse():
    assert parse_fractions("0.9, 0.05, 0.05") == (0.9, 0.05, 0.05)
    assert parse_fractions("1,0,0") == (1.0, 0.0, 0.0)
