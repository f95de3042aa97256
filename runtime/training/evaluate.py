"""Evaluation: the float model, the integer model, and the bit-accurate simulator of the compiled configuration, on
the same input events.

For every sample of the config's evaluation split, :meth:`Dataset.events` gives one event stream (seeded per
sample).  The float and the integer model see those events binned into time steps; the simulator, built from the
compiled configuration (never from the model), sees the events themselves.  Each predicts the class whose output
neuron spiked most (ties: the lowest class index).  ``agreement`` is how often the integer model and the simulator
predict the same class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from snnc.compiler.errors import SnncError

from .config import TrainConfig, load_train_config
from .data import Dataset
from .models import SpikingNet, build_model


def _safe_classes() -> list:
    """The classes a model saved by ``snnc train`` may name (nothing else is unpickled)."""
    import sinabs.activation as sa
    import sinabs.layers as sl
    import torch.nn as nn

    return [nn.Sequential, nn.Conv2d, nn.Linear, nn.Flatten, sl.IAFSqueeze, sl.LIFSqueeze, sl.SumPool2d,
            sa.MultiSpike, sa.SingleSpike, sa.MembraneSubtract, sa.MembraneReset, sa.SingleExponential]


def read_training_record(path: str | Path) -> dict | None:
    """The ``snnc_training`` entry of a model saved by ``snnc train``, or None for other files.

    Loaded with ``weights_only=True`` and an allow-list of the layer classes ``snnc train`` writes.
    """
    from snnc.compiler.frontends.safe_pickle import scan_pickle_globals

    scan_pickle_globals(Path(path))  # bounded work first: refuses pickle and zip bombs with one line
    try:
        with torch.serialization.safe_globals(_safe_classes()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("snnc_training"), dict):
        return obj["snnc_training"]
    return None


def net_from_record(cfg: TrainConfig, record: dict) -> SpikingNet:
    """Rebuild the trained model from the config's [model] and the saved float weights."""
    net = build_model(cfg)
    layers = record.get("layers", [])
    if len(layers) != len(net.layers):
        raise SnncError(f"the model has {len(layers)} layers but the config's [model] describes {len(net.layers)}; "
                        "evaluate with the configuration it was trained with")
    with torch.no_grad():
        for i, (layer, rec) in enumerate(zip(net.layers, layers)):
            w = rec["float_weight"]
            if tuple(w.shape) != tuple(layer.weight.shape):
                raise SnncError(f"layer {i}: the model's weights are {tuple(w.shape)} but the config's [model] "
                                f"gives {tuple(layer.weight.shape)}; evaluate with the configuration it was trained "
                                "with")
            layer.weight.copy_(w)
            layer.threshold, layer.threshold_low = float(rec["threshold"]), float(rec["threshold_low"])
            q = layer.quant()
            if (q.threshold, q.threshold_low) != (rec["int_threshold"], rec["int_threshold_low"]):
                raise SnncError(f"layer {i}: the saved integer thresholds ({rec['int_threshold']}, "
                                f"{rec['int_threshold_low']}) do not follow from its saved float weights "
                                f"({q.threshold}, {q.threshold_low}); was the file edited?")
    return net


def compile_model_file(path: str | Path, target: str) -> dict:
    """Compile a model file with the default options for ``target``; returns the configuration dict."""
    from snnc.targets.compile import CompileOptions, compile_model

    return compile_model(path, CompileOptions(target=target))


def _predict(counts: np.ndarray) -> np.ndarray:
    return np.argmax(counts, axis=-1)


def chip_run(sim, events: np.ndarray, n_classes: int, spikes: bool = False):
    """One simulator run: (output spikes per class -- the exit core's output features --, the run's result);
    ``spikes``: with the spike log (NeuroBench's counts)."""
    res = sim.run(events, spikes=spikes)
    out = res.output_events
    return np.bincount(out["feature"].astype(np.int64), minlength=n_classes)[:n_classes], res


