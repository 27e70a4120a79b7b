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
DEMO_VERSION = "0.0.0-demo"


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

    def serve(self, *cmd: str, health: str) -> None:
        print("$ " + " ".join(cmd) + " &", flush=True)
        self.servers.append(subprocess.Popen(cmd, cwd=ROOT, start_new_session=True))
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
        self.banner("1. crawl: scrapy crawl yixinli against the bundled sample site")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.serve(PY, "-m", "crawlers.sample_site", "--port", str(port), health=f"{base}/robots.txt")
        out = self.work / "raw" / "yixinli.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        self.run(
            "scrapy",
            "crawl",
            "yixinli",
            "-a",
            f"base_url={base}",
            "-O",
            str(out),
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=False",
            "-s",
            "CHALLENGE_BACKOFF=1",
            "-s",
            "LOG_LEVEL=INFO",
        )
        print(f"raw threads: {out} ({sum(1 for _ in out.open(encoding='utf-8'))} questions)")
        return out

    def main(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        try:
            self.crawl()
        finally:
            self.stop_servers()
        self.banner(f"done: outputs under {self.work}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m empathyqa.demo",
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
