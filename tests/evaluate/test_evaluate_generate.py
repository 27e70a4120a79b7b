"""`evaluate generate` for the three kinds of system, `score` end to end, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _evaluate_helpers import write_generation, write_split

from empathyqa.coe import SYSTEM_PROMPT, build_prompt, format_completion
from training.evaluate.generate import split_output


def rows_of(path: Path) -> dict[str, dict]:
    return {r["question_id"]: r for r in pq.read_table(path).to_pylist()}


def test_split_output_parses_coe_or_falls_back():
    good = format_completion("难过", "自责", "被理解", "先共情", "我理解你。")
    assert split_output(good) == (
        "我理解你。",
        {"l1": "难过", "l2": "自责", "l3": "被理解", "l4": "先共情"},
        True,
    )
    assert split_output("<L1>x</L1><answer>只剩回答</answer>") == ("只剩回答", None, False)
    assert split_output("  没有格式的回答 ") == ("没有格式的回答", None, False)
    assert split_output("") == ("", None, False)


def test_reference_system_uses_professional_answers(tmp_path, cli):
    write_split(tmp_path / "release")
    proc = cli(
        "training.evaluate",
        [
            "generate",
            "--model",
            "reference",
            "--data",
            str(tmp_path / "release"),
            "--out",
            str(tmp_path / "gen"),
        ],
    )
    assert proc.returncode == 0, proc.stderr
    assert "answers written" in proc.stderr
    rows = rows_of(tmp_path / "gen" / "reference.parquet")
    assert sorted(rows) == ["q0", "q1", "q2", "q3"]
    q0 = rows["q0"]  # two counselor answers: the best-liked is the answer, the other the reference
    assert q0["answer"].startswith("抱抱你") and q0["references"] == [
        "我能理解你的焦虑，睡前放下手机，固定起床时间。"
    ]
    assert rows["q1"]["references"] == []  # the user's 加油 is no professional answer
    assert all(r["format_ok"] is None for r in rows.values())
    assert q0["prompt"] == build_prompt("失眠", "最近总是睡不着，脑子里全是工作的事。")


def test_endpoint_system_parses_coe_and_records_errors(tmp_path, fake_endpoint, cli):
    write_split(tmp_path / "release")
    coe = format_completion("焦虑", "担心工作", "想睡好", "先共情再建议", "睡前写下担心的事。")

    def reply(body):
        user = body["messages"][-1]["content"]
        if "失眠" in user:
            return coe
        if "失恋" in user:
            return 500
        return "没有按格式的回答"

    with fake_endpoint(reply=reply) as server:
        proc = cli(
            "training.evaluate",
            [
                "generate",
                "--model",
                "openai:my-model",
                "--base-url",
                server.url,
                "--data",
                str(tmp_path / "release"),
            ]
            + ["--out", str(tmp_path / "gen"), "--concurrency", "2"],
        )
    assert proc.returncode == 0, proc.stderr
    rows = rows_of(tmp_path / "gen" / "my-model.parquet")
    assert rows["q0"]["format_ok"] is True and rows["q0"]["answer"] == "睡前写下担心的事。"
    assert rows["q0"]["coe"]["l4"] == "先共情再建议"
    assert rows["q2"]["format_ok"] is False and rows["q2"]["answer"] == "没有按格式的回答"
    assert rows["q1"]["error"].startswith("server_error: HTTP 500") and rows["q1"]["answer"] == ""
    first = next(r["body"] for r in server.requests if "失眠" in r["user"])
    assert first["model"] == "my-model"
    assert first["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "errors                            1" in proc.stderr


def test_tiny_model_then_score_gives_every_metric(tmp_path, tiny_model, cli, release_dir):
    """The acceptance path: the tiny model and the professional answers, generated and scored."""
    release = release_dir
    for model in ("reference", str(tiny_model)):
        proc = cli(
            "training.evaluate",
            ["generate", "--model", model, "--data", str(release), "--out", str(tmp_path / "gen")]
            + ["--max-new-tokens", "8", "--temperature", "1.0", "--batch-size", "2"],
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
    tiny = rows_of(tmp_path / "gen" / "tiny-qwen.parquet")
    assert len(tiny) == 4
    assert all(r["format_ok"] is False and r["answer"] == r["output"].strip() for r in tiny.values())
    proc = cli(
        "training.evaluate",
        [
            "score",
            str(tmp_path / "gen"),
            "--out",
            str(tmp_path / "report"),
            "--judge-base-url",
            "sample",
            "--bootstrap",
            "100",
        ],
    )
    assert proc.returncode == 0, proc.stderr
    assert "SAMPLE JUDGE" in proc.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    reference, tiny = report["automatic"]["reference"], report["automatic"]["tiny-qwen"]
    # only q0 has a second counselor answer to compare the reference system's pick against:
    # 6 characters in common of 21 and 23 (，睡前…。), F1 = 2 * 6 / 44
    assert reference["posts"] == 4 and reference["posts_with_reference"] == 1
    assert reference["rouge_l"] == pytest.approx(3 / 11)
    assert reference["length_mean"] == pytest.approx((21 + 28 + 24 + 22) / 4)
    assert tiny["posts_with_reference"] == 4 and 0 <= tiny["rouge_l"] <= 1 and 0 <= tiny["bleu_4"] <= 1
    assert 0 < tiny["distinct_1"] <= 1 and tiny["length_mean"] > 0
    assert report["automatic"]["tiny-qwen"]["format_adherence"] == 0.0
    assert report["judge"]["failed_calls"] == 0
    assert set(report["judge"]["table"]["overall"]["systems"]) == {"reference", "tiny-qwen"}
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "ROUGE-L" in markdown and "Win@1" in markdown and "Kendall" in markdown
    assert "SAMPLE JUDGE (offline heuristic, not an LLM)" in markdown
    assert (tmp_path / "report" / "win_at_k.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "--data", "nowhere"], "--model is required"),
        (["generate", "--model", "reference", "--data", "nowhere"], "split not found"),
        (["generate", "--model", "reference", "--split", "README.md.parquet"], "split not found"),
        (["generate", "--model", "/nonexistent-model", "--split", "{split}"], "not a model folder"),
        (["generate", "--model", "openai:x", "--split", "{split}"], "needs --base-url"),
        (["score", "{empty}"], "no generation files"),
        (["score", "{split}"], "is missing column(s) system, model"),
        (["score", "missing-folder"], "input not found"),
        (["score", "{gen}", "--judge-model", "m"], "needs --judge-base-url"),
        (["human", "pull", "--state", "missing.json"], "state file not found"),
        (["human", "push", "{gen}"], "Label Studio needs --url"),
        (["human", "push", "{gen}", "--state", "{split}"], "holds an earlier round"),
        (["human", "pull", "--state", "{split}"], "not a human-round state file"),
        (
            ["human", "push", "{gen}", "--url", "http://127.0.0.1:9", "--api-key", "x"],
            "cannot reach Label Studio",
        ),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path, args, message, cli):
    split = write_split(tmp_path / "release")
    (tmp_path / "empty").mkdir()
    write_generation(tmp_path / "gen", "a", {"q0": "x"})
    write_generation(tmp_path / "gen", "b", {"q0": "y"})
    filled = [a.format(split=split, empty=tmp_path / "empty", gen=tmp_path / "gen") for a in args]
    proc = cli(
        "training.evaluate",
        filled,
        env={"OPENAI_BASE_URL": "", "LABEL_STUDIO_URL": "", "LABEL_STUDIO_API_KEY": ""},
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_explains_each_command(cli):
    for args in (
        ["--help"],
        ["generate", "--help"],
        ["score", "--help"],
        ["human", "push", "--help"],
        ["human", "pull", "--help"],
    ):
        proc = cli("training.evaluate", args)
        assert proc.returncode == 0 and "usage:" in proc.stdout


def test_newest_release_is_chosen_by_version_not_by_text(tmp_path, cli):
    """0.10.0 is newer than 0.9.0 although "0.9.0" > "0.10.0" as text; a stray folder is ignored."""
    from training.evaluate.generate import resolve_split

    root = tmp_path / "empathy_qa"
    for version in ("0.9.0", "0.10.0", "0.2.1", "drafts"):
        write_split(root / version)
    assert resolve_split("test", str(root)) == root / "0.10.0" / "test.parquet"
    write_split(root / "1.0.0rc1")
    assert resolve_split("test", str(root)) == root / "1.0.0rc1" / "test.parquet"
    proc = cli(
        "training.evaluate",
        ["generate", "--model", "reference", "--data", str(root), "--out", str(tmp_path / "gen")],
    )
    assert proc.returncode == 0, proc.stderr
    assert pq.read_table(tmp_path / "gen" / "reference.parquet").num_rows == 4
