"""Shared fixtures: `cli` runs any `python -m` command, `fake_endpoint` starts the one fake
OpenAI-compatible endpoint, `label_studio` is one real Label Studio server per test session.

    def test_command(cli, fake_endpoint):
        with fake_endpoint(faults=[Fault("status", status=429)]) as fake:   # stock drafts by default
            proc = cli("annotation", ["draft", ..., "--base-url", fake.url])  # a CompletedProcess

`label_studio`:
It starts from `.venv-ls` (`make install-ls`) on a free 127.0.0.1 port with a temporary data dir,
through `annotation.review.server` (the same code as `make label-studio`), and stops at the end.

    def test_something(label_studio):
        client = label_studio.client()                    # admin, label_studio_sdk.LabelStudio
        alice = label_studio.create_user("alice@example.com")
        alice.client().annotations.create(...)            # acts as that annotator
        subprocess.run([...], env=label_studio.env())     # LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY set
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from annotation.review import server as ls_server
from annotation.sample_endpoint import FakeEndpoint, stock_layers

ROOT = Path(__file__).resolve().parents[1]

START_TIMEOUT_S = 420.0  # a fresh data dir takes ~30 s alone, minutes on a busy 2-core machine


@dataclass(frozen=True)
class LabelStudioUser:
    email: str
    password: str
    token: str
    url: str

    def client(self):
        from label_studio_sdk import LabelStudio

        return LabelStudio(base_url=self.url, api_key=self.token, timeout=120)


@dataclass
class LabelStudioInstance:
    url: str
    token: str
    email: str
    password: str
    data_dir: Path
    port: int

    def client(self):
        from label_studio_sdk import LabelStudio

        return LabelStudio(base_url=self.url, api_key=self.token, timeout=120)

    def create_user(self, email: str, password: str | None = None) -> LabelStudioUser:
        """A new account in the organisation (via the invite link, as a real annotator joins)."""
        password = password or secrets.token_urlsafe(12)
        token = ls_server.signup_user(self.url, self.token, email, password)
        return LabelStudioUser(email, password, token, self.url)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a CLI subprocess that should talk to this server."""
        env = dict(os.environ, LABEL_STUDIO_URL=self.url, LABEL_STUDIO_API_KEY=self.token)
        env.update(extra)
        env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
        return env

    def restart(self) -> None:
        """Stop and start again on the same data dir and port (a few seconds: no migrations)."""
        ls_server.stop(self.data_dir)
        server = ls_server.start(self.data_dir, port=self.port, timeout=START_TIMEOUT_S)
        assert server.url == self.url and server.token == self.token


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("label-studio")
    port = ls_server.free_port()
    try:
        server = ls_server.start(data_dir, port=port, timeout=START_TIMEOUT_S)
    except ls_server.ServerError as exc:
        ls_server.stop(data_dir)
        pytest.fail(f"could not start Label Studio for the tests: {exc}")
    try:
        yield LabelStudioInstance(server.url, server.token, server.email, server.password, data_dir, port)
    finally:
        ls_server.stop(data_dir)


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess]:
    """`cli(module, args, timeout=180, env=None)`: `python -m module *args` from the repo root.

    OPENAI_BASE_URL is dropped unless `env` sets it, so no test reaches an endpoint by accident."""

    def run(
        module: str, args: list, timeout: float = 180, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT)}
        full_env.pop("OPENAI_BASE_URL", None)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def fake_endpoint() -> Iterator[Callable[..., FakeEndpoint]]:
    """`fake_endpoint(**FakeEndpoint options)`: the fake, replying stock drafts unless told otherwise;
    use it as a context manager (any left running is stopped at the end of the test)."""
    started: list[FakeEndpoint] = []

    def make(**options) -> FakeEndpoint:
        options.setdefault("reply", stock_layers)
        fake = FakeEndpoint(**options)
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()
