"""Training: the loop, the regularizers, the metrics CSV and the saved model.

``train_from_config(path)`` reads a TOML configuration (:mod:`.config`), trains the model it describes with the chip's
integer neurons (quantization-aware from ``quantization.start_epoch``), writes per-epoch metrics to a CSV and saves
``{"model": nn.Sequential, "input_shape": [C, H, W], "snnc_training": {...}}`` with ``torch.save``.  ``model`` holds
plain torch and sinabs layers with the trained integer weights and thresholds, so ``snnc compile`` loads it without
``--trust`` and keeps it at scale 1.  ``snnc_training`` holds plain data only: the float weights (for
``snnc evaluate``'s float figure), the encoding and the integer thresholds.
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from snnc.compiler.errors import SnncError
from snnc.compiler.fileio import atomic_write

from .config import TrainConfig, load_train_config
from .data import Dataset
from .models import SpikingNet, build_model, export_sinabs


def synops_loss(stats: list[dict], budgets: list[float]) -> torch.Tensor:
    """Sum over layers of ``relu(synops - budget) / budget``: only SynOps above a layer's budget cost anything.

    ``budgets`` has one value per layer, or one value for every layer.
    """
    if len(budgets) == 1:
        budgets = budgets * len(stats)
    if len(budgets) != len(stats):
        raise SnncError(f"regularization.synops_budget has {len(budgets)} values; give one, or one per layer "
                        f"({len(stats)})")
    total = torch.zeros(())
    for st, b in zip(stats, budgets):
        total = total + F.relu(st["synops"] - b) / max(b, 1.0)
    return total


def rate_loss(stats: list[dict], target: float) -> torch.Tensor:
    """Sum over hidden layers (all but the output) of ``(mean spikes per neuron and step - target)^2``."""
    total = torch.zeros(())
    for st in stats[:-1]:
        total = total + (st["rate"] - target) ** 2
    return total


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write atomically; the folder must exist (snnc never creates folders the user did not ask for)."""
    atomic_write(path, data)


def check_outputs(cfg: TrainConfig, config_path, model_flag: str = "output.model") -> None:
    """Refuse, before any training, outputs that would destroy an input or cannot be written (exit 2)."""
    from snnc.compiler.fileio import check_output

    model, metrics = Path(cfg.output["model"]), Path(cfg.output["metrics"])
    metrics_flag = "output.metrics" if model_flag == "output.model" else "the metrics CSV"
    check_output(model, model_flag, {"CONFIG.toml": config_path}, probe=True)
    check_output(metrics, metrics_flag, {"CONFIG.toml": config_path, model_flag: model}, probe=True)


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    _atomic_write_bytes(path, buf.getvalue().encode())


@torch.no_grad()
def accuracy(net: SpikingNet, ds: Dataset, quantized: bool, batch_size: int = 256, limit: int | None = None,
             seed: int = 12345) -> float:
    """Accuracy on ``ds`` with fresh encoder draws from a fixed seed (a quick figure for the training log)."""
    net.eval()
    n = len(ds) if limit is None else min(limit, len(ds))
    g = torch.Generator().manual_seed(seed)
    correct = 0
    for a in range(0, n, batch_size):
        idx = np.arange(a, min(a + batch_size, n))
        out = net(ds.frames(idx, g), quantized).sum(1)
        correct += int((out.argmax(1) == torch.from_numpy(ds.labels[idx])).sum())
    return correct / max(n, 1)


