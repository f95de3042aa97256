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
    # what the chip has or lacks, and how samna names it (targets/samna_adapter.py reads these)
    has_readout: bool = True  # the readout layer (classes from CNN channels); config "readout" is written for it
    has_dvs: bool = True  # the DVS sensor and its layer (dvs_layer id below)
    samna_module: str = ""  # samna.<module>.configuration; "" = the target's name
    samna_configuration_class: str = "SpeckConfiguration"
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

    @property
    def aliases(self) -> tuple[str, ...]:
        """The boards that carry this chip (``--target`` takes their names too), from :data:`BOARDS`."""
        return tuple(b.name for b in BOARDS if b.target == self.name)

    @property
    def samna_name(self) -> str:
        return self.samna_module or self.name


def _speck_cores() -> tuple[Core, ...]:
    table = [  # kernel, neuron memory per core (docs/speck.md §1)
        (16 * Ki, 64 * Ki), (16 * Ki, 64 * Ki), (16 * Ki, 64 * Ki),
        (32 * Ki, 32 * Ki), (32 * Ki, 32 * Ki),
        (64 * Ki, 16 * Ki), (64 * Ki, 16 * Ki),
        (16 * Ki, 16 * Ki), (16 * Ki, 16 * Ki),
    ]
    return tuple(Core(i, k, n, 1 * Ki, 100e6 if i == 0 else 30e6) for i, (k, n) in enumerate(table))


#: The chip a command uses when none is named (``--target``): written here only.
DEFAULT_TARGET = "speck2f"

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target(DEFAULT_TARGET, "speck", _speck_cores()),
    Target("speck2e", "speck", _speck_cores()),
)}


@dataclass(frozen=True)
class Board:
    """A board carrying a chip: ``--device NAME[:INDEX]`` (snnc deploy) and ``--target NAME`` take its name."""

    name: str
    target: str  #: the chip on it (a key of TARGETS)
    samna_device_type: str | None  #: samna's ``device_type_name`` (sinabs' io.device_types); None: deploy refuses it
    description: str = ""


#: Every board snnc knows, the one table: the help texts, ``snnc targets``, ``Target.aliases`` and the samna
#: adapter's device names are built from it.
BOARDS: tuple[Board, ...] = (
    Board("speck2fmodule", DEFAULT_TARGET, "Speck2fModuleDevKit", "Speck 2f module dev kit"),
    Board("speck2fdevkit", DEFAULT_TARGET, "Speck2fDevKit", "Speck 2f dev kit"),
    Board("speck2fmodulenoreadout", DEFAULT_TARGET, None, "Speck 2f module (a name for --target only)"),
    Board("speck2edevkit", "speck2e", "Speck2eDevKit", "Speck 2e dev kit"),
    Board("speck2etestboard", "speck2e", "Speck2eTestBoard", "Speck 2e test board"),
)
#: The board ``snnc deploy`` opens when none is named.
DEFAULT_BOARD = BOARDS[0].name


def deployable_boards() -> dict[str, str]:
    """{board name: samna device type name} for every board samna can open."""
    return {b.name: b.samna_device_type for b in BOARDS if b.samna_device_type}


def target_help(what: str = "chip") -> str:
    """The ``--target`` help text, from the tables."""
    others = [n for n in TARGETS if n != DEFAULT_TARGET]
    return (f"{what}: {DEFAULT_TARGET} (default){''.join(', ' + n for n in others)}, or a board carrying one "
            f"({', '.join(b.name for b in BOARDS)}; see `snnc targets`)")


def device_help() -> str:
    """The ``--device`` help text, from the tables."""
    return (f"board to use, NAME[:INDEX] (default {DEFAULT_BOARD}:0): "
            + ", ".join(deployable_boards()))


#: The integer neuron every Speck target shares (state and weight ranges, decimator ratios): what
#: ``snnc.runtime.neuron`` compiles into the simulator and the training layers.  Every entry of TARGETS has the same
#: numbers (checked by tests/test_speck_family.py).
SPECK_NEURON: Target = TARGETS[DEFAULT_TARGET]


def get_target(name: str) -> Target:
    """Look a target up by its name or one of its device aliases (``speck2fmodule`` -> speck2f)."""
    key = name.strip().lower()
    for t in TARGETS.values():
        if key == t.name or key in t.aliases:
            return t
    names = ", ".join(sorted([t.name for t in TARGETS.values()] + [a for t in TARGETS.values() for a in t.aliases]))
    raise SnncError(f"unknown target {name!r}; known targets: {names}")
