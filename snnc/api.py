"""The public Python API.  Each function is a thin call into the packages that do the work."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from snnc.targets.speck import DEFAULT_TARGET


def load(path: str | Path, input_shape=None, trust: bool = False, nir_dt: float | None = None):
    """Read a model file (.pt, .nir, .onnx) into the graph IR.  Refuses unknown pickled classes unless ``trust``.
    ``nir_dt``: the time step (seconds) a NIR graph was exported with, where its neurons have ``r != 1``.
    ``graph.meta["notes"]`` says how a NIR file was read."""
    from snnc.compiler.frontends.loader import load_model

    return load_model(path, input_shape=input_shape, trust=trust, nir_dt=nir_dt)


def check(model, target: str = DEFAULT_TARGET, **options):
    """Run the compile pipeline up to core assignment; return a ``CompileResult`` (``.fits``, ``.report()``)."""
    from snnc.targets.compile import CompileOptions, run_pipeline

    return run_pipeline(model, CompileOptions(target=target, **options), until="assign")


def compile(model, target: str = DEFAULT_TARGET, output: str | Path | None = None, **options) -> dict:
    """Compile to a configuration dict (written atomically to ``output`` when given).  Raises if it does not fit."""
    from snnc.targets.compile import CompileOptions, compile_model

    return compile_model(model, CompileOptions(target=target, **options), output=output)


def load_config(path: str | Path | dict) -> dict:
    """Read and validate a configuration written by ``snnc compile``."""
    from snnc.targets.config import load_config as _load

    return _load(path)


def load_events(path: str | Path):
    """Read an event file (.npy/.npz, N-MNIST/ATIS .bin, AEDAT 4; found by content).  Returns an
    ``EventRecording``: ``.events`` (structured x, y, t, p, checked and sorted by time), ``.sensor_size``
    ``(width, height)`` where the file records it, ``.format``.  ``np.asarray(rec)`` and ``len(rec)`` work on it,
    and every function that takes events accepts it."""
    from snnc.runtime.eventio import read_recording
    from snnc.runtime.events import load_events as _check

    rec = read_recording(path)
    rec.events = _check(rec.events, what=str(path))
    return rec


def simulate(config, events, **options) -> Any:
    """Run the bit-accurate simulator built from ``config`` on input ``events`` (structured array x, y, t, p)."""
    from snnc.runtime.simulator import Simulator

    return Simulator.from_config(config, **options).run(events)


def train(config_path: str | Path, output: str | Path | None = None):
    """Train a model described by a TOML file with the chip's own integer neurons; returns the saved path."""
    from snnc.runtime.training.train import train_from_config

    return train_from_config(config_path, output=output)
