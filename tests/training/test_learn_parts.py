"""The miniature's parts: its sample release, its vocabularies, its statistics; recipes' relative paths."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from empathyqa.coe import parse_completion
from training.args import recipe_defaults
from training.learn import copy_share, length_controlled, quarters, score_generations
from training.sample_release import build_sample_release, quotes_of, short_answer, short_body

COE = (
    "<empathy_think>\n<L1>求助者讲述了“考研第三年，还是没上岸”，核心情绪是挫败。</L1>\n"
    "<L2>其深层信念是“别人都能坚持，为什么就我不行”。</L2>\n<L3>提问者希望被理解，也想要方向。</L3>\n"
    "<L4>先共情，再帮助识别灾难化的想法。</L4>\n</empathy_think>\n"
    "<answer>你提到“别人都能坚持，为什么就我不行”，这背后可能有一些过度概括的成分。</answer>"
)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("learn") / "release"
    counts = build_sample_release(out, 150, seed=3, eval_questions=12)
    return out, counts


def _rows(folder, split):
    return pq.read_table(folder / f"{split}.parquet").to_pylist()


def test_sample_release_is_split_by_question_and_every_coe_parses(release):
    folder, counts = release
    splits = {s: _rows(folder, s) for s in ("train", "validation", "test")}
    ids = {s: {r["question_id"] for r in rows} for s, rows in splits.items()}
    assert counts["validation questions"] == counts["test questions"] == 12
    assert not ids["train"] & ids["validation"] and not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]
    coe_rows = [r for rows in splits.values() for r in rows if r["completion"]]
    assert coe_rows and all(parse_completion(r["completion"]) for r in coe_rows)
    assert all(r["answer_role"] == "counselor" for r in coe_rows)
    plain = [r for r in splits["train"] if r["completion"] is None]
    assert plain and all(r["answer_role"] == "user" and r["coe"] is None for r in plain)
    # no risk posts, no planted identifiers reach a training row
    assert all(r["risk_flags"] == [] for rows in splits.values() for r in rows)


def test_sample_drafts_vary_per_post_and_fit_the_miniature(release):
    folder, _ = release
    rows = [r for r in _rows(folder, "train") if r["completion"]]
    questions = {r["question_id"] for r in rows}
    l1 = {r["coe"]["l1"] for r in rows}
    assert len(l1) > 0.9 * len(questions)  # drafted from each post, not one template
    assert len({r["completion"] for r in rows}) == len(rows)  # two answers to one post: two drafts
    assert max(len(r["answer"]) for r in rows) <= 70
    assert max(len(v) for r in rows for v in r["coe"].values()) <= 30
    assert all(r["prompt"].startswith("标题：" + r["title"]) for r in rows)


POST = (
    "我今年31岁，做了八年程序员。最近公司开始用AI写代码，组里已经裁了两个人。"
    "我觉得自己这些年学的东西全都白费了。晚上躺下就开始心慌，一闭眼就是被叫去谈话的画面。"
    "试过跑步、冥想、少刷手机，都没什么用，白天开会的时候脑子一片空白，领导问话也答不上来。"
    "父母还以为我工作很稳定，我不敢跟他们说。我该怎么办？"
)


def test_short_answer_starts_at_the_sentence_that_quotes_the_post():
    answer = (
        "抱抱你。能感受到你现在特别焦虑。\n很多来访者都有过类似的经历，你并不孤单。\n"
        "你提到“我觉得自己这些年学的东西全都白费了”，这背后可能有一些灾难化的成分。"
        "技术在变，但你这些年积累的判断力和经验不会一夜之间消失。如果还有什么想聊的，欢迎继续交流。"
    )
    # from the quote on, whole sentences while they fit in 70 characters: the stock closing is left out
    assert short_answer(answer, POST) == (
        "你提到“我觉得自己这些年学的东西全都白费了”，这背后可能有一些灾难化的成分。"
        "技术在变，但你这些年积累的判断力和经验不会一夜之间消失。"
    )
    # a quote of words the post does not hold (another asker's) is not this post's part
    assert short_answer(answer.replace("学的东西全都白费了", "一事无成"), POST) == ""


def test_short_body_keeps_the_quoted_sentence_even_when_it_comes_late():
    quoted = "父母还以为我工作很稳定，我不敢跟他们说"
    body = short_body(POST, [quoted])
    assert quoted in body and len(body) <= 100
    assert body.startswith("我今年31岁，做了八年程序员。")  # the opening sentence stays first
    sentences = ["我今年31岁", "我觉得自己", "父母还以为"]
    assert [body.index(s) for s in sentences] == sorted(body.index(s) for s in sentences)
    assert "白天开会的时候脑子一片空白" not in body  # what does not fit is cut, not the quote


def test_every_counselor_answer_quotes_words_its_prompt_holds(release):
    # the reward model can only learn to read the question if the answer's quote is in it
    folder, _ = release
    rows = [r for s in ("train", "validation") for r in _rows(folder, s) if r["answer_role"] == "counselor"]
    assert len(rows) > 250
    assert all(quotes_of(r["answer"], r["prompt"]) for r in rows)


@pytest.mark.parametrize("vocab", ["char", "small"])
def test_small_vocabularies_keep_coe_tags_whole_after_a_reload(release, tmp_path, vocab):
    # AutoTokenizer rebuilds a qwen2 model's tokenizer from vocab + merges: the saved folder must survive that
    from transformers import AutoTokenizer

    from training.tiny import COE_TAGS, TinyArguments, build_tiny

    folder, _ = release
    out = build_tiny(
        TinyArguments(out=str(tmp_path / vocab), vocab=vocab, corpus=[str(folder / "train.parquet")])
    )
    tokenizer = AutoTokenizer.from_pretrained(out)
    ids = tokenizer(COE)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert all(tag in tokens for tag in COE_TAGS)
    assert tokenizer.decode(ids, skip_special_tokens=True) == COE
    pieces = [tokenizer.decode([i]) for i in ids if tokenizer.convert_ids_to_tokens(i) not in COE_TAGS]
    if vocab == "char":  # one token per character; a character the corpus lacks falls back to bytes
        assert sum(len(p) == 1 for p in pieces) >= 0.95 * len(pieces)
        assert all(len(p) <= 1 for p in pieces)
    else:
        assert len(ids) < 0.6 * len(COE)
        # trained on the system prompt as often as the model reads it (once per prompt), not once
        from empathyqa.coe import SYSTEM_PROMPT

        assert len(tokenizer(SYSTEM_PROMPT)["input_ids"]) < 0.4 * len(SYSTEM_PROMPT)


def test_quarters_compare_first_and_last_quarter_with_standard_errors():
    flat = quarters([0.5] * 8)
    assert flat["rise"] == 0 and not flat["rise_over_2se"]
    rising = quarters([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert rising["first_quarter"] == pytest.approx(0.15) and rising["last_quarter"] == pytest.approx(0.75)
    assert rising["first_quarter_se"] == pytest.approx(0.05)
    assert rising["rise_over_2se"]
    noisy = quarters([0.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.2, 1.0])
    assert noisy["rise"] == pytest.approx(0.1) and not noisy["rise_over_2se"]


def test_length_controlled_quality_takes_out_a_rise_that_length_alone_explains():
    # 8 steps, 2 answers each: a score that only follows length (0.01 per character) ...
    records = [
        {"step": step, "chars": chars, "score": chars / 100}
        for step in range(1, 9)
        for chars in (20 + 5 * step, 30 + 5 * step)
    ]
    pure_length = length_controlled(records)
    assert pure_length["answer_chars"]["first_quarter"] == pytest.approx(32.5)
    assert pure_length["answer_chars"]["last_quarter"] == pytest.approx(62.5)
    assert pure_length["quality_per_char"] == pytest.approx(0.01)
    assert pure_length["answer_quality_length_controlled"]["rise"] == pytest.approx(0.0, abs=1e-9)
    # ... and one that rises at a constant length keeps its rise
    steady = [{"step": r["step"], "chars": 40, "score": r["step"] / 10} for r in records]
    assert length_controlled(steady)["answer_quality_length_controlled"]["rise"] == pytest.approx(0.6)
    assert length_controlled(records[:1]) == {}


def test_copy_share_flags_a_verbatim_training_completion_only():
    other = COE.replace("考研第三年，还是没上岸", "分手三个月了还走不出来").replace("挫败", "失落")
    training = [COE, "<answer>完全不同的一段话，讲的是睡眠和作息的安排。</answer>"]
    result = copy_share([COE, "<answer>今天天气很好，我们去公园散步吧。</answer>", other], training)
    assert result["copy_rate"] == pytest.approx(2 / 3)  # the verbatim one and the near copy
    assert copy_share(["短"], training)["copy_rate"] == 0.0


def test_distinct_answer_share_sees_one_answer_given_to_every_question():
    same = [COE.replace("考研第三年，还是没上岸", topic) for topic in ("失眠", "分手", "考试")]
    varied = [g.replace("</answer>", f"（{i}）</answer>") for i, g in enumerate(same)]
    assert score_generations(same + ["坏的"], ["q"] * 4, None)["distinct_answer_share"] == pytest.approx(
        1 / 3
    )
    assert score_generations(varied, ["q"] * 3, None)["distinct_answer_share"] == 1.0
    assert score_generations(["坏的"], ["q"], None) == {
        "format_rate": 0.0,
        "distinct_answer_share": 0.0,
        "quotes_the_post_share": 0.0,
    }


def test_quotes_the_post_share_counts_answers_quoting_their_own_prompt():
    prompt = "标题：考研第三年，还是没上岸\n\n我总在想，别人都能坚持，为什么就我不行。"
    other = "标题：失眠\n\n我每天凌晨三点就醒。"
    # the same answer reads the first post, not the second; a quote of 3 characters is not a quote
    short = COE.replace("别人都能坚持，为什么就我不行", "我不行")
    scores = score_generations([COE, COE, short], [prompt, other, prompt], None)
    assert scores["quotes_the_post_share"] == pytest.approx(1 / 3)


def test_recipe_paths_resolve_against_the_recipe_folder(tmp_path, monkeypatch):
    folder = tmp_path / "recipes"
    folder.mkdir()
    (tmp_path / "runs" / "model").mkdir(parents=True)
    (folder / "r.yaml").write_text(
        "release: ../data/1.0.0\nsft:\n  model_name_or_path: ../runs/model\n  output_dir: out/sft\n"
        "grpo:\n  model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct\n  reward_model_path: /abs/reward\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path / "runs")  # any other current folder
    sft = recipe_defaults(str(folder / "r.yaml"), "sft")
    assert sft["release"] == str(tmp_path / "data" / "1.0.0")
    assert sft["model_name_or_path"] == str(tmp_path / "runs" / "model")
    assert sft["output_dir"] == str(folder / "out" / "sft")
    grpo = recipe_defaults(str(folder / "r.yaml"), "grpo")
    assert grpo["model_name_or_path"] == "Qwen/Qwen2.5-0.5B-Instruct"  # a hub id stays one
    assert grpo["reward_model_path"] == "/abs/reward"
