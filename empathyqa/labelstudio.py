"""Where the review commands find Label Studio, and the checks that turn failures into one clear line.

URL and token, first found wins: `--url/--token` flags, then LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY,
then the server that `make label-studio` started from the project's `.label-studio/` folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from annotation.review import server as ls_server

START_HINT = "start it with `make label-studio` (or point LABEL_STUDIO_URL at a running one)"


class ReviewError(RuntimeError):
    """A bad case with a message that says what to do; the CLI prints it and exits non-zero."""


@dataclass(frozen=True)
class Connection:
    url: str
    token: str
    data_dir: Path | None  # the local server's data dir, when we know it


def resolve_connection(url: str | None, token: str | None, data_dir: Path | None) -> Connection:
    url = url or os.environ.get("LABEL_STUDIO_URL")
    token = token or os.environ.get("LABEL_STUDIO_API_KEY")
    local_dir = Path(data_dir or ls_server.DEFAULT_DATA_DIR).resolve()
    local = ls_server.running(local_dir)
    creds = ls_server.load_credentials(local_dir)
    if not url and local:
        url = local.url
    if not token and creds and (local is None or url == local.url):
        token = creds["token"]
    if not url:
        raise ReviewError(f"no Label Studio server is known (none running from {local_dir}): {START_HINT}")
    if not token:
        raise ReviewError(f"no API token for {url}: set LABEL_STUDIO_API_KEY (or pass --token)")
    return Connection(url.rstrip("/"), token, local_dir if local and url == local.url else None)


def connect(conn: Connection) -> LabelStudio:
    """A client whose server is up and accepts the token, else a ReviewError."""
    if not ls_server.is_up(conn.url, timeout=10.0):
        raise ReviewError(f"Label Studio is not answering at {conn.url}: {START_HINT}")
    client = LabelStudio(base_url=conn.url, api_key=conn.token, timeout=120)
    try:
        client.users.whoami()
    except ApiError as exc:
        if exc.status_code in (401, 403):
            raise ReviewError(
                f"Label Studio at {conn.url} rejected the API token (HTTP {exc.status_code}): set "
                "LABEL_STUDIO_API_KEY to a valid token (the local admin's is in .label-studio/credentials.json)"
            ) from exc
        raise ReviewError(f"Label Studio at {conn.url} answered HTTP {exc.status_code}: {exc.body}") from exc
    except Exception as exc:  # the SDK's own token exchange raises plain errors on a bad token
        raise ReviewError(f"Label Studio at {conn.url} did not accept the API token: {exc}") from exc
    return client


def find_project(client: LabelStudio, title: str):
    """The project with exactly this title, or None; two of the same title is an error."""
    matches = [p for p in client.projects.list(title=title) if p.title == title]
    if len(matches) > 1:
        ids = ", ".join(str(p.id) for p in matches)
        raise ReviewError(f"{len(matches)} projects are titled {title!r} (ids {ids}): rename all but one")
    return matches[0] if matches else None


def require_project(client: LabelStudio, title: str, url: str):
    project = find_project(client, title)
    if project is None:
        raise ReviewError(
            f"no project titled {title!r} at {url}: push drafts first (`python -m annotation review push ...`)"
        )
    return project
