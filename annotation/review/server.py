"""Start, stop and inspect a local Label Studio server (`python -m annotation.review.server start|stop|status`).

Label Studio lives in its own virtual environment (`.venv-ls`, made by `make install-ls`): it pins
versions of openai and pyarrow that the main one cannot share. The server binds 127.0.0.1, keeps its
database under the project (`.label-studio/`, git-ignored, mode 700: it holds the admin token), and gets its admin user and API token
from the environment (LABEL_STUDIO_USERNAME, LABEL_STUDIO_PASSWORD, LABEL_STUDIO_API_KEY) or from
generated values stored in `<data dir>/credentials.json` (mode 600).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / ".label-studio"
DEFAULT_LS_BIN = REPO_ROOT / ".venv-ls" / "bin" / "label-studio"
DEFAULT_PORT = 8085
CREDENTIALS_FILE = "credentials.json"
STATE_FILE = "server.json"
LOG_FILE = "server.log"


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    email: str
    password: str
    data_dir: str
    pid: int


class ServerError(RuntimeError):
    """A problem with a clear message for the user; the CLI prints it without a traceback."""


# --------------------------------------------------------------------------- credentials
def load_credentials(data_dir: Path) -> dict[str, str] | None:
    path = Path(data_dir) / CREDENTIALS_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def ensure_credentials(data_dir: Path) -> dict[str, str]:
    """The admin login: stored ones win (the database already holds them), else env, else generated."""
    stored = load_credentials(data_dir)
    if stored:
        return stored
    creds = {
        "email": os.environ.get("LABEL_STUDIO_USERNAME") or "admin@empathyqa.local",
        "password": os.environ.get("LABEL_STUDIO_PASSWORD") or secrets.token_urlsafe(12),
        "token": os.environ.get("LABEL_STUDIO_API_KEY")
        or os.environ.get("LABEL_STUDIO_USER_TOKEN")
        or secrets.token_hex(20),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(creds, fh, indent=2)
    return creds


# --------------------------------------------------------------------------- process helpers
def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)  # a finished child of ours would otherwise linger as a zombie
    except ChildProcessError:
        pass


def _is_label_studio(pid: int, data_dir: Path) -> bool:
    """Alive, and the server of this data dir (a recycled pid, or another checkout's server, is not)."""
    _reap(pid)
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"LABEL_STUDIO_BASE_DATA_DIR={data_dir}".encode() in environ


def is_up(url: str, timeout: float = 3.0) -> bool:
    try:
        return httpx.get(f"{url}/api/version", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _read_state(data_dir: Path) -> dict | None:
    path = data_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def running(data_dir: Path = DEFAULT_DATA_DIR) -> Server | None:
    """The server started from this data dir, if its process is alive."""
    data_dir = Path(data_dir).resolve()
    state = _read_state(data_dir)
    creds = load_credentials(data_dir)
    if not state or not creds or not _is_label_studio(int(state["pid"]), data_dir):
        return None
    return Server(
        state["url"], creds["token"], creds["email"], creds["password"], str(data_dir), state["pid"]
    )


def _log_tail(data_dir: Path, lines: int = 15) -> str:
    path = data_dir / LOG_FILE
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------- start / stop
def start(
    data_dir: Path = DEFAULT_DATA_DIR,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    timeout: float = 300.0,
    ls_bin: Path = DEFAULT_LS_BIN,
) -> Server:
    """Start Label Studio (or find it already running) and wait until its API answers the token."""
    data_dir = Path(data_dir).resolve()
    existing = running(data_dir)
    if existing and is_up(existing.url):
        return existing
    port = port or free_port(host)
    if not Path(ls_bin).exists():
        raise ServerError(f"Label Studio is not installed at {ls_bin}: run `make install-ls` first")
    if _port_in_use(host, port):
        time.sleep(5)  # a server stopped a moment ago may still be letting go of it
    if _port_in_use(host, port):
        raise ServerError(f"port {port} on {host} is in use: choose another with --port (or LS_PORT=...)")
    creds = ensure_credentials(data_dir)
    # The database holds the admin token: the folder and whatever the server writes stay private.
    data_dir.chmod(0o700)
    for path in data_dir.glob("*.sqlite3"):
        path.chmod(0o600)
    env = dict(os.environ)
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_USERNAME=creds["email"],
        LABEL_STUDIO_PASSWORD=creds["password"],
        LABEL_STUDIO_USER_TOKEN=creds["token"],
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
    )
    url = f"http://{host}:{port}"
    cmd = [str(ls_bin), "start", "--internal-host", host, "--port", str(port), "--no-browser"]
    with open(data_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=0o077,
        )
    (data_dir / STATE_FILE).write_text(json.dumps({"pid": proc.pid, "url": url, "port": port, "host": host}))
    deadline = time.monotonic() + timeout
    while not is_up(url, timeout=2.0):
        if proc.poll() is not None:
            (data_dir / STATE_FILE).unlink(missing_ok=True)
            raise ServerError(
                f"Label Studio exited (code {proc.returncode}) while starting:\n{_log_tail(data_dir)}"
            )
        if time.monotonic() > deadline:
            stop(data_dir)
            raise ServerError(
                f"Label Studio did not answer at {url} within {timeout:.0f} s:\n{_log_tail(data_dir)}"
            )
        time.sleep(0.5)
    check = httpx.get(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {creds['token']}"})
    if check.status_code != 200:
        raise ServerError(
            f"Label Studio is up at {url} but rejects the token in {data_dir / CREDENTIALS_FILE} "
            f"(HTTP {check.status_code}); this data dir was made with other credentials"
        )
    return Server(url, creds["token"], creds["email"], creds["password"], str(data_dir), proc.pid)


def stop(data_dir: Path = DEFAULT_DATA_DIR, timeout: float = 30.0) -> bool:
    """Stop the server started from this data dir; False when none was running."""
    data_dir = Path(data_dir).resolve()
    state = _read_state(data_dir)
    if not state:
        return False
    pid = int(state["pid"])
    was_running = _is_label_studio(pid, data_dir)
    if was_running:
        # start() put the server in its own session: its process group holds only it and its children,
        # and a child that outlives it would keep the port open, so wait for the whole group.
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
            while _group_alive(pid) and time.monotonic() < deadline + 10:
                time.sleep(0.2)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return was_running


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- users
def _session_token(client: httpx.Client) -> str:
    reply = client.get("/api/current-user/token")
    reply.raise_for_status()
    return reply.json()["token"]


def signup_user(url: str, admin_token: str, email: str, password: str) -> str:
    """Create an account through the organisation's invite link (as a new annotator would); its API token."""
    invite = httpx.get(f"{url}/api/invite", headers={"Authorization": f"Token {admin_token}"}, timeout=30)
    if invite.status_code in (401, 403):
        raise ServerError(f"Label Studio at {url} rejected the admin token (HTTP {invite.status_code})")
    invite.raise_for_status()
    link = invite.json()["invite_url"]
    with httpx.Client(base_url=url, timeout=60) as client:
        reply = _post_account_form(client, url, link, email, password)
        if reply.status_code != 302:
            raise ServerError(f"Label Studio refused to create {email}: {_form_errors(reply.text)}")
        return _session_token(client)


def login_token(url: str, email: str, password: str) -> str:
    """The API token of an existing account, by logging in with its password."""
    with httpx.Client(base_url=url, timeout=60) as client:
        reply = _post_account_form(client, url, "/user/login/", email, password)
        if reply.status_code != 302:
            raise ServerError(f"Label Studio did not accept the login of {email}")
        return _session_token(client)


def _post_account_form(
    client: httpx.Client, url: str, path: str, email: str, password: str
) -> httpx.Response:
    """Submit an email + password form the way a browser does: fetch it for the CSRF cookie, then post."""
    client.get(path)
    return client.post(
        path,
        data={
            "email": email,
            "password": password,
            "csrfmiddlewaretoken": client.cookies.get("csrftoken", ""),
        },
        headers={"Referer": f"{url}{path}"},
    )


def _form_errors(html: str) -> str:
    import re

    found = re.findall(r'class="[^"]*(?:error|field_errors)[^"]*"[^>]*>\s*([^<]+?)\s*<', html)
    return "; ".join(dict.fromkeys(found)) or "the signup form was not accepted"


# --------------------------------------------------------------------------- CLI
def _print_server(server: Server, note: str) -> None:
    print(f"Label Studio {note}: {server.url}")
    print(f"  log in as   {server.email} / {server.password}")
    print(f"  API token   {server.token}")
    print(f"  stored in   {Path(server.data_dir) / CREDENTIALS_FILE}")
    if Path(server.data_dir) == DEFAULT_DATA_DIR.resolve():
        print("  stop with   make label-studio-stop")
    else:
        print(f"  stop with   python -m annotation.review.server stop --data-dir {server.data_dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotation.review.server", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("start", "start the server and wait until it answers"),
        ("stop", "stop it"),
        ("status", "is it running?"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="database + media (default: %(default)s)"
        )
        if name == "start":
            cmd.add_argument(
                "--port",
                type=int,
                default=DEFAULT_PORT,
                help="port on 127.0.0.1; 0 picks a free one (default: %(default)s)",
            )
            cmd.add_argument(
                "--timeout", type=float, default=300.0, help="seconds to wait for it (default: %(default)s)"
            )
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            print(
                f"starting Label Studio (data in {args.data_dir}; a fresh one takes ~30-60 s) ...",
                file=sys.stderr,
            )
            server = start(args.data_dir, port=args.port, timeout=args.timeout)
            _print_server(server, "is running")
        elif args.command == "stop":
            print("Label Studio stopped" if stop(args.data_dir) else "Label Studio was not running")
        else:
            server = running(args.data_dir)
            if server and is_up(server.url):
                _print_server(server, "is running")
            else:
                print(
                    f"Label Studio is not running (data dir {args.data_dir}); start it with `make label-studio`"
                )
                return 1
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
