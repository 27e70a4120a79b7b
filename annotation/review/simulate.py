"""Simulated annotators for the demo: `python -m annotation.review.simulate --project NAME [--annotators 2]`.

Creates demo accounts (demo-annotator-N@example.com) and submits annotations through the API, the way
the labeling interface does, so `review pull` has something to resolve. Choices are a deterministic
function of the pair and the annotator. It refuses projects whose title lacks "demo": simulated
verdicts must never mix with real ones.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from annotation.review import server as ls_server
from annotation.review.tasks import draft_layers
from empathyqa.labelstudio import ReviewError, connect, require_project, resolve_connection
from empathyqa.progress import print_summary, progress
from empathyqa.schema import LAYERS

EDIT_SUFFIX = "（核对：语气可以更温和，先回应情绪。）"


def _roll(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16) % 100


def _result(layers: dict[str, str], verdict: str, rating: int, reasons: list[str]) -> list[dict]:
    result = [
        {"from_name": n, "to_name": "post", "type": "textarea", "value": {"text": [layers[n]]}}
        for n in LAYERS
    ]
    result.append(
        {"from_name": "verdict", "to_name": "post", "type": "choices", "value": {"choices": [verdict]}}
    )
    result.append({"from_name": "rating", "to_name": "post", "type": "rating", "value": {"rating": rating}})
    if reasons:
        result.append(
            {
                "from_name": "reject_reason",
                "to_name": "post",
                "type": "choices",
                "value": {"choices": reasons},
            }
        )
    result.append(
        {
            "from_name": "comment",
            "to_name": "post",
            "type": "textarea",
            "value": {"text": ["模拟标注（demo）"]},
        }
    )
    return result


def _annotator_token(url: str, admin_token: str, index: int) -> tuple[str, str]:
    email, password = f"demo-annotator-{index}@example.com", f"demo-annotator-pass-{index}"
    try:
        return email, ls_server.login_token(url, email, password)
    except ls_server.ServerError:
        return email, ls_server.signup_user(url, admin_token, email, password)


def simulate(url: str | None, token: str | None, data_dir: Path | None, title: str, annotators: int) -> int:
    if "demo" not in title.lower():
        raise ReviewError(
            f"refusing to simulate annotators on {title!r}: the project title must contain 'demo'"
        )
    conn = resolve_connection(url, token, data_dir)
    admin = connect(conn)
    project = require_project(admin, title, conn.url)
    tasks = sorted(admin.tasks.list(project=project.id, fields="all"), key=lambda t: t.data["pair_id"])
    counts = {"accept": 0, "edit": 0, "reject": 0, "already done": 0}
    for index in range(1, annotators + 1):
        email, user_token = _annotator_token(conn.url, conn.token, index)
        user = admin.__class__(base_url=conn.url, api_key=user_token, timeout=120)
        user_id = user.users.whoami().id
        for task in progress(tasks, f"annotator {index}", unit="task"):
            if any(a.get("completed_by") == user_id for a in task.annotations or []):
                counts["already done"] += 1
                continue
            layers = draft_layers(task.data)
            roll = _roll(task.data["pair_id"], index)
            verdict = "accept" if roll < 60 else ("edit" if roll < 90 else "reject")
            if verdict == "edit":
                layers["l4"] += EDIT_SUFFIX
            prediction = task.predictions[0].id if task.predictions else None
            user.annotations.create(
                id=task.id,
                result=_result(
                    layers,
                    verdict,
                    1 + _roll("rating", task.data["pair_id"], index) % 5,
                    ["vague"] if verdict == "reject" else [],
                ),
                parent_prediction=prediction,
                lead_time=30.0 + roll,
            )
            counts[verdict] += 1
    print_summary(f"simulated review -> {title}", {"tasks": len(tasks), "annotators": annotators, **counts})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotation.review.simulate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--project", required=True, help="a demo project's title (must contain 'demo')")
    parser.add_argument(
        "--annotators", type=int, default=2, help="simulated annotators (default: %(default)s)"
    )
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args(argv)
    try:
        return simulate(args.url, args.token, args.data_dir, args.project, args.annotators)
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
