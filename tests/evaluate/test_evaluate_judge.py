"""The LLM judge against the fake endpoint (annotation/sample_endpoint.py) scripted to rank."""

from __future__ import annotations

import json

import pytest
from _evaluate_helpers import shown_answers, write_generation

from annotation.sample_endpoint import Fault
from training.evaluate.judge import JudgeOptions, PostAnswers, parse_ranking, presentation_orders, run_judge
from training.evaluate.ranking import DIMENSIONS, win_table

QUALITY = {"好回答": 0, "中回答": 1, "差回答": 2}


def quality_judge(body):
    """Ranks by the quality word hidden in each answer, whatever the order; on `suggestions` the
    middle answer comes first."""
    shown = shown_answers(body)
    by_quality = sorted(shown, key=lambda label: QUALITY[shown[label][:3]])
    ranking = {d: by_quality for d in DIMENSIONS}
    ranking["suggestions"] = [by_quality[1], by_quality[0], by_quality[2]]
    return ranking


def test_parse_ranking_accepts_variants_and_rejects_bad_replies():
    labels = ["A", "B"]
    reply = "```json\n" + json.dumps({d: ["回答B", "a"] for d in DIMENSIONS}) + "\n```"
    assert parse_ranking(reply, labels)["comfort"] == ["B", "A"]
    for bad in [
        "",
        "not json",
        "[1, 2]",
        json.dumps({d: ["A"] for d in DIMENSIONS}),
        json.dumps({"fluency": ["A", "B"]}),
    ]:
        with pytest.raises(ValueError):
            parse_ranking(bad, labels)


def test_presentation_orders_swap_positions():
    import random

    orders = presentation_orders(["a", "b", "c"], 2, random.Random(0))
    assert orders[1] == orders[0][::-1]
    assert len(presentation_orders(["a", "b"], 5, random.Random(0))) == 2  # only two distinct orders exist


def test_position_bias_is_cancelled_by_swapping(fake_endpoint):
    """A judge that always prefers the first position: after swapping, every system ties."""
    always_abc = {d: ["A", "B", "C"] for d in DIMENSIONS}
    posts = [
        PostAnswers(f"q{i}", f"帖子{i}", {"x": f"回答x{i}", "y": f"回答y{i}", "z": f"回答z{i}"})
        for i in range(3)
    ]
    with fake_endpoint(reply=lambda body: always_abc) as server:
        judgements, log = run_judge(
            posts, ["x", "y", "z"], JudgeOptions(model="judge", base_url=server.url, orders=2)
        )
    assert len(server.requests) == 6
    by_post: dict[str, list] = {}
    for entry in log:
        by_post.setdefault(entry["question_id"], []).append(entry["order"])
    for orders in by_post.values():
        assert orders[1] == orders[0][::-1]
    for i in range(3):  # the server saw each post in both orders
        shown = [list(shown_answers(r["body"]).values()) for r in server.requests if f"帖子{i}" in r["user"]]
        assert len(shown) == 2 and shown[1] == shown[0][::-1]
    table = win_table(judgements, ["x", "y", "z"], [1, 2], n_bootstrap=100)
    for system in "xyz":
        assert table["overall"]["systems"][system]["win@1"]["value"] == pytest.approx(1 / 3)
        assert table["overall"]["systems"][system]["mean_rank"]["value"] == pytest.approx(2.0)


