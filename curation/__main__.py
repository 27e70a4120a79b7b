"""`python -m curation run INPUT... --out DIR [--config curation.yaml]` (see curation/run.py).

`python -m curation.release` is a separate module (the release stage); this entry point is `run` only.
"""

from __future__ import annotations

import argparse
import sys

from curation.run import add_run_parser, main_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation", description="Curate raw Q&A threads.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    args = parser.parse_args(argv)
    return main_run(args)


if __name__ == "__main__":
    sys.exit(main())
