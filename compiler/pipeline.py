"""The pass pipeline: model -> graph IR -> passes -> chip layers -> rule checks -> core assignment -> integers.

The compiler knows no chip by name: ``run_pipeline`` takes the target as a value (``snnc.targets``' ``Target``);
``snnc.targets.compile`` resolves a name and writes the configuration.  Pipelines are data: ``PIPELINES[family]`` lists the graph passes and chip passes by name, in order, so reordering or
extending is a one-line edit.  Rule checks collect every violation; nothing stops at the first one.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chip import OUTPUT, ChipModel
from .drc import check_chip, check_graph, rule_input_pooling
from .errors import Diagnostics, SnncError, _jsonable
from .ir import Graph, Unsupported
from .mapping import assign_cores
from .memory import memory_row
from .options import check_options, check_quantize
from .passes import chip_passes as cp
from .passes import dvs_passes as dp
from .passes import graph_passes as gp
from .passes.group import group_chip_layers
from .passes.split import explain_refusals, split_layers, split_notes
from .sanity import check_values

#: Each family's passes, in order: the one place a pass is registered (a function ``(graph, ctx) -> graph`` in
#: ``passes/graph_passes.py`` / ``dvs_passes.py``, or ``(chip, ctx) -> chip`` in ``passes/chip_passes.py``).
PIPELINES = {
    "speck": {
        "graph": [dp.insert_dvs, gp.convert_ann, gp.fold_batchnorm, gp.collapse_neuron_params,
                  gp.drop_identity_pools, gp.avgpool_to_sumpool, gp.lower_linear, gp.merge_pools,
                  dp.absorb_dvs_pooling],
        "chip": [cp.strip_biases, cp.clip_weights, split_layers],
    },
}


def pass_names(family: str = "speck", stage: str = "graph") -> list[str]:
    return [f.__name__ for f in PIPELINES[family][stage]]


def run_graph_passes(graph: Graph, ctx, family: str = "speck", only=None) -> Graph:
    """Run ``family``'s graph passes in the pipeline's order (``only``: just those named, still in that order; e.g.
    ``snnc convert`` folds an ANN with the passes that keep its float function)."""
    if only is not None:
        unknown = set(only) - set(pass_names(family))
        if unknown:
            raise ValueError(f"no graph pass named {sorted(unknown)} in PIPELINES[{family!r}]")
    for fn in PIPELINES[family]["graph"]:
        if only is None or fn.__name__ in only:
            graph = fn(graph, ctx)
    return graph


@dataclass
class CompileOptions:
    """Everything a user can choose.  The CLI flags map one to one onto these fields."""

    target: str | None = None  # a chip or board name; None: targets/speck.py DEFAULT_TARGET
    input_shape: tuple | None = None
    clip: bool = True  # --no-clip
    keep_biases: bool = False  # --keep-biases
    convert_ann: bool = False  # --convert-ann
    cores: list[int] | None = None  # --cores 0,1,2 (pinning, in layer order)
    dvs_input: bool = False  # --dvs-input
    dvs_crop: tuple | None = None  # --dvs-crop X0,Y0,X1,Y1 (pooled coordinates, X1/Y1 inclusive)
    dvs_mirror: tuple = ()  # --dvs-mirror x,y,diagonal
    dvs_pool: tuple | None = None  # --dvs-pool PY,PX
    dvs_channels: str | None = None  # --dvs-channels on|off|merge|both
    monitor: tuple | None = None  # --monitor dvs,LAYER,INDEX,all (None: the output layers)
    quantize: str = "sinabs"  # --quantize
    readout: bool = False  # --readout
    decimate: dict = field(default_factory=dict)  # --decimate LAYER=N
    trust: bool = False  # --trust
    split: bool = True  # --no-split: a layer too big for every core stays a memory violation
    nir_dt: float | None = None  # --nir-dt SECONDS: the time step a NIR graph was exported with (where r != 1)


@dataclass
class PassContext:
    target: Any
    options: CompileOptions
    diags: Diagnostics
    folded: dict = field(default_factory=dict)  # chip-layer name -> user layers folded into it
    notes: list = field(default_factory=list)


class DoesNotFit(SnncError):
    """The model was understood but breaks hardware rules (exit 1).  ``.result`` holds every violation."""

    exit_code = 1

    def __init__(self, result: "CompileResult"):
        n = len(result.diagnostics.errors)
        super().__init__(f"the model does not fit {result.target.name}: {n} violation{'s' * (n != 1)} "
                         f"(run `snnc check` for the report)")
        self.result = result


@dataclass
class CompileResult:
    target: Any
    options: CompileOptions
    graph: Graph | None = None  # after the graph passes
    chip: ChipModel | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    mapping: dict | None = None
    notes: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)  # format, path, sha256

    @property
    def fits(self) -> bool:
        return not self.diagnostics.errors and self.chip is not None and self.mapping is not None

    def layers_json(self) -> list[dict]:
        if self.chip is None:
            return []
        out = []
        for layer in self.chip.layers:
            row = memory_row(layer)
            row["destinations"] = [{"layer": d.layer, "pooling": d.pooling}
                                   | ({"feature_shift": d.feature_shift} if d.feature_shift else {})
                                   for d in layer.destinations]
            if layer.split_of is not None:  # a slice of a layer split over several cores
                row["split_of"] = layer.split_of
                row["channels"] = list(layer.channels)
            out.append(row)
        return out

    def split_json(self) -> dict:
        """{user's layer: {"cores": [...], "channels": [[lo, hi], ...], "layers": [chip layer names], "why": ...}}
        for every layer split over several cores."""
        from .passes.split import groups

        info = self.chip.meta.get("split") or {}
        return {name: {"cores": [self.chip.layers[i].core for i in idx],
                       "channels": [list(self.chip.layers[i].channels) for i in idx],
                       "layers": [self.chip.layers[i].name for i in idx],
                       "why": info.get(name, {}).get("why")}
                for name, idx in groups(self.chip).items()}

    def report_json(self) -> dict:
        """The ``snnc check --json`` object."""
        return _jsonable({
            "target": self.target.name, "fits": self.fits, "layers": self.layers_json(),
            **({"split": self.split_json()} if self.chip is not None and self.chip.meta.get("split") else {}),
            "violations": [d.to_json() for d in self.diagnostics.errors],
            "warnings": [d.to_json() for d in self.diagnostics.warnings],
            "notes": list(self.notes),
        })


def _load(model, options: CompileOptions) -> Graph:
    if isinstance(model, Graph):
        return model.copy()
    from .frontends.loader import load_model

    return load_model(model, input_shape=options.input_shape, trust=options.trust, nir_dt=options.nir_dt)


def _model_options(options: CompileOptions, meta: dict) -> CompileOptions:
    """A model written by ``snnc convert`` says how it must be compiled: its biases are leak (calibrated for a
    slow clock) and its weights above the threshold are meant (not to be clipped)."""
    rec = (meta.get("conversion") or {}).get("compile") or {}
    if not rec:
        return options
    return dataclasses.replace(options, keep_biases=bool(rec.get("keep_biases", options.keep_biases)),
                               clip=bool(rec.get("clip", options.clip)))


def run_pipeline(model, target, options: CompileOptions | None = None, until: str = "assign") -> CompileResult:
    """Run the pipeline on a path, a torch module, a NIR graph or a Graph for ``target``, a chip value
    (``snnc.targets.speck.Target``; ``snnc.targets.compile.run_pipeline`` looks one up by ``options.target``).

    ``until``: ``"assign"`` (what ``snnc check`` needs: ``result.chip`` keeps float weights) or ``"quantize"``
    (``result.chip`` holds the integers, for ``snnc compile``).  Both quantize a model that fits, so both report the
    same diagnostics.
    Raises SnncError for unusable input; hardware-rule violations are collected in ``result.diagnostics``.
    """
    if isinstance(target, (CompileOptions, str)) or target is None:
        raise TypeError("snnc.compiler.pipeline.run_pipeline(model, target, options) takes a Target value; to compile "
                        "for a target name use snnc.targets.compile.run_pipeline(model, options)")
    options = options or CompileOptions()
    check_quantize(options)
    result = CompileResult(target=target, options=options)
    t0 = time.perf_counter()
    graph = _load(model, options)
    options = result.options = _model_options(options, graph.meta)
    result.source = dict(graph.meta)
    result.timings["load"] = time.perf_counter() - t0
    ctx = PassContext(target=target, options=options, diags=result.diagnostics,
                      notes=list(graph.meta.get("notes") or []))  # how the frontend read the file
    result.notes = ctx.notes  # the same list: what the passes note later is in it too

    t1 = time.perf_counter()
    if graph.cycles():
        check = check_graph(graph, target)
        result.diagnostics.extend([d for d in check if d.rule == "recurrence"])
        result.graph = graph
        return result
    graph.validate()
    bad_values = check_values(graph)
    if bad_values.errors:  # stop here: no pass may compute on NaN / inf / zero thresholds
        result.diagnostics.extend(bad_values)
        result.graph = graph
        return result
    unsupported = [n for n in graph.node_names() if isinstance(graph[n], Unsupported)]
    before = graph
    try:
        graph = run_graph_passes(graph, ctx, target.family)
    except SnncError:
        if not unsupported:
            raise
        # a layer snnc cannot read (its output shape not what the layers after it were written for) breaks a
        # rewrite further on: report that layer, not the shape mismatch it caused
        result.diagnostics.extend([d for d in check_graph(before, target) if d.rule == "unsupported_layer"])
        result.graph = before
        return result
    result.graph = graph
    result.diagnostics.extend(check_graph(graph, target))
    chip = group_chip_layers(graph, ctx)
    rule_input_pooling(graph, target, result.diagnostics, chip, options.dvs_input)
    for chip_pass in PIPELINES[target.family]["chip"]:
        chip = chip_pass(chip, ctx)
    result.diagnostics.extend(check_chip(chip, target, graph_reported=bool(result.diagnostics.errors)))
    explain_refusals(chip, result.diagnostics)
    result.chip = chip
    result.timings["passes"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    if not any(d.rule == "layer_count" for d in result.diagnostics.errors) and chip.layers:
        result.mapping = assign_cores(chip, target, result.diagnostics, options.cores)
    elif not chip.layers and chip.dvs is not None:
        result.mapping = {}  # only the DVS layer: nothing to place on cores
    check_options(chip, target, options, result.diagnostics)
    result.timings["assign"] = time.perf_counter() - t2
    ctx.notes.extend(split_notes(chip))

    if result.fits:  # check quantizes too, so that it reports (and refuses) exactly what compile does
        from .quantize import quantize_chip

        t3 = time.perf_counter()
        quantized = quantize_chip(chip, target, options, result.diagnostics)
        if until == "quantize":
            result.chip = quantized
        result.timings["quantize"] = time.perf_counter() - t3
    return result


__all__ = ["PIPELINES", "run_graph_passes", "pass_names", "CompileOptions", "CompileResult", "DoesNotFit", "run_pipeline", "OUTPUT"]