def test_judge_report_maps_rankings_back_to_systems(tmp_path, fake_endpoint, cli):
    # beta writes the good answer on q0..q2, alpha on q3; gamma is always bad
    good_of = {"q0": "beta", "q1": "beta", "q2": "beta", "q3": "alpha"}
    answers: dict[str, dict[str, str]] = {"alpha": {}, "beta": {}, "gamma": {}}
    for qid, good in good_of.items():
        mid = "alpha" if good == "beta" else "beta"
        answers[good][qid] = f"好回答（{qid}）"
        answers[mid][qid] = f"中回答（{qid}）"
        answers["gamma"][qid] = f"差回答（{qid}）"
    for system, by_qid in answers.items():
        write_generation(tmp_path / "gen", system, by_qid)
    with fake_endpoint(reply=quality_judge) as server:
        proc = cli(
            "training.evaluate",
            ["score", str(tmp_path / "gen"), "--out", str(tmp_path / "rep"), "--judge-model", "judge"]
            + ["--judge-base-url", server.url, "--bootstrap", "200", "--k", "1", "2"],
        )
    assert proc.returncode == 0, proc.stderr
    assert len(server.requests) == 8  # 4 posts x 2 orders
    assert all(r["body"]["response_format"] == {"type": "json_object"} for r in server.requests)
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    overall = report["judge"]["table"]["overall"]["systems"]
    # per post: good (1+1+1+2)/4 = 1.25, middle (2+2+2+1)/4 = 1.75, bad 3
    assert overall["beta"]["win@1"]["value"] == pytest.approx(0.75)
    assert overall["alpha"]["win@1"]["value"] == pytest.approx(0.25)
    assert overall["gamma"]["win@2"]["value"] == 0.0
    assert overall["alpha"]["win@2"]["value"] == 1.0
    assert overall["beta"]["mean_rank"]["value"] == pytest.approx((1.25 * 3 + 1.75) / 4)
    assert overall["alpha"]["mean_rank"]["value"] == pytest.approx((1.75 * 3 + 1.25) / 4)
    assert overall["gamma"]["mean_rank"]["value"] == pytest.approx(3.0)
    assert overall["gamma"]["mean_rank"]["ci"] == [3.0, 3.0]
    suggestions = report["judge"]["table"]["suggestions"]["systems"]
    assert suggestions["alpha"]["win@1"]["value"] == pytest.approx(0.75)  # the middle answer wins there
    # every logged call maps labels to the systems whose answers the server saw under them
    log = [json.loads(line) for line in (tmp_path / "rep" / "judge_calls.jsonl").read_text().splitlines()]
    seen = sorted(tuple(shown_answers(r["body"]).items()) for r in server.requests)
    logged = sorted(
        tuple((label, answers[system][e["question_id"]]) for label, system in e["labels"].items())
        for e in log
    )
    assert seen == logged
    assert report["judge"]["position_consistency"]["kendalls_w"] == pytest.approx(1.0)
    markdown = (tmp_path / "rep" / "report.md").read_text()
    assert "Win@2" in markdown and "win_at_k.png" in markdown
    assert (tmp_path / "rep" / "win_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_invalid_replies_are_retried_then_counted(tmp_path, fake_endpoint, cli):
    def in_label_order(body):
        return {d: sorted(shown_answers(body)) for d in DIMENSIONS}

    write_generation(tmp_path / "gen", "a", {"q0": "a-q0", "q1": "a-q1"})
    write_generation(tmp_path / "gen", "b", {"q0": "b-q0", "q1": "b-q1"})
    faults = [
        Fault("malformed_content", match="a-q0", times=1),  # q0: the first try only
        Fault("malformed_content", match="a-q1", times=-1),  # q1 never gets a valid reply
    ]
    with fake_endpoint(reply=in_label_order, faults=faults) as server:
        proc = cli(
            "training.evaluate",
            ["score", str(tmp_path / "gen"), "--out", str(tmp_path / "rep"), "--judge-model", "j"]
            + ["--judge-base-url", server.url, "--judge-concurrency", "1", "--judge-retries", "1"],
        )
    assert proc.returncode == 0, proc.stderr
    assert server.count() == 7  # q0: 2 + 1 tries, q1: 2 orders x 2 tries
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    judge = report["judge"]
    assert judge["calls"] == 4 and judge["failed_calls"] == 2
    assert {f["question_id"] for f in judge["failures"]} == {"q1"}
    assert "invalid ranking" in judge["failures"][0]["error"]
    assert judge["table"]["overall"]["posts"] == 1  # q1 has no valid ranking and is left out
    log = [json.loads(line) for line in (tmp_path / "rep" / "judge_calls.jsonl").read_text().splitlines()]
    assert sorted(e["attempts"] for e in log) == [1, 2, 2, 2]


def test_unreachable_judge_is_reported_not_a_traceback(tmp_path, cli):
    write_generation(tmp_path / "gen", "a", {"q0": "x"})
    write_generation(tmp_path / "gen", "b", {"q0": "y"})
    proc = cli(
        "training.evaluate",
        ["score", str(tmp_path / "gen"), "--out", str(tmp_path / "rep"), "--judge-model", "j"]
        + ["--judge-base-url", "http://127.0.0.1:9/v1", "--judge-retries", "0"],
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["judge"]["failed_calls"] == 2
    assert "Connection" in report["judge"]["failures"][0]["error"]


def test_endpoint_without_response_format_gets_plain_requests(fake_endpoint):
    def reply(body):
        if "response_format" in body:
            return 400  # e.g. a model behind an endpoint that has no JSON mode
        return json.dumps({d: sorted(shown_answers(body)) for d in DIMENSIONS})

    posts = [PostAnswers(f"q{i}", f"帖子{i}", {"a": f"a{i}", "b": f"b{i}"}) for i in range(2)]
    with fake_endpoint(reply=reply) as server:
        judgements, log = run_judge(
            posts, ["a", "b"], JudgeOptions(model="m", base_url=server.url, concurrency=1)
        )
    assert all(entry["ranking"] for entry in log)
    assert all(entry["attempts"] == 1 for entry in log[1:])
    assert (
        sum("response_format" in r["body"] for r in server.requests) == 1
    )  # asked with it once, then without
    assert len(judgements) == 2 * 2 * len(DIMENSIONS)
