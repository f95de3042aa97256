"""How long `snnc compile` takes on a 9-core model, input file to JSON on disk, next to sinabs on the same model.

    python benchmarks/bench_compile.py [--repeat 10]

Measures, in the same run and on the same sinabs model (8 conv layers and a linear layer, one per core):

* snnc: ``torch.save``d model file -> load -> passes -> rule checks -> core assignment -> quantization -> config
  dict -> checked (schema, chip rules, ranges) and written atomically as JSON (``snnc compile``'s work without the
  CLI: ``run_pipeline`` and ``build_and_write_config(result, out, lists=False)``), plus its stages;
* sinabs 3.1: ``DynapcnnNetwork(model, discretize=True)`` (graph extraction, layer building, discretization) plus its
  layer -> core mapping (``map_layers_to_cores``) and the per-layer config dicts.  sinabs' backend imports samna at
  import time, so a minimal stand-in (from ``tests/conftest.py``) is put in ``sys.modules`` first; sinabs does not
  write a file, so its figure has no I/O in it.

Prints median and best wall times in milliseconds, the size of the written file, and snnc / sinabs for the medians
(the figure of issue 14) and for the best runs (less affected by other jobs on the machine).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn


def nine_core_model() -> nn.Module:
    import sinabs.layers as sl

    g = torch.Generator().manual_seed(0)
    chans = [2, 16, 32, 32, 64, 64, 64, 32, 16]
    layers = []
    for i in range(8):
        layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False),
                   sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)]
        if i in (0, 2, 4):
            layers.append(sl.SumPool2d(2))
    layers += [nn.Flatten(), nn.Linear(16 * 8 * 8, 10, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)]
    m = nn.Sequential(*layers)
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return m


def _stats(xs: list[float]) -> str:
    return f"median {1e3 * statistics.median(xs):8.1f} ms   best {1e3 * min(xs):8.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from snnc.targets.compile import CompileOptions, run_pipeline
    from snnc.targets.config import build_config, write_config
    from snnc.targets.config.gcpause import gc_paused

    @gc_paused
    def build_and_write(result, out):
        """``build_and_write_config(result, out, lists=False)`` (what ``snnc compile`` runs), timed in two steps."""
        config = build_config(result, arrays=True)
        t2 = time.perf_counter()
        write_config(config, out)
        return t2, time.perf_counter()

    model = nine_core_model()
    shape = (2, 64, 64)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "model.pt", Path(tmp) / "model.json"
        torch.save(model, src)
        totals, stages = [], {}
        for _ in range(args.repeat + 1):
            t0 = time.perf_counter()
            result = run_pipeline(str(src), CompileOptions(input_shape=shape), until="quantize")
            assert result.fits, [str(d) for d in result.diagnostics.errors]
            t1 = time.perf_counter()
            t2, t3 = build_and_write(result, out)
            totals.append(t3 - t0)
            for k, v in dict(result.timings, build_config=t2 - t1, write_checked_json=t3 - t2).items():
                stages.setdefault(k, []).append(v)
        totals, stages = totals[1:], {k: v[1:] for k, v in stages.items()}  # the first run warms caches
        cores = sorted(layer.core for layer in result.chip.layers)
        size = out.stat().st_size

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import install_samna_stub  # a stand-in so that sinabs' backend imports; not samna

    install_samna_stub()
    import sinabs.backend.dynapcnn as dynapcnn
    from sinabs.backend.dynapcnn.chips.speck2f import Speck2FConfigBuilder

    ref = []
    for _ in range(args.repeat + 1):
        t0 = time.perf_counter()
        net = dynapcnn.DynapcnnNetwork(model, input_shape=shape, discretize=True)
        l2c = Speck2FConfigBuilder.map_layers_to_cores(net.dynapcnn_layers)
        for idx, layer in net.dynapcnn_layers.items():
            Speck2FConfigBuilder.get_dynapcnn_layer_config_dict(layer, l2c, net.layer_destination_map[idx])
        ref.append(time.perf_counter() - t0)
    ref = ref[1:]

    print(f"9-core model {list(shape)} -> {len(cores)} layers on cores {cores}, {args.repeat} runs each")
    print(f"snnc   .pt -> JSON on disk ({size / 1024:.0f} KiB)   {_stats(totals)}")
    for k, v in stages.items():
        print(f"         {k:<20} {_stats(v)}")
    print(f"sinabs DynapcnnNetwork + core mapping + config dicts  {_stats(ref)}")
    print(f"ratio (median snnc / median sinabs): {statistics.median(totals) / statistics.median(ref):.2f}"
          f"   (best snnc / best sinabs: {min(totals) / min(ref):.2f})")


if __name__ == "__main__":
    main()
