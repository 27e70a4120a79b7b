"""Split assignment: by question, near-duplicates together, hashed so that it holds across versions."""

from __future__ import annotations

from collections import Counter

import pytest

from curation.release.ids import release_question_id
from curation.release.splits import assign_splits, bucket, dup_groups, parse_fractions, split_for


def _threads(n: int, topics: int = 4, start: int = 0) -> list[dict]:
    return [
        {"question_id": f"s:{i}", "topic": f"t{i % topics}", "dup_cluster": None, "answers": []}
        for i in range(start, start + n)
    ]


def _assign(threads, fractions=(0.8, 0.1, 0.1), seed=0, previous=None):
    return assign_splits(threads, fractions, seed, {t["question_id"] for t in threads}, previous)


def test_shares_are_near_the_requested_fractions():
    split_of, _, _ = _assign(_threads(4000))
    counts = Counter(split_of.values())
    # binomial spread at n=4000, p=0.1 is about 19 questions
    assert abs(counts["train"] - 3200) <= 60 and abs(counts["test"] - 400) <= 60, counts


def test_split_is_a_function_of_the_question_alone():
    small = _threads(300)
    large = _threads(300) + _threads(2000, start=300)  # a later version with more questions
    before, _, _ = _assign(small)
    after, _, _ = _assign(list(reversed(large)))
    assert {q: after[q] for q in before} == before
    assert _assign(small, seed=1)[0] != before  # the seed is part of the hash


def test_a_group_moves_as_one_and_keeps_its_key_when_it_grows():
    threads = _threads(50)
    for i in (3, 17, 40):
        threads[i]["dup_cluster"] = "repost"
    split_of, key_of, _ = _assign(threads)
    assert len({split_of[f"s:{i}"] for i in (3, 17, 40)}) == 1
    assert key_of["s:3"] == min(release_question_id(f"s:{i}") for i in (3, 17, 40))


def test_previous_pins_questions_even_when_a_new_repost_would_move_the_group():
    threads = _threads(200)
    first, _, _ = _assign(threads)
    previous = {release_question_id(q): s for q, s in first.items()}
    # A later crawl links s:0 to a new repost whose hash is below every old member's.
    new = next(
        t
        for t in _threads(500, start=200)
        if release_question_id(t["question_id"]) < release_question_id("s:0")
        and split_for(bucket(0, release_question_id(t["question_id"])), (0.8, 0.1, 0.1)) != first["s:0"]
    )
    threads[0]["dup_cluster"] = new["dup_cluster"] = "c"
    unpinned, _, _ = _assign(threads + [new])
    assert unpinned["s:0"] != first["s:0"]  # hashing alone would move it
    pinned, _, notes = _assign(threads + [new], previous=previous)
    assert {q: pinned[q] for q in first} == first
    assert pinned[new["question_id"]] == first["s:0"]
    assert notes["groups pinned to their previous split"] == 200


def test_previous_members_in_two_splits_go_to_the_held_out_one():
    threads = _threads(2)
    previous = {release_question_id("s:0"): "train", release_question_id("s:1"): "test"}
    threads[0]["dup_cluster"] = threads[1]["dup_cluster"] = "c"
    split_of, _, notes = _assign(threads, previous=previous)
    assert split_of == {"s:0": "test", "s:1": "test"}
    assert notes["groups whose previous members were in different splits"] == 1


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
    split_of, _, _ = assign_splits(threads, (0.34, 0.33, 0.33), 0, released)
    assert split_of["s:0"] == split_of["s:2"] and "s:1" not in split_of


def test_split_for_reads_cumulative_shares_and_skips_empty_ones():
    assert split_for(0.0, (0.9, 0.05, 0.05)) == "train"
    assert split_for(0.93, (0.9, 0.05, 0.05)) == "validation"
    assert split_for(0.99, (0.9, 0.05, 0.05)) == "test"
    assert split_for(0.999999, (0.7, 0.3, 0.0)) == "validation"
    assert split_for(0.5, (1.0, 0.0, 0.0)) == "train"


@pytest.mark.parametrize("text", ["0.9,0.1", "0.9,0.2,0.1", "0,0.5,0.5", "-0.1,0.6,0.5", "x,y,z"])
def test_bad_fractions_are_refused(text):
    with pytest.raises(ValueError):
        parse_fractions(text)


def test_fractions_parse():
    assert parse_fractions("0.9, 0.05, 0.05") == (0.9, 0.05, 0.05)
    assert parse_fractions("1,0,0") == (1.0, 0.0, 0.0)