def evaluate(model_or_config: str | Path | dict, cfg: TrainConfig | str | Path, limit: int | None = None,
             batch_size: int = 128, progress: bool = False, energy=None, neurobench_dt_us: int | None = None) -> dict:
    """Accuracy of the float model, the integer model and the simulated chip on the config's evaluation split.

    ``model_or_config``: a ``.pt`` saved by ``snnc train`` (compiled here for the config's target), another model
    file (float and integer figures are then None), or a configuration JSON written by ``snnc compile`` / its dict
    (float and integer figures None).  Returns ``{"float_accuracy", "quantized_accuracy", "chip_accuracy",
    "agreement", "samples"}``, and ``"energy"`` with Qualia-SNN's estimate per inference (``{"qualia": ...}``, the
    mean over the samples of every chip layer's events and spikes in the simulator) when ``energy``
    (``energy_qualia.QualiaEnergySettings``) is given or a Qualia-SNN configuration has an EnergyEstimationMetric.
    With ``neurobench_dt_us``: ``"neurobench"``, NeuroBench's metrics on the simulated chip in bins of that many us
    over the encoding window (``runtime/neurobench_metrics.py``).
    """
    from snnc.runtime.simulator import Simulator

    if not isinstance(cfg, TrainConfig):
        cfg = load_train_config(cfg)
    torch.set_num_threads(cfg.train["threads"])
    target = cfg.quantization["target"]
    net = None
    if energy is None and getattr(cfg, "qualia", None) is not None:
        energy = cfg.qualia.energy
    chip_model = None  # the compiled chip layers, for the energy estimate
    if isinstance(model_or_config, dict):
        config = model_or_config
    else:
        p = Path(model_or_config)
        if not p.is_file():
            raise SnncError(f"{str(p)!r} not found; give a model (.pt) or a configuration (.json)")
        if p.suffix.lower() == ".json":
            from snnc.targets.config import load_config

            config = load_config(p)
        else:
            record = read_training_record(p)
            if record is not None:
                try:
                    net = net_from_record(cfg, record)
                except (KeyError, TypeError, AttributeError, ValueError, IndexError, RuntimeError) as e:
                    raise SnncError(f"{p}: its snnc_training record is damaged ({type(e).__name__}: "
                                    f"{str(e).splitlines()[0][:120] if str(e) else ''}); train it again with "
                                    "`snnc train`") from None
                if record.get("timesteps") != cfg.encoding["timesteps"]:
                    raise SnncError(f"the model was trained with {record.get('timesteps')} time steps, the config "
                                    f"says encoding.timesteps = {cfg.encoding['timesteps']}")
            config = compile_model_file(p, target)
            if energy is not None:
                from snnc.targets.compile import CompileOptions, run_pipeline

                chip_model = run_pipeline(p, CompileOptions(target=target), until="assign").chip
    ds = Dataset(cfg, "eval")
    n = len(ds) if limit is None else min(int(limit), len(ds))
    if n < 1:
        raise SnncError("nothing to evaluate: --limit must be >= 1")
    sim = Simulator.from_config(config)
    nb_samples = None
    if neurobench_dt_us is not None:
        from ..neurobench_metrics import check_dt

        neurobench_dt_us, nb_samples = check_dt(neurobench_dt_us), []
    n_cls = cfg.dataset["classes"]
    labels = ds.labels[:n]
    preds = {"float": [], "quant": [], "chip": []}
    n_layers = len(chip_model.layers) if chip_model is not None else 0
    act_in, act_out = [0] * n_layers, [0] * n_layers
    bar = None
    if progress:
        from ..progress import progress_bar

        bar = progress_bar(total=n, desc="evaluate", unit="sample")
    for a in range(0, n, batch_size):
        idx = list(range(a, min(a + batch_size, n)))
        events = [ds.events(i) for i in idx]
        if net is not None:
            from snnc.runtime.events import events_to_frames

            x = torch.from_numpy(np.stack([events_to_frames(e, ds.shape, ds.T, ds.duration_us) for e in events])
                                 .astype(np.float32))
            with torch.no_grad():
                preds["float"].append(_predict(net(x, False).sum(1).numpy()))
                preds["quant"].append(_predict(net(x, cfg.quantization["enabled"]).sum(1).numpy()))
        chip_pred = []
        for e in events:
            counts, res = chip_run(sim, e, n_cls, spikes=nb_samples is not None)
            chip_pred.append(_predict(counts))
            if nb_samples is not None:
                from ..neurobench_metrics import sample_counts

                nb_samples.append(sample_counts(sim.program, sim.prepare_events(e), res, neurobench_dt_us,
                                                window_us=int(ds.duration_us)))
            if chip_model is not None:
                for k, layer in enumerate(chip_model.layers):
                    act_in[k] += res.input_events_per_core.get(layer.core, 0)
                    act_out[k] += res.spikes_per_core.get(layer.core, 0)
        preds["chip"].append(np.array(chip_pred))
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    chip = np.concatenate(preds["chip"])
    out = {"float_accuracy": None, "quantized_accuracy": None, "chip_accuracy": float(np.mean(chip == labels)),
           "agreement": None, "samples": int(n)}
    if net is not None:
        fl, qu = np.concatenate(preds["float"]), np.concatenate(preds["quant"])
        out["float_accuracy"] = float(np.mean(fl == labels))
        out["quantized_accuracy"] = float(np.mean(qu == labels))
        out["agreement"] = float(np.mean(qu == chip))
    if chip_model is not None:
        from snnc.compiler.energy import LayerActivity
        from snnc.compiler.energy_qualia import estimate

        acts = [LayerActivity(layer.name, act_in[k] / n, act_out[k] / n, 0.0, layer.core)
                for k, layer in enumerate(chip_model.layers)]
        section = estimate(chip_model, acts, energy)
        section["per"] = f"inference (mean over {n} samples, simulated chip)"
        out["energy"] = {"qualia": section}
    elif energy is not None:
        out["energy"] = {"qualia": None, "note": "the energy estimate needs the model (.pt), not a configuration"}
    if nb_samples is not None:
        from ..neurobench_metrics import report

        out["neurobench"] = report(config, nb_samples, neurobench_dt_us, out["chip_accuracy"])
    return out