def make_optimizer(cfg: TrainConfig, params):
    t = cfg.train
    if t["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=t["lr"], weight_decay=t["weight_decay"])
    if t["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=t["lr"], weight_decay=t["weight_decay"])
    return torch.optim.SGD(params, lr=t["lr"], momentum=0.9, weight_decay=t["weight_decay"])


def train_model(cfg: TrainConfig, progress: bool = True, log=None) -> tuple[SpikingNet, list[dict]]:
    """Train the model ``cfg`` describes; return it and the per-epoch metrics (also written to the CSV)."""
    t, q, r = cfg.train, cfg.quantization, cfg.regularization
    torch.set_num_threads(t["threads"])
    torch.manual_seed(t["seed"])
    np.random.seed(t["seed"])
    train_ds, eval_ds = Dataset(cfg, "train"), Dataset(cfg, "eval")
    net = build_model(cfg)
    opt = make_optimizer(cfg, net.parameters())
    steps = t["epochs"] * ((len(train_ds) + t["batch_size"] - 1) // t["batch_size"])
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if t["lr_schedule"] == "cosine"
             else torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))
    g = torch.Generator().manual_seed(t["seed"])
    rows: list[dict] = []
    for layer in net.layers:
        layer.clip_weights(t["weight_clip"])
    for epoch in range(t["epochs"]):
        quant = q["enabled"] and epoch >= q["start_epoch"]
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(train_ds), generator=g).numpy()
        batches = [perm[i: i + t["batch_size"]] for i in range(0, len(perm), t["batch_size"])]
        tot_loss = tot_correct = tot_n = 0.0
        tot_synops = 0.0
        bar = None
        if progress:
            from ..progress import progress_bar

            bar = progress_bar(batches, desc=f"epoch {epoch + 1}/{t['epochs']}" + (" (int)" if quant else ""),
                       unit="batch", leave=True)
        for idx in (bar if bar is not None else batches):
            x = train_ds.frames(idx, g)
            y = torch.from_numpy(train_ds.labels[idx])
            out = net(x, quant)
            counts = out.sum(1)
            loss = F.cross_entropy(counts * t["count_scale"], y)
            stats = net.stats()
            if r["synops_weight"] > 0:
                loss = loss + r["synops_weight"] * synops_loss(stats, r["synops_budget"] or [0.0])
            if r["rate_weight"] > 0:
                loss = loss + r["rate_weight"] * rate_loss(stats, r["target_rate"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for layer in net.layers:
                layer.clip_weights(t["weight_clip"])
            b = len(idx)
            tot_loss += float(loss.detach()) * b
            tot_correct += float((counts.argmax(1) == y).sum())
            tot_n += b
            tot_synops += float(sum(float(s["synops"].detach()) for s in stats)) * b
            if bar is not None:
                bar.set_postfix(loss=f"{tot_loss / tot_n:.3f}", acc=f"{tot_correct / tot_n:.3f}", refresh=False)
        if bar is not None:
            bar.close()
        secs = time.perf_counter() - t0
        row = {"epoch": epoch + 1, "quantized": int(quant), "loss": round(tot_loss / tot_n, 5),
               "train_accuracy": round(tot_correct / tot_n, 5),
               "eval_accuracy": round(accuracy(net, eval_ds, quant), 5),
               "synops_per_sample": round(tot_synops / tot_n, 1), "lr": opt.param_groups[0]["lr"],
               "seconds": round(secs, 2)}
        rows.append(row)
        _write_csv(Path(cfg.output["metrics"]), rows)
        if log is not None:
            log(f"epoch {row['epoch']}: loss {row['loss']:.4f}  train acc {row['train_accuracy']:.4f}  "
                f"eval acc {row['eval_accuracy']:.4f}{' (integer)' if quant else ''}  {secs:.1f} s")
    return net, rows


def training_record(cfg: TrainConfig, net: SpikingNet) -> dict:
    """Plain data saved next to the model: what ``snnc evaluate`` needs to rebuild the float and integer models."""
    layers = []
    for layer in net.layers:
        qq = layer.quant()
        layers.append({"float_weight": layer.weight.detach().clone(), "threshold": layer.threshold,
                       "threshold_low": layer.threshold_low, "int_threshold": qq.threshold,
                       "int_threshold_low": qq.threshold_low, "scale": float(qq.scale)})
    e = cfg.encoding
    return {"format_version": 1, "layers": layers, "timesteps": e["timesteps"], "step_us": e["step_us"],
            "encoding": e["kind"], "max_rate": e["max_rate"], "input_shape": list(net.input_shape),
            "quantized": bool(cfg.quantization["enabled"])}


def save_model(path: str | Path, cfg: TrainConfig, net: SpikingNet) -> Path:
    """Write the trained model atomically (see the module docstring for the layout)."""
    path = Path(path)
    seq = export_sinabs(net, quantized=cfg.quantization["enabled"])
    obj = {"model": seq, "input_shape": list(net.input_shape), "snnc_training": training_record(cfg, net)}
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_write_bytes(path, buf.getvalue())
    return path


def check_fits(cfg: TrainConfig) -> None:
    """Raise SnncError naming the first violation when the model ``cfg`` describes cannot go on the chip.

    Skipped for leaky neurons (software-only experiments, refused by ``snnc compile`` anyway)."""
    if cfg.neuron["model"] != "iaf":
        return
    from snnc.targets.compile import CompileOptions, run_pipeline

    net = build_model(cfg)
    result = run_pipeline(export_sinabs(net, quantized=False),
                          CompileOptions(target=cfg.quantization["target"], input_shape=net.input_shape))
    if not result.fits:
        names = {}  # Sequential index -> what the TOML calls it (plain SCNNs; a ResNet keeps torch's names)
        i = 0
        for k, layer in enumerate(net.layers if set(net.roles) == {"plain"} else []):
            i += 1 if k == net.n_conv else 0  # the Flatten
            if layer.kind == "conv":
                names[str(i)] = f"conv layer {k + 1} (model.channels[{k}])"
            elif k < len(net.layers) - 1:
                names[str(i)] = f"hidden layer {k - net.n_conv + 1} (model.hidden[{k - net.n_conv}])"
            else:
                names[str(i)] = "the output layer"
            i += 2 + (1 if layer.pool > 1 else 0)
        errs = [d for d in result.diagnostics if d.severity == "error"]
        if not errs:
            raise SnncError(f"the model in [model] does not fit {cfg.quantization['target']} (see `snnc check`)")
        d = errs[0]
        where = ", ".join(names.get(n.strip(), n.strip()) for n in (d.layer or "").split(","))
        raise SnncError(f"the model in [model] does not fit {cfg.quantization['target']}: [{d.rule}] {where}: "
                        f"{d.message}" + (f"; {d.hint}" if d.hint else "")
                        + (f" (and {len(errs) - 1} more violation(s))" if len(errs) > 1 else ""))


def train_from_config(config_path: str | Path, output: str | Path | None = None, progress: bool = True,
                      log=None, epochs: int | None = None, limit: int | None = None) -> Path:
    """Train from a TOML file; save the model to ``output`` (default: ``[output] model``); return its path.

    ``epochs`` overrides the configured number of epochs; ``limit`` trains on the first ``limit`` samples of the
    training split only (both for short runs; the quantization-aware start epoch is scaled with ``epochs``)."""
    cfg = load_train_config(config_path)
    if epochs is not None:
        if epochs < 1:
            raise SnncError(f"--epochs must be >= 1, got {epochs}")
        q = cfg.quantization
        q["start_epoch"] = min(q["start_epoch"], q["start_epoch"] * epochs // cfg.train["epochs"])
        cfg.train["epochs"] = epochs
    if limit is not None:
        if limit < 1:
            raise SnncError(f"--limit must be >= 1, got {limit}")
        lo, hi = cfg.dataset["train"]
        cfg.dataset["train"] = [lo, min(hi, lo + limit - 1)]
    if output is not None:
        cfg.output["model"] = Path(output)
        cfg.output["metrics"] = Path(output).with_suffix(".csv")
    check_outputs(cfg, config_path, "output.model" if output is None else "-o")
    if log is not None:
        for note in cfg.notes:  # a translated (Qualia-SNN) configuration: what it changes or ignores
            log(f"note: {note}")
    check_fits(cfg)  # before any training: the described model must fit the chip
    net, _ = train_model(cfg, progress=progress, log=log)
    return save_model(cfg.output["model"], cfg, net)
