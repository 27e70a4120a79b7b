"""The efficiency figures a drafting run prints: overall, steady state, ramp and tail."""

from __future__ import annotations

import pytest

from annotation.draft.timeline import Timeline


def test_steady_state_excludes_the_ramp_and_the_tail():
    # concurrency 2, every reply 1 s: two workers start at 0 and 0.5 s, then each starts a new request
    # the moment its last one ends; the queue runs dry when the last request starts at 3.5 s
    line = Timeline(concurrency=2)
    for start in (0.0, 1.0, 2.0, 3.0):
        line.add(start, start + 1.0)
    for start in (0.5, 1.5, 2.5, 3.5):
        line.add(start, start + 1.0)
    f = line.figures()
    assert f["ramp s"] == pytest.approx(0.5)  # two in flight first at 0.5 s
    assert f["tail s"] == pytest.approx(1.0)  # 3.5 s (last start) to 4.5 s (last end)
    assert f["requests/s overall"] == pytest.approx(8 / 4.5)
    # 0.5..3.5 s: replies at 1.0, 1.5, 2.0, 2.5, 3.0, 3.5 -> 6 in 3 s; two in flight throughout
    assert f["requests/s steady state"] == pytest.approx(2.0)
    assert f["in flight, steady state mean"] == pytest.approx(2.0)
    assert f["mean reply latency s"] == pytest.approx(1.0)


def test_a_run_that_never_fills_the_pool_has_no_steady_state_and_cpu_per_request():
    line = Timeline(concurrency=256, cpu_s=0.006)
    line.add(10.0, 12.0)
    line.add(10.0, 13.0)
    f = line.figures()
    assert "requests/s steady state" not in f  # two requests: full at once, dry at once
    assert f["requests/s overall"] == pytest.approx(2 / 3)
    assert f["client CPU ms/request"] == pytest.approx(3.0)
    assert Timeline(concurrency=4).figures() == {}
