"""The human ranking round against the real Label Studio of the review tests (conftest fixture)."""

from __future__ import annotations

import json

import pytest
from _evaluate_helpers import write_generation

from training.evaluate.ranking import DIMENSIONS

QUALITY = {"alpha": "好回答", "beta": "中回答", "gamma": "差回答"}


def ranker_result(dimension: str, labels: list[str]) -> dict:
    return {
        "from_name": dimension,
        "to_name": f"{dimension}_answers",
        "type": "ranker",
        # as Label Studio 1.23's editor saves it once every answer was dragged into the ranked column
        "value": {"ranker": {"_": [], f"{dimension}_ranked": labels}},
    }


@pytest.mark.slow
@pytest.mark.labelstudio
def test_push_annotate_pull(tmp_path, label_studio, cli):
    posts = [f"q{i}" for i in range(4)]
    for system, word in QUALITY.items():
        write_generation(tmp_path / "gen", system, {q: f"{word}：对 {q} 的回答" for q in posts})
    state_path = tmp_path / "human_round.json"
    env = label_studio.env()
    proc = cli(
        "training.evaluate",
        [
            "human",
            "push",
            str(tmp_path / "gen"),
            "--state",
            str(state_path),
            "--title",
            "eval test",
            "--seed",
            "3",
        ],
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    state = json.loads(state_path.read_text())
    assert state["systems"] == ["alpha", "beta", "gamma"] and len(state["tasks"]) == 4

    admin = label_studio.client()
    project = admin.projects.get(id=state["project_id"])
    assert "<Ranker" in project.label_config
    tasks = list(admin.tasks.list(project=state["project_id"], fields="all"))
    orders = set()
    for task in tasks:
        data = task.data
        text = json.dumps(data, ensure_ascii=False)
        assert not any(system in text for system in QUALITY)  # anonymised: no system name in Label Studio
        labels = state["tasks"][str(task.id)]["labels"]
        for label, system in labels.items():
            assert data[f"answer_{label}"].startswith(QUALITY[system])  # the stored mapping is right
        orders.add(tuple(labels.values()))
    assert len(orders) > 1  # shuffled per task

    annotators = {
        name: label_studio.create_user(f"{name}-{state['project_id']}@example.com")
        for name in ("alice", "bob", "carol")
    }
    for task in tasks:
        label_of = {system: label for label, system in state["tasks"][str(task.id)]["labels"].items()}
        best_first = [label_of[s] for s in ("alpha", "beta", "gamma")]
        swapped = [label_of[s] for s in ("beta", "alpha", "gamma")]
        alice = [ranker_result(d, best_first) for d in DIMENSIONS]
        bob = [ranker_result(d, swapped if d == "suggestions" else best_first) for d in DIMENSIONS]
        annotators["alice"].client().annotations.create(id=task.id, result=alice, lead_time=12.0)
        annotators["bob"].client().annotations.create(id=task.id, result=bob, lead_time=15.0)
    # carol leaves an incomplete ranking on one task and skips another: both are left out
    partial = ranker_result("comfort", ["A"])
    partial["value"]["ranker"]["_"] = ["B", "C"]
    annotators["carol"].client().annotations.create(id=tasks[0].id, result=[partial])
    annotators["carol"].client().annotations.create(id=tasks[1].id, result=[], was_cancelled=True)

    out = tmp_path / "human"
    proc = cli(
        "training.evaluate",
        ["human", "pull", "--state", str(state_path), "--out", str(out), "--bootstrap", "200"],
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {
        "annotations": 9,
        "cancelled": 1,
        "incomplete_rankings": 1,
        "unranked_dimensions": 4,  # carol's incomplete annotation ranked nothing usable
        "unknown_tasks": 0,
    }
    overall = report["table"]["overall"]["systems"]
    # per post: alpha (1+1+1+1.5)/4, beta (2+2+2+1.5)/4, gamma 3
    assert overall["alpha"]["win@1"]["value"] == 1.0
    assert overall["alpha"]["mean_rank"]["value"] == pytest.approx(1.125)
    assert overall["beta"]["mean_rank"]["value"] == pytest.approx(1.875)
    assert overall["gamma"]["win@2"]["value"] == 0.0
    suggestions = report["table"]["suggestions"]["systems"]
    assert suggestions["alpha"]["win@1"]["value"] == pytest.approx(0.5)
    assert suggestions["beta"]["win@1"]["value"] == pytest.approx(0.5)
    agreement = report["agreement"]
    assert agreement["sources"] == 2
    # suggestions: ranks [1,2,3] and [2,1,3] -> W = 0.75; the other dimensions agree fully
    assert agreement["kendalls_w_by_dimension"]["suggestions"] == pytest.approx(0.75)
    assert agreement["kendalls_w_by_dimension"]["fluency"] == pytest.approx(1.0)
    assert agreement["kendalls_w"] == pytest.approx((3 + 0.75) / 4)
    assert 0.5 < agreement["krippendorff_alpha_ordinal"] < 1.0
    markdown = (out / "report.md").read_text()
    assert "Inter-rater agreement" in markdown and "Win@2" in markdown
    assert (out / "win_at_k.png").stat().st_size > 1000


def test_annotations_to_judgements_without_a_server():
    from training.evaluate.human import annotation_judgements, label_config, ranking_ids

    labels = ["A", "B"]
    assert ranking_ids({"ranker": {"_": [], "comfort_ranked": ["B", "A"]}}, "comfort", labels) == ["B", "A"]
    # untouched: the editor saves every answer in the left column, in the shown order: no ranking
    assert ranking_ids({"ranker": {"_": ["A", "B"], "comfort_ranked": []}}, "comfort") is None
    assert ranking_ids({"ranker": {"_": ["B"], "comfort_ranked": ["A"]}}, "comfort", labels) is None  # half
    assert ranking_ids({"ranker": {"_": [], "fluency_ranked": ["A", "B"]}}, "comfort") is None
    assert ranking_ids({"ranker": ["B", "A"]}, "comfort") is None  # a bare list says nothing was moved
    assert ranking_ids("nonsense", "comfort") is None
    state = {"tasks": {"7": {"question_id": "q0", "labels": {"A": "sft", "B": "reference"}}}}
    tasks = [
        {
            "id": 7,
            "annotations": [
                {"completed_by": 1, "result": [ranker_result(d, ["B", "A"]) for d in DIMENSIONS]},
                {"completed_by": {"id": 2}, "result": [ranker_result("fluency", ["A", "B"])]},
                {"completed_by": 3, "result": [ranker_result("comfort", ["A", "A"])]},
                {  # submitted untouched: in the shown order, but nothing was ranked
                    "completed_by": 4,
                    "result": [
                        {
                            "from_name": d,
                            "to_name": f"{d}_answers",
                            "type": "ranker",
                            "value": {"ranker": {"_": ["A", "B"], f"{d}_ranked": []}},
                        }
                        for d in DIMENSIONS
                    ],
                },
            ],
        },
        {"id": 99, "annotations": []},
    ]
    judgements, counts = annotation_judgements(state, tasks)
    assert counts == {
        "annotations": 4,
        "cancelled": 0,
        "incomplete_rankings": 1,
        "unranked_dimensions": 11,  # 0 + 3 + 4 + 4: annotator 4's untouched rankers count for nothing
        "unknown_tasks": 1,
    }
    assert {(j.source, j.dimension, j.ranking) for j in judgements if j.dimension == "fluency"} == {
        ("annotator-1", "fluency", ("reference", "sft")),
        ("annotator-2", "fluency", ("sft", "reference")),
    }
    config = label_config(3)
    assert config.count("<Ranker") == 4 and "$answer_C" in config and "$answer_D" not in config
    assert config.count('required="true"') == 4 and 'title="fluency"' not in config  # Chinese titles
