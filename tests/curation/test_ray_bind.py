"""A local Ray started by `--engine ray` listens on loopback only: nobody on the network can join it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}

# Starts the engine's local Ray, runs tasks (so workers exist), then lists every TCP socket in LISTEN
# state owned by this process or any process it started (gcs_server, raylet, agents, workers).
PROBE = """
import json, psutil, ray
from curation.config import CurationConfig
from curation.ray_engine import start

ray = start(CurationConfig(workers=1))

@ray.remote
def square(x):
    return x * x

assert ray.get([square.remote(i) for i in range(4)]) == [0, 1, 4, 9]
me = psutil.Process()
pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
names = {}
for pid in pids:
    try:
        names[pid] = psutil.Process(pid).name()
    except psutil.Error:
        pass
listening = [
    [names.get(c.pid, "?"), c.laddr.ip, c.laddr.port]
    for c in psutil.net_connections(kind="tcp")
    if c.status == psutil.CONN_LISTEN and c.pid in pids
]
ray.shutdown()
print(json.dumps(listening))
"""


@pytest.mark.slow
def test_local_ray_listens_on_loopback_only():
    pytest.importorskip("ray")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RAY_DISABLE_USAGE_STATS": "1"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    listening = json.loads(done.stdout.strip().splitlines()[-1])
    names = {name for name, _, _ in listening}
    assert {"gcs_server", "raylet"} <= names, listening  # the probe saw Ray's own servers
    exposed = [entry for entry in listening if entry[1] not in LOOPBACK]
    assert exposed == [], f"listening beyond loopback: {exposed}"
