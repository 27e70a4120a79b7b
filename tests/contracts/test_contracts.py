"""The shared contracts: schemas, the CoE format, config precedence, line-numbered JSONL reading."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest

from empathyqa import coe, schema
from empathyqa.config import add_dataclass_arguments, build_config, dataclass_from_args
from empathyqa.io import expand_inputs, iter_jsonl


def raw_thread(**overrides):
    row = {
        "source": "yixinli",
        "source_id": "100",
        "url": "https://www.xinli001.com/qa/100",
        "title": "最近总是失眠",
        "body": "第一段\n第二段",
        "answers": [{"answer_id": "a1", "body": "回答", "author_role": "counselor"}],
        "crawled_at": "2026-11-26T00:00:00+00:00",
    }
    row.update(overrides)
    return row


def test_conform_fills_missing_optional_fields_with_null():
    table = schema.conform([raw_thread()], schema.RAW_THREAD)
    assert table.schema == schema.RAW_THREAD
    row = table.to_pylist()[0]
    assert row["view_count"] is None and row["asker"] is None
    assert row["answers"][0]["likes"] is None


def test_conform_rejects_wrong_types():
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        schema.conform([raw_thread(view_count="many")], schema.RAW_THREAD)


@pytest.mark.parametrize(
    "overrides, problem",
    [
        ({"title": None}, "missing title"),
        ({"view_count": "12"}, "view_count is str"),
        ({"answers": [{"body": "x"}]}, "answers[0] has no answer_id"),
        ({"answers": [{"answer_id": "a", "body": "x", "author_role": "admin"}]}, "author_role"),
    ],
)
def test_validate_raw_thread_names_the_problem(overrides, problem):
    problems = schema.validate_raw_thread(raw_thread(**overrides))
    assert any(problem in p for p in problems), problems


def test_validate_raw_thread_accepts_a_valid_thread():
    assert schema.validate_raw_thread(raw_thread()) == []


def test_completion_round_trips():
    text = coe.format_completion("焦虑", "灾难化思维", "希望被理解", "先共情再建议", "我听见了你的担心。")
    parsed = coe.parse_completion(text)
    assert parsed == coe.ParsedCompletion(
        "焦虑", "灾难化思维", "希望被理解", "先共情再建议", "我听见了你的担心。"
    )


@pytest.mark.parametrize(
    "text",
    [
        "<empathy_think><L1>a</L1><L2>b</L2><L3>c</L3></empathy_think><answer>x</answer>",  # a layer missing
        "<empathy_think><L2>b</L2><L1>a</L1><L3>c</L3><L4>d</L4></empathy_think><answer>x</answer>",  # order
        "<empathy_think><L1> </L1><L2>b</L2><L3>c</L3><L4>d</L4></empathy_think><answer>x</answer>",  # empty
        "<empathy_think><L1>a</L1><L2>b</L2><L3>c</L3><L4>d</L4></empathy_think>answer outside",
        "<empathy_think><L1>a</L1><L2>b</L2><L3>c</L3><L4>d</L4></empathy_think><answer>x</answer><answer>y</answer>",
        "",
    ],
)
def test_parse_rejects_malformed_completions(text):
    assert coe.parse_completion(text) is None


def test_format_refuses_text_holding_a_tag():
    with pytest.raises(ValueError):
        coe.format_completion("<L2>", "b", "c", "d", "x")


@dataclass
class Settings:
    model: str = "m0"
    limit: int = 10
    include_risk: bool = False
    weights: list[float] = field(default_factory=lambda: [1.0, 1.0])


def parse(argv):
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, Settings)
    return dataclass_from_args(Settings, parser.parse_args(argv))


def test_config_precedence_default_then_yaml_then_flags(tmp_path: Path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: from-yaml\nlimit: 3\n", encoding="utf-8")
    assert parse([]) == Settings()
    assert parse(["--config", str(recipe)]) == Settings(model="from-yaml", limit=3)
    got = parse(["--config", str(recipe), "--limit", "7", "--include-risk", "--weights", "0.5", "2"])
    assert got == Settings(model="from-yaml", limit=7, include_risk=True, weights=[0.5, 2.0])


def test_config_flags_spellings_and_negation():
    assert parse(["--include-risk", "false", "--limit", "0"]) == Settings(include_risk=False, limit=0)
    assert parse(["--include_risk"]).include_risk is True  # HfArgumentParser's underscore spelling too
    assert parse(["--include-risk", "--no-include-risk"]).include_risk is False
    with pytest.raises(SystemExit):
        parse(["--limit", "ten"])


def test_config_unknown_yaml_key_is_a_clear_error(tmp_path: Path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modle: typo\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="unknown setting"):
        build_config(Settings, {}, recipe)


def test_iter_jsonl_reports_bad_lines_with_numbers(tmp_path: Path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": \n\xff\xfe\n[1]\n\n{"a": 2}\n')
    got = list(iter_jsonl(path))
    assert [(n, r) for n, r, e in got if e is None] == [(1, {"a": 1}), (6, {"a": 2})]
    errors = {n: e for n, r, e in got if e}
    assert set(errors) == {2, 3, 4}
    assert "bad JSON" in errors[2] and "UTF-8" in errors[3] and "not a JSON object" in errors[4]


def test_expand_inputs_walks_folders_sorted_and_fails_on_missing(tmp_path: Path):
    (tmp_path / "d").mkdir()
    for name in ("b.jsonl", "a.parquet", "notes.txt", "b.health.json"):
        (tmp_path / "d" / name).write_text("", encoding="utf-8")
    assert [p.name for p in expand_inputs([tmp_path / "d"])] == ["a.parquet", "b.jsonl"]
    assert expand_inputs([tmp_path / "d" / "notes.txt"]) == [tmp_path / "d" / "notes.txt"]
    with pytest.raises(FileNotFoundError):
        expand_inputs([tmp_path / "missing"])


def test_read_table_names_the_input_and_what_it_lacks(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pytest

    from empathyqa.io import TableError, read_table

    path = tmp_path / "curated.parquet"
    pq.write_table(pa.table({"question_id": ["yixinli:1"], "title": ["失眠三个月，白天上班总是走神"]}), path)
    assert read_table(path, ("question_id",)).column("title").to_pylist() == ["失眠三个月，白天上班总是走神"]
    with pytest.raises(
        TableError, match=r"^curated set .*curated\.parquet is missing column\(s\) body, answers$"
    ):
        read_table(path, ("question_id", "body", "answers"), "curated set")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(KeyError, match="not a readable Parquet file"):  # a stage's own error type
        read_table(tmp_path / "broken.parquet", error=KeyError)
