"""Every stage at paper scale on one machine: 40,959 questions and 168,470 answers, timed, with peak memory.

    .venv/bin/python bench/scale.py [--scale 0.05] [--sizes 1000,10000] [--engine local|ray]
    make bench-scale        # the full size (--scale 1): run it on a quiet machine

For each size (1k and 10k questions and the full size times --scale) it generates a corpus with
`empathyqa.synthetic` (answers per question as in the paper, stock counselor sentences, reposts, risk
posts) and runs each stage as its own process, timing it and reading that process's peak RSS:
1. curation: `python -m curation run` (local engine, all cores; --engine ray for Ray);
2. drafting: `python -m annotation draft` of the first --draft-limit pairs against the offline endpoint
   answering in 1-3 s (`--latency-ms 1000-3000`) at concurrency 256; the bound is 256 / mean latency,
   reported overall (the tail of a finite run in it) and in the steady state, with client CPU per
   request; drafting every pair at that latency is EXTRAPOLATED from the steady-state rate, and the
   remaining pairs are drafted at 0 ms latency (--fill) so that review and release run at full size;
3. review: a real Label Studio (`annotation.review.server`), `review push` of up to --review-tasks tasks
   with their pre-filled drafts, 2,000 annotations submitted through the API, `review pull`;
   push/pull time per 1k tasks, import batch size, and the server's memory;
4. release: `python -m curation.release` build (drafts included) and `verify`.
Then a table of every stage at every size, a PNG of the growth curve (--png), and the time a polite
crawl of the full size takes at the crawler's own politeness settings and the parse rate measured by
bench/crawl.py (--crawl runs it). Timings on a loaded machine are upper bounds; the per-core rates are
what the README's cluster estimate is built on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from empathyqa.progress import summary_figures  # noqa: E402

PAPER_QUESTIONS, PAPER_ANSWERS = 40_959, 168_470
ANNOTATORS = 8  # annotation requests in flight in the review stage
PY = sys.executable


class Stage:
    """One stage's figures: wall seconds, CPU seconds, peak RSS (MiB) of its process tree's largest
    process, and its own notes."""

    def __init__(self, name: str) -> None:
        self.name, self.wall, self.cpu, self.rss, self.notes = name, 0.0, 0.0, 0.0, {}


def run_stage(stage: Stage, cmd: list[str], env: dict | None = None, log: Path | None = None) -> str:
    """Run a command as a child; its wall, CPU (with its children) and peak RSS go into `stage`."""
    started = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=REPO, env=env or os.environ, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stage.wall += time.perf_counter() - started
    stage.cpu += usage.ru_utime + usage.ru_stime
    stage.rss = max(stage.rss, usage.ru_maxrss / 1024)
    text = Path(log).read_text(errors="replace") if log else ""
    if proc.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} ... exited {proc.returncode}:\n{text[-3000:]}")
    return text


def tree_rss_mib(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20
    except psutil.Error:
        return 0.0


class Sampler(threading.Thread):
    """Peak RSS of a server's process tree, sampled every half second."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss_mib(self.pid))
            self.stop.wait(0.5)


# ----------------------------------------------------------------------------- stages
def generate(questions: int, folder: Path) -> tuple[Path, dict]:
    from empathyqa.synthetic import Truth, iter_threads

    raw = folder / "raw.jsonl"
    truth = Truth()
    answers = 0
    # the paper's answers per question (168,470 / 40,959 = 4.11)
    mean = PAPER_ANSWERS / PAPER_QUESTIONS
    with raw.open("w", encoding="utf-8") as f:
        for thread in iter_threads(questions, seed=0, truth=truth, mean_answers=mean):
            answers += len(thread["answers"])
            f.write(json.dumps(thread, ensure_ascii=False) + "\n")
    return raw, {"answers": answers, "repost_groups": len(truth.repost_groups)}


def curation(raw: Path, folder: Path, engine: str, workers: int) -> Stage:
    stage = Stage("curation")
    cmd = [PY, "-m", "curation", "run", str(raw), "--out", str(folder / "curated"), "--engine", engine]
    cmd += ["--workers", str(workers)] if workers else []
    run_stage(stage, cmd, log=folder / "curation.log")
    report = json.loads((folder / "curated" / "report.json").read_text(encoding="utf-8"))
    timing = report.get("timing", {})
    stage.notes = {
        "threads out": report["counts"].get("threads_out"),
        "dedup s": timing.get("dedup"),
        "per-record wall s": timing.get("per_record_wall"),
    }
    return stage


