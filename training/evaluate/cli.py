"""`python -m training.evaluate generate | score | human push | human pull`: evaluation as in
Empathy-R1 (automatic metrics, an LLM judge and a human ranking round, reported as Win@K).

    python -m training.evaluate generate --model reference --data datasets/empathy_qa/v1 --out runs/eval
    python -m training.evaluate generate --model runs/sft --data datasets/empathy_qa/v1 --out runs/eval
    python -m training.evaluate generate --model openai:qwen2.5-7b-instruct --base-url URL --out runs/eval
    python -m training.evaluate score runs/eval --out runs/eval/report --judge-model NAME --judge-base-url URL
    python -m training.evaluate human push runs/eval --state runs/eval/human_round.json
    python -m training.evaluate human pull --state runs/eval/human_round.json --out runs/eval/human
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from empathyqa.config import add_dataclass_arguments, dataclass_from_args
from empathyqa.progress import print_summary
from training.evaluate.generate import EvaluateInputError, GenerateConfig


@dataclass
class ScoreConfig:
    out: str = field(
        default="runs/eval/report", metadata={"help": "report folder: report.md, report.json, win_at_k.png"}
    )
    k: list[int] = field(default_factory=list, metadata={"help": "Win@K values (default 1 .. systems-1)"})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples of posts for the 95%% CIs"})
    seed: int = 0
    judge_model: str = field(default="", metadata={"help": "judge model name; empty: no judge"})
    judge_base_url: str = field(
        default="",
        metadata={
            "help": "judge endpoint (or OPENAI_BASE_URL); `sample`: the bundled offline heuristic judge"
        },
    )
    judge_orders: int = field(
        default=2, metadata={"help": "answer orders per post (2: shuffled and reversed)"}
    )
    judge_concurrency: int = 4
    judge_retries: int = field(default=1, metadata={"help": "re-asks when a reply is not a valid ranking"})
    judge_response_format: str = field(default="json_object", metadata={"choices": ["json_object", "none"]})
    judge_max_tokens: int = 512
    judge_max_posts: int = field(default=0, metadata={"help": "judge only the first N posts (0: all)"})


@dataclass
class LabelStudioConfig:
    url: str = field(default="", metadata={"help": "Label Studio URL (or LABEL_STUDIO_URL)"})
    api_key: str = field(default="", metadata={"help": "Label Studio token (or LABEL_STUDIO_API_KEY)"})
    state: str = field(
        default="runs/eval/human_round.json",
        metadata={"help": "local file: project id and the hidden label -> system mapping"},
    )


@dataclass
class HumanPushConfig(LabelStudioConfig):
    title: str = "Empathy-QA human ranking"
    limit: int = field(default=0, metadata={"help": "first N posts only (0: all)"})
    seed: int = field(default=0, metadata={"help": "seed of the per-task answer shuffle"})
    overlap: int = field(default=2, metadata={"help": "annotators per task (maximum_annotations)"})


@dataclass
class HumanPullConfig(LabelStudioConfig):
    out: str = field(default="runs/eval/human", metadata={"help": "report folder"})
    k: list[int] = field(default_factory=list, metadata={"help": "Win@K values (default 1 .. systems-1)"})
    bootstrap: int = 1000
    seed: int = 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write one system's answers to a release split")
    add_dataclass_arguments(gen, GenerateConfig)
    sc = commands.add_parser("score", help="automatic metrics + LLM judge -> report (Markdown, JSON, PNG)")
    sc.add_argument("inputs", nargs="+", help="generation folders or files (one .parquet per system)")
    add_dataclass_arguments(sc, ScoreConfig)
    human = commands.add_parser("human", help="human ranking round in Label Studio")
    rounds = human.add_subparsers(dest="round", required=True)
    hp = rounds.add_parser("push", help="create the ranking project (answers anonymised, shuffled per task)")
    hp.add_argument("inputs", nargs="+", help="generation folders or files (one .parquet per system)")
    add_dataclass_arguments(hp, HumanPushConfig)
    hl = rounds.add_parser("pull", help="rankings -> Win@K table + inter-rater agreement")
    add_dataclass_arguments(hl, HumanPullConfig)
    return parser


def run_generate(config: GenerateConfig) -> int:
    from training.evaluate.generate import generate, load_posts, resolve_split

    if not config.model:
        raise EvaluateInputError("--model is required: reference | MODEL_FOLDER | openai:NAME")
    posts = load_posts(resolve_split(config.split, config.data), config.limit or None)
    if not posts:
        raise EvaluateInputError("the split has no posts")
    path, summary = generate(config.model, posts, config, config.name or None, Path(config.out))
    print_summary("evaluate generate", summary)
    print(path)
    return 0


def run_score(config: ScoreConfig, inputs: list[str]) -> int:
    from training.evaluate.judge import JudgeOptions
    from training.evaluate.score import ScoreOptions, score

    stop = None
    judge = None
    if config.judge_model or config.judge_base_url == "sample":
        base_url = config.judge_base_url or None
        if base_url == "sample":
            from annotation.sample_endpoint import JUDGE_BANNER, start_sample_judge

            base_url, stop = start_sample_judge()
        # ScoreConfig's judge_* settings are JudgeOptions' fields under a prefix
        judged = {f.name for f in fields(JudgeOptions)}
        settings = {k[6:]: v for k, v in vars(config).items() if k.startswith("judge_") and k[6:] in judged}
        settings |= {"model": config.judge_model or "sample-judge", "base_url": base_url, "seed": config.seed}
        judge = JudgeOptions(**settings, note=JUDGE_BANNER if stop else "")
        if config.judge_orders < 1:
            raise EvaluateInputError("--judge-orders must be at least 1")
    options = ScoreOptions(
        ks=config.k,
        bootstrap=config.bootstrap,
        seed=config.seed,
        judge=judge,
        judge_max_posts=config.judge_max_posts or None,
    )
    try:
        report, files = score(inputs, Path(config.out), options)
    finally:
        if stop:
            stop()
    summary: dict[str, object] = {
        "systems": len(report["systems"]),
        "posts scored": report["posts"],
        "posts left out": report["posts_left_out"],
    }
    for system, metrics in report["automatic"].items():
        summary[f"{system}: ROUGE-L / BLEU-4"] = f"{_fmt(metrics['rouge_l'])} / {_fmt(metrics['bleu_4'])}"
    if report["judge"]:
        judge_report = report["judge"]
        summary["judge calls (failed)"] = f"{judge_report['calls']} ({judge_report['failed_calls']})"
        overall = (judge_report["table"] or {}).get("overall", {}).get("systems", {})
        for system, cells in overall.items():
            summary[f"{system}: Win@1 / mean rank"] = (
                f"{cells['win@1']['value']:.3f} / {cells['mean_rank']['value']:.2f}"
            )
    summary.update({f"wrote {kind}": str(path) for kind, path in files.items()})
    print_summary("evaluate score", summary)
    return 0


def run_human_push(config: HumanPushConfig, inputs: list[str]) -> int:
    from training.evaluate.generate import read_generations
    from training.evaluate.human import push
    from training.evaluate.score import aligned_posts, generation_files

    systems = read_generations(generation_files(inputs))
    posts, dropped = aligned_posts(systems)
    posts = posts[: config.limit] if config.limit else posts
    if not posts:
        raise EvaluateInputError("the systems share no post")
    state = push(
        systems,
        posts,
        Path(config.state),
        url=config.url or None,
        api_key=config.api_key or None,
        title=config.title,
        seed=config.seed,
        overlap=config.overlap,
    )
    print_summary(
        "evaluate human push",
        {
            "systems": len(systems),
            "tasks created": len(state["tasks"]),
            "posts left out (not answered by every system)": dropped,
            "project": f"{state['url'].rstrip('/')}/projects/{state['project_id']}",
            "state (label -> system mapping)": config.state,
        },
    )
    return 0


def run_human_pull(config: HumanPullConfig) -> int:
    from training.evaluate.human import export_tasks, load_state, pull_report
    from training.evaluate.score import default_ks

    state = load_state(Path(config.state))
    tasks = export_tasks(state, config.url or None, config.api_key or None)
    ks = config.k or default_ks(len(state["systems"]))
    report, files = pull_report(state, tasks, ks, config.bootstrap, config.seed, Path(config.out))
    table, agree, counts = report["table"], report["agreement"], report["counts"]
    summary: dict[str, object] = {"tasks": len(state["tasks"]), **counts}
    for system, cells in (table.get("overall") or {}).get("systems", {}).items():
        summary[f"{system}: Win@1 / mean rank"] = (
            f"{cells['win@1']['value']:.3f} / {cells['mean_rank']['value']:.2f}"
        )
    if agree:
        summary["Kendall's W / Krippendorff alpha"] = (
            f"{_fmt(agree['kendalls_w'])} / {_fmt(agree['krippendorff_alpha_ordinal'])}"
        )
    summary.update({f"wrote {kind}": str(path) for kind, path in files.items()})
    print_summary("evaluate human pull", summary)
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            return run_generate(dataclass_from_args(GenerateConfig, args))
        if args.command == "score":
            return run_score(dataclass_from_args(ScoreConfig, args), args.inputs)
        if args.round == "push":
            return run_human_push(dataclass_from_args(HumanPushConfig, args), args.inputs)
        return run_human_pull(dataclass_from_args(HumanPullConfig, args))
    except (EvaluateInputError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
