"""Chip accuracy over an event data set, on all cores or on a Dask cluster.

Every sample is one event file; the bit-accurate simulator built from the configuration runs it and the sample's
prediction is the output feature that spiked most (ties: the lowest index), as in ``snnc simulate``'s "most active
feature".  Samples run

* in this process (``workers=1``);
* in ``workers`` worker processes (``concurrent.futures``, spawn), each building the simulator once;
* on a Dask cluster (``scheduler="tcp://host:8786"``, or a ``distributed.Client``): each Dask worker process builds
  the simulator (and loads the numba kernel) once and keeps it for every later chunk.  The data-set files must be
  readable at the same path on the workers.

Results come back in sample order and are identical whichever way they ran (a sample's result depends only on its
file and the configuration).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError
from snnc.targets.speck import DEFAULT_TARGET


@dataclass(frozen=True)
class Job:
    """What a worker needs: the configuration (a dict) and how to fit the events."""

    config_json: str
    crop: tuple | None = None
    downsample: int | None = None
    neurobench_dt_us: int | None = None  # also count NeuroBench's metrics (runtime/neurobench_metrics.py)

    @property
    def key(self) -> str:
        return hashlib.sha256(repr((self.config_json, self.crop, self.downsample)).encode()).hexdigest()


_LOCAL = threading.local()  # per thread of each process: the simulator of the current job (Dask workers may run
# several tasks at once in threads; the numba kernel itself is loaded once per process)


def _simulator(job: Job):
    cache = getattr(_LOCAL, "sims", None)
    if cache is None:
        cache = _LOCAL.sims = {}
    sim = cache.get(job.key)
    if sim is None:
        from snnc.runtime.simulator import Simulator

        sim = Simulator.from_config(json.loads(job.config_json))
        cache.clear()
        cache[job.key] = sim
    return sim


def run_sample(job: Job, path: str) -> tuple[list[int], int, dict | None]:
    """(output spikes per feature, input events, NeuroBench counts or None) of one event file."""
    from snnc.runtime.eventfit import events_for_simulator

    sim = _simulator(job)
    base = sim.program
    nb = None
    try:
        ev, _ = events_for_simulator(sim, path, job.crop, job.downsample)
        res = sim.run(ev, spikes=job.neurobench_dt_us is not None)
        if job.neurobench_dt_us is not None:
            from .neurobench_metrics import sample_counts

            nb = sample_counts(sim.program, sim.prepare_events(ev), res, job.neurobench_dt_us)
    finally:
        sim.program = base
    out = res.output_events
    counts = np.bincount(out["feature"].astype(np.int64), minlength=1) if len(out) else np.zeros(1, np.int64)
    return counts.tolist(), int(len(ev)), nb


def run_chunk(job: Job, paths: list[str]) -> list[tuple[list[int], int, dict | None]]:
    return [run_sample(job, p) for p in paths]


def _chunks(items: list, size: int) -> list[list]:
    return [items[a:a + size] for a in range(0, len(items), size)]


def default_workers() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from .progress import progress_bar

    return progress_bar(total=total, desc="evaluate", unit="sample")


def run_samples(job: Job, paths: list[str], workers: int = 1, scheduler=None, progress: bool = False,
                chunk: int | None = None) -> list[tuple[list[int], int, dict | None]]:
    """Run every file of ``paths`` and return the results in the same order."""
    n = len(paths)
    results: list = [None] * n
    if scheduler is None and workers > 1 and n > 1 and _pool_context().get_start_method() == "fork":
        warm_up(job)  # before the progress bar starts its thread
    bar = _progress(n, progress)
    try:
        if scheduler is not None:
            _run_dask(job, paths, scheduler, results, bar, chunk)
        elif workers <= 1 or n <= 1:
            for i, p in enumerate(paths):
                results[i] = run_sample(job, p)
                if bar is not None:
                    bar.update(1)
        else:
            _run_processes(job, paths, workers, results, bar, chunk)
    finally:
        if bar is not None:
            bar.close()
    return results


def warm_up(job: Job) -> None:
    """Build the simulator and load its numba kernel in this process (a run on no events)."""
    from snnc.runtime.events import EVENT_DTYPE

    _simulator(job).run(np.zeros(0, EVENT_DTYPE))


def _pool_context():
    """Linux: fork, after :func:`warm_up`, so that every worker starts with the simulator built and the kernel
    loaded (about 2 s per process otherwise); the workers run only numpy and numba code.  Elsewhere: spawn."""
    import multiprocessing as mp

    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _run_processes(job, paths, workers, results, bar, chunk):
    from concurrent.futures import ProcessPoolExecutor

    size = chunk or max(1, min(16, len(paths) // (workers * 4) or 1))
    chunks = _chunks(list(range(len(paths))), size)
    ctx = _pool_context()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        futures = [ex.submit(run_chunk, job, [paths[i] for i in c]) for c in chunks]
        for c, fut in zip(chunks, futures):
            for i, r in zip(c, fut.result()):
                results[i] = r
            if bar is not None:
                bar.update(len(c))


def _run_dask(job, paths, scheduler, results, bar, chunk):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SnncError("--scheduler needs dask.distributed: pip install 'snnc[dask]'") from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout="10s") if own else scheduler
    except (OSError, TimeoutError) as e:
        raise SnncError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({e})") from None
    try:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        size = chunk or max(1, min(16, len(paths) // (n_workers * 4) or 1))
        chunks = _chunks(list(range(len(paths))), size)
        futures = client.map(run_chunk, [job] * len(chunks), [[paths[i] for i in c] for c in chunks],
                             pure=False)
        where = {f.key: c for f, c in zip(futures, chunks)}
        for fut in as_completed(futures):
            for i, r in zip(where[fut.key], fut.result()):
                results[i] = r
            if bar is not None:
                bar.update(len(where[fut.key]))
    finally:
        if own:
            client.close()


def load_model_config(model_or_config: str | Path, target: str = DEFAULT_TARGET) -> dict:
    """A configuration dict from a configuration JSON, or from a model file compiled with default options."""
    p = Path(model_or_config)
    if not p.is_file():
        raise SnncError(f"{str(p)!r} not found; give a configuration (.json from snnc compile) or a model file")
    if p.suffix.lower() == ".json":
        from snnc.targets.config import load_config

        return load_config(p)
    from snnc.compiler.frontends.loader import load_model
    from snnc.targets.compile import CompileOptions, compile_model

    return compile_model(load_model(p), CompileOptions(target=target))


def evaluate_dataset(config: dict, dataset, limit: int | None = None, workers: int | None = None, scheduler=None,
                     crop=None, downsample=None, progress: bool = False, neurobench_dt_us: int | None = None) -> dict:
    """Chip accuracy of ``config`` over ``dataset`` (an :class:`~snnc.runtime.datasets.EventDataset` or a folder).

    Returns ``{"chip_accuracy", "samples", "per_class", "confusion", "events_per_sample", "seconds",
    "samples_per_second", "workers", "predictions"}``; ``predictions`` holds one row per sample (file, label,
    prediction, input events, output spikes).  With ``neurobench_dt_us`` also ``"neurobench"``: NeuroBench's
    metrics on the simulated chip in bins of that many us (:func:`.neurobench_metrics.summarize`)."""
    from .datasets import EventDataset, open_dataset

    ds = dataset if isinstance(dataset, EventDataset) else open_dataset(dataset)
    n = len(ds) if limit is None else min(int(limit), len(ds))
    if n < 1:
        raise SnncError("nothing to evaluate: --limit must be >= 1")
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise SnncError(f"--workers must be >= 1, got {workers}")
    if neurobench_dt_us is not None:
        from .neurobench_metrics import check_dt

        neurobench_dt_us = check_dt(neurobench_dt_us)
    job = Job(json.dumps(config, sort_keys=True), tuple(crop) if crop else None, downsample, neurobench_dt_us)
    paths = [str(p) for p in ds.files[:n]]
    t0 = time.perf_counter()
    results = run_samples(job, paths, workers=workers, scheduler=scheduler, progress=progress)
    seconds = time.perf_counter() - t0
    labels = ds.labels[:n]
    preds = np.array([int(np.argmax(r[0])) for r in results], np.int64)
    spikes = [int(sum(r[0])) for r in results]
    events = np.array([r[1] for r in results], np.int64)
    n_cls = len(ds.classes)
    size = max(n_cls, int(preds.max()) + 1 if n else 0)
    confusion = np.zeros((size, size), np.int64)
    np.add.at(confusion, (labels, preds), 1)
    per_class = {}
    for k, name in enumerate(ds.classes):
        m = labels == k
        if m.any():
            per_class[name] = {"samples": int(m.sum()), "accuracy": float(np.mean(preds[m] == k))}
    rows = [{"index": i, "file": str(Path(paths[i]).relative_to(ds.root)) if Path(paths[i]).is_relative_to(ds.root)
             else paths[i], "label": int(labels[i]), "prediction": int(preds[i]), "input_events": int(events[i]),
             "output_spikes": spikes[i]} for i in range(n)]
    out = {"chip_accuracy": float(np.mean(preds == labels)), "samples": int(n), "per_class": per_class,
           "confusion": confusion.tolist(), "events_per_sample": float(events.mean()), "seconds": seconds,
           "samples_per_second": n / seconds if seconds > 0 else None,
           "workers": "dask" if scheduler is not None else workers, "classes": list(ds.classes),
           "predictions": rows}
    if neurobench_dt_us is not None:
        from .neurobench_metrics import report

        out["neurobench"] = report(config, [r[2] for r in results], neurobench_dt_us, out["chip_accuracy"])
    return out


def write_predictions(path, rows: list[dict]) -> None:
    """Per-sample predictions as CSV (index, file, label, prediction, input_events, output_spikes), atomically."""
    import csv

    from snnc.compiler.fileio import atomic_open

    cols = ["index", "file", "label", "prediction", "input_events", "output_spikes"]
    with atomic_open(path, "w") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