def drafting(folder: Path, limit: int, concurrency: int, latency: str, offset: int = 0) -> Stage:
    """`annotation draft` of pairs [offset, offset + limit) at `latency` ms; 0 ms drafts fill the rest."""
    fill = latency in ("0", "0-0")
    stage = Stage("drafting (fill, 0 ms)" if fill else "drafting")
    low, _, high = latency.partition("-")
    mean_s = (float(low) + float(high or low)) / 2000
    from annotation.sample_endpoint import spawn

    proc, url = spawn(folder / "endpoint.port", "--port", "0", "--latency-ms", latency)
    try:
        env = dict(os.environ, OPENAI_API_KEY="offline-sample")
        cmd = [PY, "-m", "annotation", "draft", str(folder / "curated"), "--out", str(folder / "drafts")]
        cmd += ["--model", "empathyqa-offline-sample", "--base-url", url, "--concurrency", str(concurrency)]
        cmd += ["--limit", str(offset + limit), "--answers-per-question", "100"]
        log = folder / ("drafting-fill.log" if fill else "drafting.log")
        text = run_stage(stage, cmd, env=env, log=log)
        import psutil

        times = psutil.Process(proc.pid).cpu_times()
        server_cpu = times.user + times.system
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    f = summary_figures(text)
    drafted, requests = int(f.get("drafted now", 0)), int(f.get("requests", 0))
    stage.notes = {
        "drafted now": drafted,
        "command wall s": f.get("wall time s"),
        "requests/s overall": f.get("requests/s overall"),
        "client CPU ms/req": f.get("client CPU ms/request"),
        "endpoint CPU ms/req": round(1000 * server_cpu / max(1, requests), 2),
    }
    if not fill:
        bound = concurrency / mean_s
        overall, steady = f.get("requests/s overall", 0.0), f.get("requests/s steady state", 0.0)
        stage.notes.update(
            {
                "bound req/s": round(bound, 1),
                "share of bound overall": f"{overall / bound:.1%}",
                "share of bound steady state": f"{steady / bound:.1%}",
                # what was once reported: drafts over the whole command (start, read, probe, compaction)
                "share of bound, whole command": f"{drafted / max(1e-9, f.get('wall time s', 0)) / bound:.1%}",
                "ramp/tail s": f"{f.get('ramp s', 0):.1f}/{f.get('tail s', 0):.1f}",
                "loop lag p99 ms": f.get("event loop lag p99 ms"),
            }
        )
    return stage


def review(folder: Path, tasks: int, annotations: int) -> tuple[Stage, Stage]:
    """Push up to `tasks` drafts into a fresh Label Studio, submit `annotations`, pull."""
    import pyarrow.parquet as pq

    from annotation.review import server as ls_server
    from annotation.review.commands import IMPORT_BATCH
    from annotation.review.simulate import _result
    from annotation.review.tasks import draft_layers

    drafts = pq.read_table(folder / "drafts" / "coe.parquet")
    if drafts.num_rows > tasks:
        drafts = drafts.slice(0, tasks)
    push_in = folder / "review-drafts"
    push_in.mkdir(exist_ok=True)
    pq.write_table(drafts, push_in / "coe.parquet")
    data_dir = folder / "label-studio"
    push, pull = Stage("review push"), Stage("review pull")
    started = time.perf_counter()
    server = ls_server.start(data_dir, port=ls_server.free_port(), timeout=600)
    push.notes["server start s"] = round(time.perf_counter() - started, 1)
    sampler = Sampler(server.pid)
    sampler.start()
    try:
        env = dict(os.environ, LABEL_STUDIO_URL=server.url, LABEL_STUDIO_API_KEY=server.token)
        cmd = [PY, "-m", "annotation", "review", "push", str(push_in), "--curated", str(folder / "curated")]
        run_stage(push, cmd + ["--project", "scale bench"], env=env, log=folder / "push.log")
        n = drafts.num_rows
        push.notes.update(
            {"tasks": n, "batch": IMPORT_BATCH, "s per 1k tasks": round(1000 * push.wall / max(1, n), 2)}
        )
        from label_studio_sdk import LabelStudio

        client = LabelStudio(base_url=server.url, api_key=server.token, timeout=300)
        project = next(p for p in client.projects.list() if p.title == "scale bench")
        started = time.perf_counter()
        tasks_to_annotate = list(islice(client.tasks.list(project=project.id, fields="all"), annotations))

        def annotate(k: int) -> None:
            task = tasks_to_annotate[k]
            layers = draft_layers(task.data) if hasattr(task, "data") else None
            verdict = "accepted" if k % 3 else "edited"
            client.annotations.create(id=task.id, result=_result(layers, verdict, 4, []), lead_time=30.0)

        # annotators work side by side: one request at a time would time the round trip, not the server
        with ThreadPoolExecutor(ANNOTATORS) as pool:
            list(pool.map(annotate, range(len(tasks_to_annotate))))
        done = len(tasks_to_annotate)
        annotate_s = time.perf_counter() - started
        pull.notes.update(
            {
                "annotations": done,
                "annotators in flight": ANNOTATORS,
                "annotate s per 1k": round(1000 * annotate_s / max(1, done), 1),
            }
        )
        cmd = [PY, "-m", "annotation", "review", "pull", "--project", "scale bench"]
        run_stage(pull, cmd + ["--out", str(folder / "pulled")], env=env, log=folder / "pull.log")
        pull.notes["s per 1k tasks"] = round(1000 * pull.wall / max(1, n), 2)
    finally:
        sampler.stop.set()
        sampler.join()
        ls_server.stop(data_dir)
    push.notes["server peak RSS MiB"] = round(sampler.peak)
    pull.notes["server peak RSS MiB"] = round(sampler.peak)
    return push, pull


