"""PII scrubbing time on adversarial input grows linearly: seconds at 100k and 1M characters, and the ratio.

    .venv/bin/python bench/pii_linear.py [--small 100000] [--large 1000000]

Linear time is a ratio of 10. Baseline, measured in the same run: ordinary counseling text (a post
with a phone number and an email address, repeated) at the same two sizes.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.pii import scrub  # noqa: E402
from empathyqa.synthetic import PII_ADVERSARIAL  # noqa: E402

POST = "最近压力很大，晚上睡不着。想找个咨询师聊聊，我的电话 138 1234 5678，邮箱 xiaoyu.li@example.com。"
INPUTS = {
    "baseline: ordinary posts": lambda n: (POST * (n // len(POST) + 1))[:n],
    **PII_ADVERSARIAL,
}


def seconds(text: str, repeats: int) -> float:
    best = float("inf")
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            scrub(text)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'input':<26} {args.small:>9,} ch {args.large:>11,} ch  ratio")
    worst = 0.0
    for name, make in INPUTS.items():
        small, large = seconds(make(args.small), args.repeats), seconds(make(args.large), args.repeats)
        ratio = large / max(small, 1e-9)
        worst = max(worst, ratio) if not name.startswith("baseline") else worst
        print(f"{name:<26} {small * 1000:9.1f} ms {large * 1000:11.1f} ms  {ratio:5.1f}x", flush=True)
    print(f"worst adversarial ratio {worst:.1f}x (linear: {args.large / args.small:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
