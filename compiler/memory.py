"""The memory a chip layer needs on a Speck core -- the one place these formulas live.

With c input channels, f output channels, a kx*ky kernel and an (fy, fx) conv output map before pooling
(docs/speck.md §2, as sinabs computes them):

* kernel memory = c * 2^(ceil(log2(kx*ky)) + ceil(log2 f))   (8-bit words)
* neuron memory = f * 2^(ceil(log2 fy) + ceil(log2 fx))      (16-bit words)
* bias memory   = f if the layer keeps a bias, else 0
"""
from __future__ import annotations

from .chip import ChipLayer


def _clog2(n: int) -> int:
    """ceil(log2(n)) for a positive integer, exactly (no floating point)."""
    return max(int(n) - 1, 0).bit_length()


def kernel_memory(layer: ChipLayer) -> int:
    kh, kw = layer.kernel_size
    return layer.in_channels * 2 ** (_clog2(kh * kw) + _clog2(layer.out_channels))


def neuron_memory(layer: ChipLayer) -> int:
    f, fy, fx = layer.output_shape
    return f * 2 ** (_clog2(fy) + _clog2(fx))


def bias_memory(layer: ChipLayer) -> int:
    return layer.out_channels if layer.bias is not None else 0


def memory(layer: ChipLayer) -> dict[str, int]:
    return {"kernel": kernel_memory(layer), "neuron": neuron_memory(layer), "bias": bias_memory(layer)}


def memory_row(layer: ChipLayer, core=None) -> dict:
    """The per-layer row the reports and the config's ``snnc.layers`` share: name, core, shapes and the three
    memories; with ``core`` (a target's ``Core``) also its capacities."""
    m = memory(layer)
    row = {"name": layer.name, "core": layer.core,
           "input_shape": list(layer.input_shape), "output_shape": list(layer.output_shape),
           "kernel_memory": m["kernel"], "neuron_memory": m["neuron"], "bias_memory": m["bias"]}
    if core is not None:
        row.update({"kernel_capacity": core.kernel_memory, "neuron_capacity": core.neuron_memory,
                    "bias_capacity": core.bias_memory})
    return row
