"""Every rule id snnc reports, in one table: errors (the model cannot run as written: exit 1) and warnings (it runs,
but something changed or may differ on the chip).

Rule ids are stable (scripts depend on them).  :class:`~snnc.compiler.errors.Diagnostics` accepts no other id, a
test walks the source for every id a module emits, ``snnc check --list-rules`` prints this table and
``docs/rules.md`` is :func:`render_rule_table`'s output (a test keeps the two equal).

``where`` names the module that emits the diagnostic.  Refusals of Qualia-SNN training configurations
(``snnc train`` / ``snnc check CONFIG.toml``) are listed too: they come from the same table.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  #: "error", "warning", or "error, warning" (an id used for both)
    where: str  #: the module that checks it
    description: str  #: one line


_DRC = "compiler/drc.py"
_QUALIA = "runtime/training/qualia_config.py"

RULES: tuple[Rule, ...] = (
    # input values (compiler/sanity.py: before any pass)
    Rule("parameter_value", "error", "compiler/sanity.py", "a weight, bias or neuron parameter is NaN or infinite"),
    Rule("threshold", "error", "compiler/sanity.py", "a threshold is <= 0, or a floor (threshold_low) is -inf"),
    # graph rules
    Rule("recurrence", "error", _DRC, "a recurrent loop (the chip can deadlock on feedback)"),
    Rule("unsupported_layer", "error", _DRC, "a layer no core can run (MaxPool, a BatchNorm that cannot be folded, ...)"),
    Rule("neuron_model", "error", f"{_DRC}, {_QUALIA}",
         "not integrate-and-fire (LIF, ReLU without --convert-ann), or a weight layer not followed by one spiking "
         "layer"),
    Rule("threshold_shared", "error", _DRC, "neurons of one layer with different thresholds (one per core)"),
    Rule("pooling", "error", f"{_DRC}, compiler/passes/graph_passes.py, {_QUALIA}",
         "a pooling the chip cannot run (size, padding, average pooling that cannot become sum pooling, input "
         "pooling without the DVS layer)"),
    # chip-layer rules
    Rule("kernel_size", "error", _DRC, "a kernel larger than a core takes"),
    Rule("kernel_shape", "error", _DRC, "a non-square kernel"),
    Rule("stride", "error", f"{_DRC}, {_QUALIA}", "a stride the chip does not have"),
    Rule("padding", "error", _DRC, "a padding the chip does not have"),
    Rule("dilation", "error", _DRC, "a dilated convolution"),
    Rule("groups", "error", _DRC, "a grouped convolution"),
    Rule("input_size", "error", _DRC, "a layer's (or the DVS layer's) input larger than the chip reads"),
    Rule("output_size", "error", _DRC, "a layer's output larger than a core addresses"),
    Rule("channels", "error", _DRC, "more input or output channels than a core has"),
    Rule("feature_shift", "error", _DRC,
         "a layer's channels shifted (a slice of a split layer or a concatenation) reach past the destination's "
         "channels"),
    Rule("destinations", "error, warning", _DRC,
         "a layer (or the DVS layer) feeds more layers than a core has destinations; warning: nothing reaches "
         "the output"),
    Rule("kernel_memory", "error", _DRC, "a layer's weights need more kernel memory than the largest core has"),
    Rule("neuron_memory", "error", _DRC, "a layer's neuron states need more neuron memory than the largest core has"),
    Rule("bias_memory", "error", _DRC, "a layer's biases need more bias memory than the largest core has"),
    Rule("layer_count", "error", _DRC, "more chip layers than the chip has cores"),
    Rule("core_assignment", "error", "compiler/mapping.py",
         "every layer fits some core, but no assignment of layers to cores exists (or --cores names a bad core)"),
    Rule("synops_bandwidth", "error", "compiler/latency.py",
         "a core receives more synaptic operations per second than it processes within --max-latency-ms"),
    Rule("quantization", "error, warning", "compiler/quantize.py",
         "error: every weight of a layer rounds to 0; warning: a threshold or weights lose precision"),
    # warnings
    Rule("spike_mode", "warning", _DRC,
         "MultiSpike layers with weights above the threshold: the chip fires at most once per event"),
    Rule("bias", "warning", "compiler/passes/chip_passes.py", "biases stripped, or kept as chip leak (--keep-biases)"),
    Rule("clip", "warning", "compiler/passes/chip_passes.py", "weights above the threshold clipped to it"),
    Rule("monitor", "warning", "compiler/options.py",
         "a monitored layer pools: the chip monitors its un-pooled output"),
    # Qualia-SNN training configurations
    Rule("reset", "error", _QUALIA, "a reset value other than 0 or subtract (v_reset)"),
    Rule("batch_norm", "error", _QUALIA, "batch_norm = true (folding gives biases, which Speck runs as leak on its slow clock)"),
    Rule("qualia_dataset", "error", _QUALIA, "a data set snnc cannot train a Speck model on"),
    Rule("qualia_dims", "error", _QUALIA, "dims other than 2 (Speck runs 2-D convolutions)"),
    Rule("qualia_dropout", "error", _QUALIA, "dropouts other than 0 (snnc trains without dropout)"),
    Rule("qualia_prepool", "error", _QUALIA, "prepool other than 1 (snnc trains no input pooling)"),
    Rule("qualia_postpool", "error", _QUALIA, "postpool other than 1 in an SCNN (no pooling after the last conv layer)"),
    Rule("qualia_preprocessing", "error", _QUALIA, "an event preprocessing step on an image data set"),
    Rule("qualia_resnet", "error", _QUALIA, "an SResNet shape other than snnc's one-block ResNet"),
)

#: Every id, in the table's order (the one list of them).
RULE_IDS: tuple[str, ...] = tuple(r.id for r in RULES)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def rule(rule_id: str) -> Rule:
    """The registered rule ``rule_id``; a KeyError names an unregistered id (a bug: register it in :data:`RULES`)."""
    try:
        return RULES_BY_ID[rule_id]
    except KeyError:
        raise KeyError(f"rule id {rule_id!r} is not registered in snnc.compiler.rules.RULES") from None


def render_rule_table() -> str:
    """The rule table as Markdown (``docs/rules.md`` holds exactly this; ``snnc check --list-rules`` prints it)."""
    rows = ["| rule | severity | checked in | what it means |", "|---|---|---|---|"]
    for r in RULES:
        rows.append(f"| `{r.id}` | {r.severity} | {', '.join(f'`{w}`' for w in r.where.split(', '))} | "
                    f"{r.description} |")
    return "\n".join(rows) + "\n"
