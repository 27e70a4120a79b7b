"""`python -m annotation {draft,batch,review} ...`: each subcommand lives in its own module."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "draft": (
        "annotation.draft.drafter",
        "an LLM drafts the Chain-of-Empathy for curated (question, answer) pairs",
    ),
    "batch": ("annotation.draft.batch", "export pairs as OpenAI Batch JSONL / ingest a results file"),
    "review": (
        "annotation.review.commands",
        "push drafts to Label Studio, add annotators, status, pull verified records",
    ),
}


def usage() -> str:
    lines = ["usage: python -m annotation COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items()]
    lines.append("\n`python -m annotation COMMAND --help` explains each one.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
