"""NeuroBench on the simulated chip: a ``NeuroBenchModel`` that runs a compiled configuration on the bit-accurate
simulator, and metric classes that read the simulator's counters (NeuroBench's torch hooks cannot fire inside an
event-driven chip).  Needs the ``neurobench`` package (2.3.0)::

    pip install "snnc[neurobench]" && pip install --no-deps neurobench==2.3.0

Use it as any NeuroBench model::

    from neurobench.benchmarks import Benchmark
    from snnc.neurobench import (SpeckModel, ClassificationAccuracy, ActivationSparsity, SynapticOperations,
                                 MembraneUpdates, Footprint, ConnectionSparsity, ParameterCount)

    model = SpeckModel("cnn.json", dt_us=1000)
    static = [Footprint, ConnectionSparsity, ParameterCount]
    workload = [ClassificationAccuracy, ActivationSparsity, SynapticOperations, MembraneUpdates]
    results = Benchmark(model, loader, [], [], [static, workload]).run()

The metric classes carry NeuroBench's names, so the result keys are NeuroBench's; each is defined on the chip as
``docs/neurobench.md`` says (the counting is ``snnc.runtime.neurobench_metrics``).  NeuroBench's own hook-based
metric classes are refused with a message naming these.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from snnc.targets.speck import DEFAULT_TARGET

try:
    import torch
    from neurobench.metrics.abstract import AccumulatedMetric, StaticMetric, WorkloadMetric
    from neurobench.metrics.workload import ClassificationAccuracy
    from neurobench.models import NeuroBenchModel
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"snnc.neurobench needs the neurobench package ({e}): pip install 'snnc[neurobench]' && "
                      "pip install --no-deps neurobench==2.3.0") from None

from snnc.compiler.errors import SnncError
from snnc.runtime import neurobench_metrics as _nm

__all__ = ["SpeckModel", "ClassificationAccuracy", "ActivationSparsity", "SynapticOperations", "MembraneUpdates",
           "Footprint", "ConnectionSparsity", "ParameterCount"]


class SpeckModel(NeuroBenchModel):
    """A compiled configuration (``snnc compile``'s JSON, its dict, or a model file compiled here with default
    options for ``target``) run on the bit-accurate simulator.

    ``model(batch)`` takes a batch of frames ``[B, T, C, H, W]`` (tensor or array of whole event counts per step
    and pixel: step ``s`` becomes events at ``s * dt_us``) or a list of event arrays (``snnc.load_events``,
    structured arrays with x, y, t, p) and returns each sample's prediction, the output feature that spiked most
    (ties: the lowest), as a tensor ``[B]``.  Every run's counters are kept for the metric classes of this module
    (``last_counts``: one dict per sample of the last batch).  ``__net__()`` is a torch module of the deployed
    layers (``Conv2d`` with the integer weights as floats) so that NeuroBench's own static metrics also run."""

    def __init__(self, config, dt_us: int = _nm.DEFAULT_DT_US, target: str = DEFAULT_TARGET):
        super().__init__()
        from snnc.runtime.evaluation import load_model_config
        from snnc.runtime.simulator import Simulator

        if isinstance(config, (str, Path)):
            config = load_model_config(config, target=target)
        else:
            from snnc.targets.config import load_config

            config = load_config(config)
        self.config = config
        self.dt_us = _nm.check_dt(dt_us)
        self.simulator = Simulator.from_config(config)
        self.program = self.simulator.program
        self.static = _nm.static_metrics(self.program, _nm.layer_names(config))
        self.last_counts: list[dict] = []
        self._net = _deployed_net(self.program, _nm.layer_names(config))

    def __net__(self):
        return self._net

    def register_hooks(self):
        raise SnncError("NeuroBench's hook-based metrics cannot see inside the simulated chip; use the metric "
                        "classes of snnc.neurobench (ActivationSparsity, SynapticOperations, MembraneUpdates), "
                        "which read the simulator's counters")

    def _samples(self, batch) -> list[tuple[np.ndarray, int | None]]:
        if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], np.ndarray) \
                and batch[0].dtype.names is not None:
            return [(ev, None) for ev in batch]
        a = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else np.asarray(batch)
        shape = tuple(self.program.input_shape)
        if a.ndim == 3 and int(np.prod(a.shape[2:])) == int(np.prod(shape)):
            a = a.reshape(a.shape[:2] + shape)
        if a.ndim != 5:
            raise SnncError(f"SpeckModel: expected frames [batch, steps, C, H, W] (input {list(shape)}) or a list "
                            f"of event arrays, got shape {list(a.shape)}")
        return [(_nm.frames_to_events(f, self.dt_us, what=f"sample {i}"), f.shape[0] * self.dt_us)
                for i, f in enumerate(a)]

    def __call__(self, batch):
        preds, self.last_counts = [], []
        for ev, window in self._samples(batch):
            ev = self.simulator.prepare_events(ev)
            res = self.simulator.run(ev, spikes=True)
            self.last_counts.append(_nm.sample_counts(self.program, ev, res, self.dt_us, window_us=window))
            f = res.output_events["feature"].astype(np.int64)
            preds.append(int(np.argmax(np.bincount(f, minlength=1))) if len(f) else 0)
        return torch.tensor(preds, dtype=torch.int64)


