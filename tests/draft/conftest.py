"""Setup for the drafting tests: the sample endpoint as a process. Curated inputs are built by
_draft_helpers.py; the fake endpoint in a thread is the `fake_endpoint` fixture of tests/conftest.py."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def launch(folder: Path, stderr=subprocess.DEVNULL) -> tuple[str, subprocess.Popen]:
    """`python -m annotation.sample_endpoint` on a free port, as the demo starts it: (base URL, process)."""
    port_file = folder / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotation.sample_endpoint", "--port", "0", "--port-file", str(port_file)],
        cwd=REPO,
        stderr=stderr,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not port_file.exists() or not port_file.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, "sample endpoint did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port_file.read_text()}/v1", proc


@pytest.fixture
def start_endpoint() -> Iterator[Callable[[Path], tuple[str, subprocess.Popen]]]:
    """`start_endpoint(folder)`: a sample endpoint process whose log the test reads (stderr piped);
    terminated at the end of the test if still running."""
    started: list[subprocess.Popen] = []

    def start(folder: Path) -> tuple[str, subprocess.Popen]:
        url, proc = launch(folder, stderr=subprocess.PIPE)
        started.append(proc)
        return url, proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory) -> Iterator[tuple[str, subprocess.Popen]]:
    """One sample endpoint process shared by a module's tests: (base URL, process)."""
    url, proc = launch(tmp_path_factory.mktemp("ep"))
    yield url, proc
    proc.terminate()
    proc.wait(10)
