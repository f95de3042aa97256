"""The lowered form: a model as a list of chip layers, each one core's work.

A chip layer is what one Speck core does: ``Conv2d -> IAF -> (per destination) sum pooling``.  The compiler groups
the graph IR into chip layers (``passes/group.py``), checks them (``drc.py``), assigns them to cores
(``mapping.py``), quantizes them (``quantize.py``) and hands them to a target's config writer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from .errors import SnncError

OUTPUT = "output"


@dataclass
class Destination:
    """Where a chip layer's spikes go: another chip layer (index into ``ChipModel.layers``) or the model output."""

    layer: Union[int, str]  # index of the receiving chip layer, or OUTPUT
    pooling: int = 1  # square sum pooling applied on the way (1, 2, 4 on Speck)
    feature_shift: int = 0  # added to the feature index on the way (concatenation)
    pool_name: str | None = None  # the user's pooling layer, for diagnostics
    pooling_shape: tuple[int, int] | None = None  # (ky, kx) as the model had it; may be non-square (a violation)
    pooling_stride: tuple[int, int] | None = None  # (sy, sx) as the model had it; the chip needs stride = kernel
    pooling_padded: bool = False  # the model's pooling pads its input (the chip's cannot)

    @property
    def target(self) -> Union[int, str]:
        """Old name of :attr:`layer` (kept for scripts written against it)."""
        return self.layer


@dataclass
class ChipLayer:
    """One core's worth of network.

    ``weight`` is ``[out, in, kh, kw]`` (torch order), float before quantization and integer-valued after.
    Thresholds are scalars (one per layer).  ``bias`` is per output channel or None.
    """

    name: str  # the user's name of the conv / linear layer
    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    input_shape: tuple[int, int, int]  # (C, H, W) arriving at the core
    output_shape: tuple[int, int, int]  # (F, H, W) of the conv / neurons, before pooling
    threshold_high: float
    threshold_low: float | None  # None: the model gave no floor
    reset: str = "subtract"  # or "zero"
    spike_mode: str = "single"
    v_init: np.ndarray | None = None  # [F, H, W] or None for zeros
    destinations: list[Destination] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # every user layer folded into this chip layer
    neuron_name: str | None = None
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    core: int | None = None
    # a slice of a layer split over several cores (``passes/split.py``): the user's layer and its output channels
    split_of: str | None = None
    channels: tuple[int, int] | None = None  # [lo, hi) of the user's layer's output channels
    # filled by quantization
    scale: float | None = None
    quantized: bool = False
    quant_report: dict = field(default_factory=dict)

    @property
    def kernel_size(self) -> tuple[int, int]:
        return (int(self.weight.shape[2]), int(self.weight.shape[3]))

    @property
    def in_channels(self) -> int:
        return int(self.input_shape[0])

    @property
    def out_channels(self) -> int:
        return int(self.output_shape[0])


@dataclass
class DvsSpec:
    """The DVS layer as the chip runs it (from the graph's ``DVS`` node): all pairs are (y, x), regions in pooled
    coordinates with ``cut`` inclusive."""

    name: str
    pooling: tuple[int, int]
    origin: tuple[int, int]
    cut: tuple[int, int]
    mirror_x: bool = False
    mirror_y: bool = False
    mirror_diagonal: bool = False
    merge: bool = False
    on_channel: bool = True
    off_channel: bool = True
    pass_sensor_events: bool = True


@dataclass
class ChipModel:
    """The chip layers of one model, in topological order, with its input routing."""

    layers: list[ChipLayer]
    input_shape: tuple[int, ...]
    input_targets: list[int]  # chip layers that receive the input events directly
    input_name: str = "input"
    input_pooling: int = 1  # sum pooling applied to the input before the first layer (the DVS layer can do it)
    meta: dict = field(default_factory=dict)
    dvs: DvsSpec | None = None  # the DVS layer, when the input goes through it
    monitor: list[int] = field(default_factory=list)  # chip layers whose spikes are monitored (--monitor)
    monitor_dvs: bool = False

    def index(self, name: str) -> int:
        for i, layer in enumerate(self.layers):
            if layer.name == name:
                return i
        raise KeyError(name)

    def exits(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if any(d.layer == OUTPUT for d in layer.destinations)]

    def sources(self) -> dict[int, list[int]]:
        """For each chip layer (index), the chip layers that send it events, in layer order."""
        src: dict[int, list[int]] = {i: [] for i in range(len(self.layers))}
        for i, layer in enumerate(self.layers):
            for d in layer.destinations:
                if d.layer != OUTPUT:
                    src[int(d.layer)].append(i)
        return src


def resolve_decimate(chip: ChipModel, decimate: dict | None, target) -> dict[int, int]:
    """The one ``--decimate`` resolver: ``{LAYER: N}`` -> ``{chip layer index: N}``.

    LAYER is a chip layer's name, its neuron layer's name, a user layer folded into it, or its index; N must be one
    of ``target.decimator_ratios``.  Raises SnncError naming the bad entry and the valid choices.
    """
    out: dict[int, int] = {}
    for key, n in (decimate or {}).items():
        name = str(key)
        hits = [i for i, layer in enumerate(chip.layers)
                if name == layer.name or name == layer.neuron_name or name in layer.sources]
        if not hits and name.isdigit() and int(name) < len(chip.layers):
            hits = [int(name)]
        if not hits:
            names = ", ".join(layer.name for layer in chip.layers)
            raise SnncError(f"--decimate {key}={n}: no chip layer is called {key!r} (no layer {key!r} in the model "
                            f"is folded into one); chip layers: {names}")
        try:
            n = int(n)
        except (TypeError, ValueError):
            raise SnncError(f"--decimate {key}={n}: N must be an integer, one of {list(target.decimator_ratios)}"
                            ) from None
        if n not in target.decimator_ratios:
            ratios = ", ".join(map(str, target.decimator_ratios))
            raise SnncError(f"--decimate {key}={n}: the output decimator passes 1 spike in N with N one of "
                            f"{ratios} on {target.name}")
        for i in hits:  # every slice of a layer split over several cores (passes/split.py), else the first hit
            if i == hits[0] or (chip.layers[i].split_of is not None
                                and chip.layers[i].split_of == chip.layers[hits[0]].split_of):
                out[i] = n
    return out
