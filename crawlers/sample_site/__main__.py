"""`python -m crawlers.sample_site --port N`: serve the sample site on 127.0.0.1 until stopped."""

from __future__ import annotations

import argparse
import json
import sys

from crawlers.sample_site.render import DATA_FILE
from crawlers.sample_site.server import SampleSite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawlers.sample_site",
        description="Serve the bundled Yixinli/Douban-style sample site on 127.0.0.1. "
        "Prints one line with the URL (port 0 picks a free port), then serves until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one; default)")
    parser.add_argument("--data", default=str(DATA_FILE), help="questions JSON (default: the bundled one)")
    parser.add_argument(
        "--layout",
        choices=("standard", "changed", "changed-list"),
        default="standard",
        help="changed: renamed classes on question/topic pages; changed-list: on list pages too",
    )
    parser.add_argument(
        "--block",
        choices=("once", "always"),
        default="once",
        help="anti-bot questions: blocked on the first fetch only (default), or always",
    )
    parser.add_argument("--broken-pages", action="store_true", help="also list an empty and a truncated page")
    parser.add_argument("--access-log", help="append 'status<TAB>path<TAB>user-agent' lines to this file")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    try:
        with open(args.data, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read --data {args.data}: {exc}", file=sys.stderr)
        return 2
    try:
        server = SampleSite(args.port, data, args.layout, args.block, args.broken_pages, args.access_log)
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(
        f"Sample site on http://127.0.0.1:{server.port} (layout={args.layout}, block={args.block})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