def _deployed_net(program, names: dict) -> "torch.nn.Module":
    """The deployed layers as a torch module (for NeuroBench's static metrics; never run)."""
    layers = torch.nn.ModuleDict()
    for c in sorted(program.cores):
        core = program.cores[c]
        F, C = core.out_shape[0], core.in_shape[0]
        conv = torch.nn.Conv2d(C, F, core.kernel, stride=core.stride, padding=core.padding, bias=core.leak_enable)
        with torch.no_grad():
            conv.weight.copy_(torch.as_tensor(np.asarray(core.weights), dtype=torch.float32))
            if conv.bias is not None:
                conv.bias.copy_(torch.as_tensor(np.asarray(core.biases), dtype=torch.float32))
        conv.requires_grad_(False)
        layers[f"core{c}"] = conv
    return layers


def _model(model) -> SpeckModel:
    if not isinstance(model, SpeckModel):
        raise SnncError(f"snnc.neurobench metrics read the simulator's counters: the model must be a SpeckModel, "
                        f"not {type(model).__name__}")
    return model


class ActivationSparsity(WorkloadMetric):
    """1 - (neuron, bin) pairs with a spike / (neurons x bins), over every core, for the batch."""

    def __init__(self):
        super().__init__(requires_hooks=False)

    def __call__(self, model, preds, data):
        m = _model(model)
        nb = _nm.summarize(m.static, m.last_counts, m.dt_us)
        return nb["ActivationSparsity"]


class SynapticOperations(AccumulatedMetric):
    """``{"Effective_MACs": 0, "Effective_ACs": the chip's synaptic updates, "Dense": the bins' dense cost}`` per
    sample."""

    def __init__(self):
        super().__init__(requires_hooks=False)
        self.reset()

    def reset(self):
        self.samples, self.acs, self.dense = 0, 0, 0

    def __call__(self, model, preds, data):
        m = _model(model)
        nb = _nm.summarize(m.static, m.last_counts, m.dt_us)
        n = nb["samples"]
        self.samples += n
        self.acs += nb["SynapticOperations"]["Effective_ACs"] * n
        self.dense += nb["SynapticOperations"]["Dense"] * n
        return self.compute()

    def compute(self):
        if self.samples == 0:
            return {"Effective_MACs": 0, "Effective_ACs": 0, "Dense": 0}
        return {"Effective_MACs": 0.0, "Effective_ACs": self.acs / self.samples, "Dense": self.dense / self.samples}


class MembraneUpdates(AccumulatedMetric):
    """(neuron, bin) pairs with at least one membrane write, per sample."""

    def __init__(self):
        super().__init__(requires_hooks=False)
        self.reset()

    def reset(self):
        self.samples, self.updates = 0, 0

    def __call__(self, model, preds, data):
        m = _model(model)
        nb = _nm.summarize(m.static, m.last_counts, m.dt_us)
        self.samples += nb["samples"]
        self.updates += nb["MembraneUpdates"] * nb["samples"]
        return self.compute()

    def compute(self):
        return self.updates / self.samples if self.samples else 0


class Footprint(StaticMetric):
    """Bytes the chip stores for the deployed weights, thresholds and used biases."""

    def __call__(self, model):
        return _model(model).static["Footprint"]


class ConnectionSparsity(StaticMetric):
    """Fraction of zero deployed integer weights."""

    def __call__(self, model):
        return _model(model).static["ConnectionSparsity"]


class ParameterCount(StaticMetric):
    """Deployed weights, plus one bias per feature of the cores that apply biases (leak)."""

    def __call__(self, model):
        return _model(model).static["ParameterCount"]
