"""`make demo`: every stage end to end on the bundled sample (sample site, sample LLM endpoint).

Each stage runs as the command a researcher would type, so the demo doubles as a smoke test of the
CLIs. Outputs go under data/demo/ (and the sample release under datasets/empathy_qa/); rerunning
replaces them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEMO_VERSION = "0.1.0-demo"  # the version training/recipes/tiny-cpu.yaml reads
RECIPE = "training/recipes/tiny-cpu.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"demo: {url} did not answer within {timeout:.0f} s")


class Demo:
    def __init__(self, work: Path, steps: int) -> None:
        self.work = work
        self.steps = steps
        self.servers: list[subprocess.Popen] = []

    def banner(self, text: str) -> None:
        print(f"\n\033[1m==> {text}\033[0m", flush=True)

    def run(self, *cmd: str, env: dict[str, str] | None = None) -> None:
        print("$ " + " ".join(cmd), flush=True)
        result = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})})
        if result.returncode != 0:
            raise SystemExit(f"demo: step failed (exit {result.returncode}): {' '.join(cmd)}")

    def serve(self, *cmd: str, health: str, log: str) -> None:
        log_path = self.work / "logs" / log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        print("$ " + " ".join(cmd) + f" > {log_path} 2>&1 &", flush=True)
        with log_path.open("w") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, start_new_session=True, stdout=out, stderr=subprocess.STDOUT
            )
        self.servers.append(proc)
        wait_http(health)

    def stop_servers(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    # ------------------------------------------------------------------ stages
    def crawl(self) -> Path:
        self.banner("1. crawl: scrapy crawl yixinli / douban against the bundled sample site")
        raw = self.work / "raw"
        self.run(PY, "-m", "crawlers.demo", "--out-dir", str(raw))
        return raw

    def curate(self, raw: Path) -> Path:
        self.banner("2. curate: normalise, scrub PII, filter, dedup, flag risk, topics")
        out = self.work / "curated"
        self.run(PY, "-m", "curation", "run", str(raw), "--out", str(out))
        return out

    def draft(self, curated: Path) -> Path:
        out = self.work / "coe"
        if os.environ.get("OPENAI_API_KEY"):
            model = os.environ.get("DRAFT_MODEL", "gpt-4o-mini")
            self.banner(f"3. draft CoE with {model} at {os.environ.get('OPENAI_BASE_URL', 'api.openai.com')}")
            self.run(PY, "-m", "annotation", "draft", str(curated), "--out", str(out), "--model", model)
            return out
        self.banner("3. draft CoE through the offline sample endpoint (set OPENAI_API_KEY for a real one)")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.serve(
            PY,
            "-m",
            "annotation.sample_endpoint",
            "--port",
            str(port),
            health=f"{base}/v1/models",
            log="sample_endpoint.log",
        )
        self.run(
            PY,
            "-m",
            "annotation",
            "draft",
            str(curated),
            "--out",
            str(out),
            "--model",
            "empathyqa-offline-sample",
            "--base-url",
            f"{base}/v1",
            env={"OPENAI_API_KEY": "offline-sample"},
        )
        return out

    def review(self, curated: Path, coe: Path) -> Path | None:
        if os.environ.get("DEMO_SKIP_REVIEW"):
            self.banner("4. review: skipped (DEMO_SKIP_REVIEW is set)")
            return None
        self.banner("4. review in a real Label Studio; two SIMULATED annotators stand in for people")
        ls_dir = self.work / "label-studio"
        where = ["--data-dir", str(ls_dir)]
        project = ["--project", "empathyqa demo"]
        out = self.work / "reviewed"
        self.run(PY, "-m", "annotation.review.server", "start", "--port", "0", *where)
        try:
            self.run(
                PY,
                "-m",
                "annotation",
                "review",
                "push",
                str(coe),
                "--curated",
                str(curated),
                *project,
                "--overlap",
                "2",
                *where,
            )
            self.run(PY, "-m", "annotation", "review", "add-annotator", "reviewer@example.com", *where)
            self.run(PY, "-m", "annotation.review.simulate", *project, "--annotators", "2", *where)
            self.run(PY, "-m", "annotation", "review", "status", *project, *where)
            self.run(PY, "-m", "annotation", "review", "pull", *project, "--out", str(out), *where)
        finally:
            subprocess.run([PY, "-m", "annotation.review.server", "stop", *where], cwd=ROOT)
        return out

    def release(self, curated: Path, coe_dirs: list[Path]) -> Path:
        self.banner(
            f"5. release {DEMO_VERSION} (--include-drafts: tied and unreviewed drafts go out beside verified chains)"
        )
        versions = ROOT / "datasets" / "empathy_qa"
        shutil.rmtree(versions / DEMO_VERSION, ignore_errors=True)
        self.run(
            PY,
            "-m",
            "curation.release",
            "--curated",
            str(curated),
            "--coe",
            *map(str, coe_dirs),
            "--version",
            DEMO_VERSION,
            "--include-drafts",
            "--allow-stand-in",  # the sample endpoint's drafts; the card says they are stand-in text
            *(["--legacy-curated"] if not (curated / "manifest.json").exists() else []),
            "--split",
            "0.8,0.1,0.1",  # the sample is small: a few test posts for the evaluation stage
            "--out",
            str(versions),
        )
        self.run(PY, "-m", "curation.release", "verify", str(versions / DEMO_VERSION))
        return versions / DEMO_VERSION

    def train(self, release: Path) -> Path:
        self.banner(
            f"6. train on {release.name}: tiny Qwen2 (real Qwen vocab) -> SFT -> reward model -> GRPO"
        )
        steps = ["--max_steps", str(self.steps)]
        data = ["--config", RECIPE, "--release", str(release)]
        self.run(PY, "-m", "training.tiny", "--out", "runs/tiny/model")
        self.run(PY, "-m", "training.sft", *data, *steps)
        self.run(PY, "-m", "training.reward", *data, "--max_steps", str(3 * self.steps))
        self.run(PY, "-m", "training.grpo", *data, *steps)
        return ROOT / "runs" / "tiny"

    def evaluate(self, release: Path, runs: Path) -> None:
        self.banner(
            "7. evaluate: professional answers vs the tiny SFT and GRPO models (offline stand-in judge)"
        )
        out = self.work / "eval"
        data = ["--data", str(release), "--split", "test", "--out", str(out)]
        self.run(PY, "-m", "training.evaluate", "generate", "--model", "reference", *data)
        for name in ("sft", "grpo"):
            self.run(
                PY,
                "-m",
                "training.evaluate",
                "generate",
                "--model",
                str(runs / name),
                "--name",
                name,
                *data,
                "--max-new-tokens",
                "64",
            )
        self.run(
            PY,
            "-m",
            "training.evaluate",
            "score",
            str(out),
            "--out",
            str(out / "report"),
            "--judge-base-url",
            "sample",
        )
        print(f"report: {out / 'report' / 'report.md'} and win_at_k.png beside it")

    def main(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        try:
            raw = self.crawl()
            curated = self.curate(raw)
            coe = self.draft(curated)
            reviewed = self.review(curated, coe)
            release = self.release(curated, [coe] + ([reviewed] if reviewed else []))
            runs = self.train(release)
            self.evaluate(release, runs)
        finally:
            self.stop_servers()
        self.banner("done")
        print(f"  raw threads   {self.work / 'raw'}")
        print(f"  curated       {self.work / 'curated'} (report.md: what each step removed)")
        print(f"  CoE drafts    {self.work / 'coe'}")
        if (self.work / "reviewed").exists():
            print(f"  reviewed      {self.work / 'reviewed'}")
        print(f"  release       {release} (README.md is the dataset card)")
        print(f"  models        {runs} (model, sft, reward, grpo)")
        print(f"  evaluation    {self.work / 'eval' / 'report'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "demo", help="where outputs go")
    parser.add_argument("--train-steps", type=int, default=4, help="max_steps for each training stage")
    args = parser.parse_args(argv)
    os.environ.setdefault("EMPATHYQA_PROGRESS", "1")
    # the venv's console scripts (scrapy) must be found even when the venv is not activated
    os.environ["PATH"] = f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    Demo(args.work, args.train_steps).main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
