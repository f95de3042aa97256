"""Speck chips as data.  Every chip number the compiler, the simulator and the reports use lives here.

Sources (see ``docs/speck.md``): SynSense's Speck datasheet V1.0 (2023) and the sinabs 3.1 code.  Values marked
*estimate* are not published by SynSense and can be overridden on the command line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..compiler.errors import SnncError

Ki = 1024


@dataclass(frozen=True)
class Core:
    index: int
    kernel_memory: int  # 8-bit words
    neuron_memory: int  # 16-bit words
    bias_memory: int
    synops_limit: float  # synaptic operations per second (estimate)


@dataclass(frozen=True)
class Target:
    name: str
    family: str
    cores: tuple[Core, ...]
    aliases: tuple[str, ...] = ()
    # per-core limits (docs/speck.md §3)
    max_input_size: int = 128
    max_output_size: int = 64
    max_channels: int = 1024
    kernel_sizes: tuple[int, ...] = tuple(range(1, 17))
    strides: tuple[int, ...] = (1, 2, 4, 8)
    max_padding: int = 7
    poolings: tuple[int, ...] = (1, 2, 4)
    destinations_per_core: int = 2
    # numbers
    weight_bits: int = 8
    state_bits: int = 16
    bias_bits: int = 16
    threshold_bits: int = 16
    # event layer ids
    readout_layer: int = 12
    dvs_layer: int = 13
    dvs_size: int = 128
    # readout layer: classes 1..readout_classes, class k listening to CNN channel readout_channel_stride * (k - 1)
    # (the speck2e/2f errata)
    readout_classes: int = 15
    readout_channel_stride: int = 4
    # output decimator: 3-bit interval -> pass 1 spike in N (datasheet table; 64 missing there)
    decimator_ratios: tuple[int, ...] = (2, 4, 8, 16, 32, 128, 256, 512)
    synops_limit_source: str = "estimate (secondary source: ~100 M/s core 0, ~30 M/s others); override with --synops-limit"
    # fixed time a core spends on one input event besides its synaptic operations (queue model, docs/bandwidth.md):
    # the smallest per-layer latency quoted for Speck, "120 ns" (Yao et al. 2024, second-hand; docs/speck.md §7).
    # An ESTIMATE; a core's time per synaptic operation is 1 / synops_limit.
    event_time_s: float = 120e-9
    event_time_source: str = ("estimate: 120 ns per event (smallest per-layer latency quoted for Speck) + "
                              "1 / synops_limit per synaptic operation")
    # energy (Speck model), see docs/energy.md.  static_power_w is published (resting power, Yao et al., Nature
    # Communications 15:4464, 2024); the per-operation energies are ASSUMPTIONS (no published figure found).
    energy_per_synop_j: float = 10e-12
    energy_per_spike_j: float = 50e-12
    static_power_w: float = 0.42e-3
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def weight_range(self) -> tuple[int, int]:
        return (-(2 ** (self.weight_bits - 1)), 2 ** (self.weight_bits - 1) - 1)

    @property
    def state_range(self) -> tuple[int, int]:
        return (-(2 ** (self.state_bits - 1)), 2 ** (self.state_bits - 1) - 1)

    @property
    def bias_range(self) -> tuple[int, int]:
        return (-(2 ** (self.bias_bits - 1)), 2 ** (self.bias_bits - 1) - 1)

    @property
    def threshold_range(self) -> tuple[int, int]:
        return (-(2 ** (self.threshold_bits - 1)), 2 ** (self.threshold_bits - 1) - 1)

    @property
    def n_cores(self) -> int:
        return len(self.cores)


def _speck_cores() -> tuple[Core, ...]:
    table = [  # kernel, neuron memory per core (docs/speck.md §1)
        (16 * Ki, 64 * Ki), (16 * Ki, 64 * Ki), (16 * Ki, 64 * Ki),
        (32 * Ki, 32 * Ki), (32 * Ki, 32 * Ki),
        (64 * Ki, 16 * Ki), (64 * Ki, 16 * Ki),
        (16 * Ki, 16 * Ki), (16 * Ki, 16 * Ki),
    ]
    return tuple(Core(i, k, n, 1 * Ki, 100e6 if i == 0 else 30e6) for i, (k, n) in enumerate(table))


TARGETS: dict[str, Target] = {
    "speck2f": Target("speck2f", "speck", _speck_cores(), aliases=("speck2fmodule", "speck2fdevkit", "speck2fmodulenoreadout")),
    "speck2e": Target("speck2e", "speck", _speck_cores(), aliases=("speck2edevkit", "speck2etestboard")),
}


#: The integer neuron every Speck target shares (state and weight ranges, decimator ratios): what
#: ``snnc.runtime.neuron`` compiles into the simulator and the training layers.  Every entry of TARGETS has the same
#: numbers (checked by tests/test_speck_family.py).
SPECK_NEURON: Target = TARGETS["speck2f"]


def get_target(name: str) -> Target:
    """Look a target up by its name or one of its device aliases (``speck2fmodule`` -> speck2f)."""
    key = name.strip().lower()
    for t in TARGETS.values():
        if key == t.name or key in t.aliases:
            return t
    names = ", ".join(sorted([t.name for t in TARGETS.values()] + [a for t in TARGETS.values() for a in t.aliases]))
    raise SnncError(f"unknown target {name!r}; known targets: {names}")
