"""`--engine ray`: the same steps on Ray Data, for corpora past one machine (`pip install '.[ray]'`).

- Reading: `ray.data.read_binary_files` hands each input file to a task that parses it with the
  local reader (same bad-input messages, same file:line, same input order).
- Per-record steps: `map_batches` with an actor per CPU that builds `build_record_steps(config)` once
  and runs `run_batch` on each batch, exactly what the local executor runs.
- Dedup: each document emits (band, band hash, id) rows (`map_batches`), rows are hash-partitioned on
  (band, hash) (`repartition(keys=...)`), and each partition groups its rows into buckets and candidate
  pairs (`map_batches`). The driver screens the candidates by their MinHash estimate (curation.verify);
  the pairs left are checked exactly in Ray tasks (`RayChecker`: each task gets the keys of its own
  pairs), and union-find runs on the driver over the verified edges, a few MB per million docs.
- Outputs are written by the driver with the same code as the local engine, so the files are identical.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from curation.config import CurationConfig
from curation.minhash import band_rows, candidate_pair_array
from curation.pipeline import Record, StepStats, run_batch
from curation.reader import BadInput, ReadStats, read_file
from curation.steps import build_record_steps
from curation.verify import ShingleFn, Verify, check_pairs


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            "--engine ray needs Ray: pip install '.[ray]'  (or: pip install 'ray[data]')"
        ) from exc
    return ray


def start(config: CurationConfig):
    ray = require_ray()
    if not ray.is_initialized():
        if config.ray_address:
            ray.init(address=config.ray_address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            # Ray puts a local node on the machine's network address, where its servers (gcs_server,
            # raylet, workers) listen to anyone; a local run keeps them all on loopback. Ray reads
            # this switch at import (this process) and from the environment (the processes it starts).
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
            ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
            ray.init(
                _node_ip_address="127.0.0.1",
                num_cpus=config.resolved_workers(),
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = os.environ.get("EMPATHYQA_PROGRESS") == "1"
    return ray


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(type(obj).__name__)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_json_default)


def _load_record(payload: str) -> Record:
    record = json.loads(payload)
    if "_sig" in record:
        record["_sig"] = np.asarray(record["_sig"], dtype=np.uint32)
    for answer in record.get("answers", []):
        if "_sig" in answer:
            answer["_sig"] = np.asarray(answer["_sig"], dtype=np.uint32)
    return record


def _stats_to_json(stats: dict[str, StepStats]) -> dict[str, Any]:
    return {
        name: {
            "in": s.records_in,
            "out": s.records_out,
            "seconds": s.seconds,
            "dropped": s.dropped,
            "counters": s.counters,
        }
        for name, s in stats.items()
    }


def _stats_from_json(data: dict[str, Any]) -> dict[str, StepStats]:
    out = {}
    for name, s in data.items():
        stats = StepStats(s["in"], s["out"], s["seconds"])
        stats.dropped.update(s["dropped"])
        stats.counters.update(s["counters"])
        out[name] = stats
    return out


class ParseFile:
    """One input file's bytes -> rows of working records or bad-input reports."""

    def __init__(self, names: dict[str, tuple[int, str]]) -> None:
        self.names = names

    def __call__(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        file_index, where_name = self.names[str(Path(row["path"]).resolve())]
        suffix = Path(where_name).suffix
        out = []
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"input{suffix}"
            path.write_bytes(row["bytes"])
            for record, bad, reject in read_file(path, where_name, file_index):
                if record is not None:
                    out.append({"kind": "record", "payload": _dumps(record)})
                else:
                    out.append({"kind": "bad", "payload": _dumps({"bad": bad.__dict__, "reject": reject})})
        return out


class RecordSteps:
    """The per-record chain, built once per actor; one batch in, records + rejects + stats out."""

    def __init__(self, config: CurationConfig) -> None:
        self.steps = build_record_steps(config)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = [_load_record(p) for p in batch["payload"]]
        result = run_batch(self.steps, records)
        kinds = ["record"] * len(result.records) + ["reject"] * len(result.rejects) + ["stats"]
        payloads = [_dumps(r) for r in result.records] + [_dumps(r) for r in result.rejects]
        payloads.append(_dumps(_stats_to_json(result.stats)))
        return {"kind": np.array(kinds, dtype=object), "payload": np.array(payloads, dtype=object)}


def run_record_steps(
    paths: list[Path], config: CurationConfig, read_stats: ReadStats, read_rejects: list[Record]
) -> Iterator[tuple[list[Record], list[Record], dict[str, StepStats]]]:
    ray = start(config)
    names = {str(p.resolve()): (i, str(p)) for i, p in enumerate(paths)}
    names_order = {str(p): i for i, p in enumerate(paths)}
    read_stats.files = len(paths)
    parsed = ray.data.read_binary_files([str(p) for p in paths], include_paths=True).flat_map(
        ParseFile(names)
    )
    parsed = parsed.materialize()
    bad = sorted(
        (json.loads(r["payload"]) for r in parsed.filter(expr="kind == 'bad'").iter_rows()),
        key=lambda b: (
            names_order[b["bad"]["where"].rsplit(":", 1)[0]],
            int(b["bad"]["where"].rsplit(":", 1)[1]),
        ),
    )
    for item in bad:
        read_stats.bad.append(BadInput(**item["bad"]))
        read_rejects.append(item["reject"])
    # materialised, so the step actors below do not wait on CPUs held by upstream tasks
    good = parsed.filter(expr="kind == 'record'").materialize()
    read_stats.rows = good.count()
    workers = max(1, config.resolved_workers())
    good = good.repartition(max(workers, -(-read_stats.rows // config.batch_size))).materialize()
    out = good.map_batches(
        RecordSteps,
        fn_constructor_args=(config,),
        batch_size=config.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
    )
    for batch in out.iter_batches(batch_size=config.batch_size, batch_format="numpy"):
        records, rejects, stats = [], [], {}
        for kind, payload in zip(batch["kind"], batch["payload"], strict=True):
            if kind == "record":
                records.append(_load_record(payload))
            elif kind == "reject":
                rejects.append(json.loads(payload))
            else:
                for name, s in _stats_from_json(json.loads(payload)).items():
                    stats.setdefault(name, StepStats()).merge(s)
        yield records, rejects, stats


def _emit_band_rows(batch: dict[str, np.ndarray], bands: int, rows: int) -> dict[str, np.ndarray]:
    data = batch["data"]
    table = band_rows(data[:, 0].astype(np.int64), data[:, 1:].astype(np.uint32), bands, rows)
    return {"band": table["band"], "hash": table["hash"], "id": table["id"]}


def _bucket_pairs(batch: dict[str, np.ndarray], max_bucket_pairs: int) -> dict[str, np.ndarray]:
    table = np.empty(len(batch["id"]), dtype=[("band", np.int32), ("hash", np.uint64), ("id", np.int64)])
    table["band"], table["hash"], table["id"] = batch["band"], batch["hash"], batch["id"]
    pairs = candidate_pair_array(table, max_bucket_pairs)
    return {"a": pairs[:, 0], "b": pairs[:, 1]}


def ray_pair_finder(config: CurationConfig):
    """A PairFinder for curation.minhash.cluster that runs the LSH group-by on Ray Data."""
    ray = start(config)

    def find(signatures: np.ndarray, bands: int, rows: int, max_bucket_pairs: int) -> np.ndarray:
        if len(signatures) < 2:
            return np.zeros((0, 2), dtype=np.int64)
        ids = np.arange(len(signatures), dtype=np.int64)[:, None]
        data = np.hstack([ids, signatures.astype(np.int64)])
        partitions = max(1, min(64, len(signatures) // 2000 + 1))
        pairs = (
            ray.data.from_numpy(data)
            .map_batches(_emit_band_rows, fn_args=(bands, rows), batch_format="numpy")
            .repartition(partitions, keys=["band", "hash"])
            .map_batches(_bucket_pairs, fn_args=(max_bucket_pairs,), batch_format="numpy", batch_size=None)
        )
        found = [np.zeros((0, 2), dtype=np.int64)]
        for batch in pairs.iter_batches(batch_format="numpy", batch_size=65536):
            found.append(np.stack([batch["a"], batch["b"]], axis=1).astype(np.int64))
        return np.concatenate(found)  # the same pair can come from two partitions: cluster dedups

    return find


def _check_task(
    keys: dict[int, str], pairs: np.ndarray, shingle_fn: ShingleFn, verify: Verify, lo, need_sets
):
    return check_pairs(keys, pairs, shingle_fn, verify, lo, need_sets)


class RayChecker:
    """A PairChecker that runs the exact checks as Ray tasks, a few per CPU."""

    def __init__(self, config: CurationConfig, chunks_per_worker: int = 4) -> None:
        self.ray = start(config)
        self.chunks = max(1, config.resolved_workers() * chunks_per_worker)

    def __call__(
        self, keys, pairs: np.ndarray, shingle_fn: ShingleFn, verify: Verify, lo=None, need_sets=None
    ):
        if lo is None or need_sets is None:
            lo, need_sets = np.zeros(len(pairs)), np.ones(len(pairs), dtype=bool)
        task = self.ray.remote(_check_task)
        futures = []
        parts = min(self.chunks, max(1, len(pairs)))
        for chunk, part_lo, part_need in zip(
            np.array_split(pairs, parts),
            np.array_split(lo, parts),
            np.array_split(need_sets, parts),
            strict=True,
        ):
            if len(chunk):
                own = {i: keys[i] for i in np.unique(chunk).tolist()}
                futures.append(task.remote(own, chunk, shingle_fn, verify, part_lo, part_need))
        results = self.ray.get(futures)
        if not results:
            return np.zeros(0, dtype=bool), 0
        return np.concatenate([r[0] for r in results]), sum(r[1] for r in results)
