"""``snnc evaluate MODEL --data TEST.npz``: accuracy of the simulated chip on labelled samples (and of an ANN).

Each sample ``x`` is encoded as input events (:func:`.data.encode`; the encoding recorded in a model written by
``snnc convert``, else the flags' or the defaults), MODEL is compiled with default options (a converted model brings
its own: biases as leak at its slow clock, no clipping), and the bit-accurate simulator built from that
configuration runs each sample.  The prediction is the output feature with the most spikes (ties: the lowest
index).  With an ANN, the ANN runs on the same ``x`` (float, folded exactly as ``snnc convert`` folds it).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError

from .data import load_samples, make_encoding
from snnc.targets.speck import DEFAULT_TARGET


def _config_of(model, target: str, dvs_input: bool) -> dict:
    p = Path(model)
    if not p.is_file():
        raise SnncError(f"{p}: no such file; give a model (.pt, .nir, .onnx) or a configuration (.json)")
    if p.suffix.lower() == ".json":
        from snnc.targets.config import load_config

        return load_config(p)
    from snnc.targets.compile import CompileOptions, compile_model

    return compile_model(p, CompileOptions(target=target, dvs_input=dvs_input))


def evaluate_data(model, data, ann=None, encoding: dict | None = None, limit: int | None = None,
                  target: str = DEFAULT_TARGET, seed: int = 0, trust: bool = False, progress: bool = False,
                  neurobench_dt_us: int | None = None) -> dict:
    """Chip (and ANN) accuracy on the labelled ``.npz`` file ``data``.

    ``encoding``: overrides of the recorded / default encoding (``kind``, ``max_rate_hz``, ``duration_us``) --
    keys set to None keep the recorded value.  Returns ``{"chip_accuracy", "samples", "events_per_sample",
    "ann_accuracy", "agreement", "encoding", "seconds"}``, and ``"neurobench"`` (NeuroBench's metrics on the simulated
    chip, bins of ``neurobench_dt_us``) when that is given.
    """
    from .convert import chip_run, predict
    from .module import read_conversion_record

    t0 = time.perf_counter()
    record = read_conversion_record(model) or {}
    over = {k: v for k, v in (encoding or {}).items() if v is not None}
    enc = make_encoding(base=record.get("encoding"))
    enc.update(over)
    enc = make_encoding(base=enc)
    x, y = load_samples(data, what="--data", need_labels=True, encoding=enc)
    config = _config_of(model, target, dvs_input=False)
    shape = tuple(int(s) for s in config["snnc"]["input"]["shape"])
    ann_shape = tuple(x.shape[1:])
    if tuple(x.shape[1:]) != shape and int(np.prod(x.shape[1:])) == int(np.prod(shape)):
        x = x.reshape((len(x),) + shape)  # a vector input (N,) runs as (N, 1, 1) on the chip
    if tuple(x.shape[1:]) != shape:
        raise SnncError(f"--data {data}: samples have shape {list(x.shape[1:])}, the model takes {list(shape)}")
    n = len(x) if limit is None else min(int(limit), len(x))
    if n < 1:
        raise SnncError("--limit must be >= 1")
    ann_acc = agreement = None
    bar = None
    if progress:
        from ..progress import progress_bar

        bar = progress_bar(total=n, desc="evaluate", unit="sample")
    preds, events = [], []
    nb = None
    if neurobench_dt_us is not None:
        from ..neurobench_metrics import check_dt

        nb = (check_dt(neurobench_dt_us), [])
    step = 50
    for a in range(0, n, step):
        idx = np.arange(a, min(a + step, n))
        counts, n_ev, _ = chip_run(config, x, idx, enc, seed, neurobench=nb)
        preds.append(predict(counts))
        events.append(n_ev)
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    chip = np.concatenate(preds)
    if ann is not None:
        from .ann import load_ann
        from .convert import ann_predictions

        g = load_ann(ann, input_shape=ann_shape, trust=trust)
        xa = x[:n].reshape((n,) + ann_shape)
        ann_pred = ann_predictions(g, xa)
        ann_acc = float(np.mean(ann_pred == y[:n]))
        agreement = float(np.mean(ann_pred == chip))
    out = {"chip_accuracy": float(np.mean(chip == y[:n])), "samples": int(n),
           "events_per_sample": float(np.concatenate(events).mean()), "ann_accuracy": ann_acc,
           "agreement": agreement, "encoding": enc, "seconds": time.perf_counter() - t0}
    if nb is not None:
        from ..neurobench_metrics import report

        out["neurobench"] = report(config, nb[1], nb[0], out["chip_accuracy"])
    return out