def release(folder: Path, index: int) -> tuple[Stage, Stage]:
    build, verify = Stage("release build"), Stage("release verify")
    version = f"0.0.{index}"
    coe = [str(folder / "drafts")] + ([str(folder / "pulled")] if (folder / "pulled").exists() else [])
    cmd = [PY, "-m", "curation.release", "--curated", str(folder / "curated"), "--coe", *coe]
    cmd += ["--version", version, "--out", str(folder / "release"), "--include-drafts", "--allow-stand-in"]
    run_stage(build, cmd, log=folder / "release.log")
    run_stage(
        verify,
        [PY, "-m", "curation.release", "verify", str(folder / "release" / version)],
        log=folder / "verify.log",
    )
    import pyarrow.parquet as pq

    rows = sum(pq.read_metadata(p).num_rows for p in (folder / "release" / version).rglob("*.parquet"))
    build.notes["rows"] = rows
    return build, verify


# ----------------------------------------------------------------------------- crawl estimate
def crawl_estimate(questions: int, run_bench: bool) -> list[str]:
    from crawlers import settings

    delay = settings.DOWNLOAD_DELAY
    per_domain = settings.CONCURRENT_REQUESTS_PER_DOMAIN
    answers_per_page = 20  # yixinli shows this many answers per question page
    pages = (
        questions * (1 + max(0.0, PAPER_ANSWERS / PAPER_QUESTIONS / answers_per_page - 1)) + questions / 20
    )
    lines = [
        f"crawl, polite ({per_domain} request at a time per site, DOWNLOAD_DELAY {delay} s with jitter): "
        f"about {pages:,.0f} pages ({questions:,} question pages, list pages at 20 a page) -> "
        f"{pages * delay / per_domain / 3600:,.1f} h on one site; the crawl is bound by the delay, not the CPU"
    ]
    if run_bench:
        text = subprocess.run(
            [PY, "bench/crawl.py", "--scale", "3", "--repeats", "2"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        ).stdout
        lines.append("bench/crawl.py (measured):\n    " + "\n    ".join(text.strip().splitlines()[-12:]))
    return lines


# ----------------------------------------------------------------------------- output
def table(results: dict[int, list[Stage]]) -> str:
    names = []
    for stages in results.values():
        names += [s.name for s in stages if s.name not in names]
    sizes = sorted(results)
    head = f"| stage | {' | '.join(f'{n:,} q: wall s / CPU s / peak MiB' for n in sizes)} |"
    lines = [head, "|---" * (len(sizes) + 1) + "|"]
    for name in names:
        cells = []
        for n in sizes:
            s = next((s for s in results[n] if s.name == name), None)
            cells.append(f"{s.wall:,.1f} / {s.cpu:,.1f} / {s.rss:,.0f}" if s else "-")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines.append("")
    for n in sizes:
        for s in results[n]:
            if s.notes:
                lines.append(f"- {n:,} q, {s.name}: " + ", ".join(f"{k} {v}" for k, v in s.notes.items()))
    return "\n".join(lines)


def plot(results: dict[int, list[Stage]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = {s.name for stages in results.values() for s in stages}
    for name in sorted(names):
        points = [(n, s) for n in sizes for s in results[n] if s.name == name]
        axes[0].plot([n for n, _ in points], [s.wall for _, s in points], marker="o", label=name)
        axes[1].plot([n for n, _ in points], [s.rss for _, s in points], marker="o", label=name)
    for ax, label in zip(axes, ("wall seconds", "peak RSS MiB"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("questions")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Empathy-QA stages by corpus size (one machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run_step(name: str, raw: Path, folder: Path, index: int, args: argparse.Namespace) -> list[Stage]:
    if name == "curation":
        return [curation(raw, folder, args.engine, args.workers)]
    if name == "drafting":
        limit = args.draft_limit or 10**9
        timed = drafting(folder, limit, args.concurrency, args.latency_ms)
        stages = [timed]
        from annotation.draft.selection import read_curated, select_pairs

        selected = len(select_pairs(read_curated(folder / "curated"), 100)[0])  # the drafter's own choice
        steady = summary_figures((folder / "drafting.log").read_text()).get("requests/s steady state")
        if steady and selected > limit:
            timed.notes["EXTRAPOLATED: every pair at this latency, h"] = round(selected / steady / 3600, 2)
        rest = {"all": selected, "review": args.review_tasks, "none": 0}[args.fill] - limit
        if rest > 0:
            stages.append(drafting(folder, rest, args.fill_concurrency, "0", offset=limit))
        return stages
    if name == "review":
        return list(review(folder, args.review_tasks, args.annotations))
    return list(release(folder, index))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.05, help="share of the paper's 40,959 questions")
    parser.add_argument("--sizes", default="1000,10000", help="smaller sizes for the growth curve")
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency-ms", default="1000-3000")
    parser.add_argument(
        "--draft-limit",
        type=int,
        default=10000,
        help="drafts per size at the realistic latency (0: every pair); the run's tail weighs less in more: 94.8%% of the bound at 5,000, 96.9%% at 10,000",
    )
    parser.add_argument(
        "--fill", choices=["all", "review", "none"], default="all",
        help="pairs past --draft-limit drafted at 0 ms latency so review and release run at size: all of "
        "them, enough for --review-tasks, or none",
    )  # fmt: skip
    parser.add_argument("--fill-concurrency", type=int, default=64)
    parser.add_argument("--review-tasks", type=int, default=20000)
    parser.add_argument("--annotations", type=int, default=2000)
    parser.add_argument("--skip", default="", help="comma list: drafting,review,release")
    parser.add_argument("--crawl", action="store_true", help="also run bench/crawl.py for the parse rate")
    parser.add_argument("--png", type=Path, default=REPO / "bench" / "scale.png")
    parser.add_argument("--keep", type=Path, help="keep the work folders here")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    full = max(1, round(PAPER_QUESTIONS * args.scale))
    sizes = sorted({n for n in (int(s) for s in args.sizes.split(",") if s) if n < full} | {full})
    os.environ.setdefault("EMPATHYQA_SALT", "scale-bench")
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    print(
        f"sizes {sizes} questions (full size {PAPER_QUESTIONS:,} x scale {args.scale}); cores {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    results: dict[int, list[Stage]] = {}
    root = args.keep or Path(tempfile.mkdtemp(prefix="empathyqa-scale-"))
    for index, n in enumerate(sizes, 1):
        folder = root / f"q{n}"
        folder.mkdir(parents=True, exist_ok=True)
        gen = Stage("generate")
        started = time.perf_counter()
        raw, info = generate(n, folder)
        gen.wall = time.perf_counter() - started
        gen.notes = {"answers": info["answers"], "repost groups": info["repost_groups"]}
        stages = [gen]
        results[n] = stages
        print(f"\n== {n:,} questions, {info['answers']:,} answers ==", flush=True)
        names = ["curation"] + [x for x in ("drafting", "review", "release") if x not in skip]
        if "drafting" not in names:
            names = ["curation"]  # review and release need the drafts
        for name in names:
            try:
                done = run_step(name, raw, folder, index, args)
            except Exception as exc:  # a stage that breaks is a result: say what broke, go on
                failed = Stage(name)
                failed.notes = {"FAILED": str(exc).splitlines()[0][:200]}
                done = [failed]
            stages += done
            for s in done:
                notes = ", ".join(f"{k} {v}" for k, v in s.notes.items())
                print(
                    f"  {s.name:15s} {s.wall:8.1f} s wall {s.cpu:8.1f} s CPU {s.rss:7,.0f} MiB  {notes}",
                    flush=True,
                )
    print("\n" + table(results))
    for line in crawl_estimate(PAPER_QUESTIONS, args.crawl):
        print(line)
    plot(results, args.png)
    print(f"\ngrowth curve: {args.png}; work folders: {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
