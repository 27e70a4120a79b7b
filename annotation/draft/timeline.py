"""Where a drafting run's time went: requests in flight over time, its steady state, ramp and tail.

A finite run at concurrency C has three phases: the ramp (until C requests are first in flight), the
steady state (C in flight until the queue runs dry) and the tail (the last requests finishing while
fewer than C are in flight). The concurrency bound C / mean latency holds only in the steady state;
over the whole run the tail (about one mean latency at half occupancy) always costs something.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Timeline:
    concurrency: int
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) monotonic per job
    lags: list[float] = field(default_factory=list)  # event-loop lag samples, seconds
    cpu_s: float = 0.0  # process CPU over the request phase

    def add(self, start: float, end: float) -> None:
        self.spans.append((start, end))

    async def watch_loop(self, every: float = 0.1) -> None:
        """Sample how late the event loop wakes a sleeper: the client's own queueing delay."""
        while True:
            due = time.monotonic() + every
            await asyncio.sleep(every)
            self.lags.append(max(0.0, time.monotonic() - due))

    def figures(self) -> dict[str, float]:
        """Rates overall and in the steady state, the mean in flight there, ramp/tail seconds, loop lag."""
        if not self.spans:
            return {}
        spans = sorted(self.spans)
        first, last_start = spans[0][0], spans[-1][0]
        last_end = max(end for _, end in spans)
        target = min(self.concurrency, len(spans))
        full = _first_full(spans, target)
        window = last_start - full
        out = {
            "requests/s overall": len(spans) / max(1e-9, last_end - first),
            "ramp s": full - first,
            "tail s": last_end - last_start,
            "mean reply latency s": sum(e - s for s, e in spans) / len(spans),
        }
        if window > 0:
            done = sum(1 for _, end in spans if full <= end <= last_start)
            busy = sum(max(0.0, min(end, last_start) - max(start, full)) for start, end in spans)
            out["requests/s steady state"] = done / window
            out["in flight, steady state mean"] = busy / window
            out["steady state s"] = window
        if self.lags:
            lags = sorted(self.lags)
            out["event loop lag p99 ms"] = 1000 * lags[int(0.99 * (len(lags) - 1))]
            out["event loop lag max ms"] = 1000 * lags[-1]
        if self.cpu_s:
            out["client CPU ms/request"] = 1000 * self.cpu_s / len(spans)
        return out


def _first_full(spans: list[tuple[float, float]], target: int) -> float:
    """The first moment `target` requests were in flight at once (spans sorted by start)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    running = 0
    for moment, step in events:
        running += step
        if running >= target:
            return moment
    return spans[-1][0]
