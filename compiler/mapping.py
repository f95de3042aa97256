"""Core assignment: match chip layers to cores under the memory capacities.

A layer may go to a core when its kernel, neuron and bias memory all fit that core.  The assignment is a bipartite
matching, solved with networkx's Hopcroft-Karp; among complete assignments we take the
lexicographically smallest (the first layers get the lowest cores, as with sinabs' mapper), found directly when
giving each layer in turn its first free core completes.  When no complete assignment exists although every layer fits some core, Hall's theorem
gives the reason: a set of layers whose usable cores are fewer than the layers.  We find that set from the maximum
matching (alternating paths from an unmatched layer) and name it.
"""
from __future__ import annotations

import networkx as nx

from .chip import ChipModel
from .drc import layer_fits_core
from .errors import Diagnostics
from .memory import memory


def _candidates(chip: ChipModel, target) -> dict[int, list[int]]:
    return {i: [c.index for c in target.cores if layer_fits_core(layer, c)] for i, layer in enumerate(chip.layers)}


def assign_cores(chip: ChipModel, target, d: Diagnostics, pinned: list[int] | None = None) -> dict[int, int] | None:
    """Return {layer index: core} and set ``layer.core``, or None after adding a diagnostic."""
    cand = _candidates(chip, target)
    if any(not c for c in cand.values()):
        return None  # the memory rules already said which layer fits no core at all
    if pinned is not None:
        return _pinned(chip, target, d, pinned, cand)
    greedy = _greedy(cand)
    if greedy is not None:  # each layer in order took the lowest free core: the lexicographically smallest
        for i, c in greedy.items():
            chip.layers[i].core = c
        return greedy
    mapping = _max_matching(cand)
    if len(mapping) == len(chip.layers):
        fixed = _lexicographic(cand)
        for i, c in fixed.items():
            chip.layers[i].core = c
        return fixed
    _explain(chip, target, d, cand, mapping)
    return None


def _lexicographic(cand: dict[int, list[int]]) -> dict[int, int]:
    """The lexicographically smallest complete assignment (there must be one): each layer in order takes the first
    of its cores that still leaves a complete matching for the rest (sinabs' mapper also gives the lowest cores to
    the first layers)."""
    fixed: dict[int, int] = {}
    for i in sorted(cand):
        for c in cand[i]:
            if c in fixed.values():
                continue
            trial = {j: [k for k in cs if k != c and k not in fixed.values()] for j, cs in cand.items()
                     if j not in fixed and j != i}
            if len(_max_matching(trial)) == len(trial):
                fixed[i] = c
                break
    return fixed


def _greedy(cand: dict[int, list[int]]) -> dict[int, int] | None:
    """Each layer in order takes the first of its cores that is still free; None when one finds none.  When it
    completes it is :func:`_lexicographic`'s assignment: at every step no earlier core was free, and the rest of the
    greedy run shows that the choice leaves a complete assignment."""
    taken: dict[int, int] = {}
    used: set[int] = set()
    for i in sorted(cand):
        c = next((c for c in cand[i] if c not in used), None)
        if c is None:
            return None
        taken[i] = c
        used.add(c)
    return taken


def _max_matching(cand: dict[int, list[int]]) -> dict[int, int]:
    """Maximum bipartite matching layer -> core (Hopcroft-Karp from networkx)."""
    g = nx.Graph()
    left = [("L", i) for i in cand]
    g.add_nodes_from(left, bipartite=0)
    g.add_edges_from((("L", i), ("C", c)) for i, cs in cand.items() for c in cs)
    m = nx.bipartite.hopcroft_karp_matching(g, top_nodes=left)
    return {i: m[("L", i)][1] for i in cand if ("L", i) in m}


def _explain(chip, target, d: Diagnostics, cand, mapping) -> None:
    """Name a set of layers that compete for too few cores (a Hall violator)."""
    core_to_layer = {c: i for i, c in mapping.items()}
    unmatched = [i for i in cand if i not in mapping]
    layers, cores, frontier = {unmatched[0]}, set(), [unmatched[0]]
    while frontier:  # alternating BFS: layer -> any usable core -> the layer matched to it
        i = frontier.pop()
        for c in cand[i]:
            if c not in cores:
                cores.add(c)
                j = core_to_layer.get(c)
                if j is not None and j not in layers:
                    layers.add(j)
                    frontier.append(j)
    ls = sorted(layers)
    names = [chip.layers[i].name for i in ls]
    core_list = sorted(cores)
    # what makes these layers picky: the memory kind with the fewest cores able to hold them
    kinds = []
    for kind in ("neuron", "kernel", "bias"):
        need = min(memory(chip.layers[i])[kind] for i in ls)
        able = [c.index for c in target.cores if getattr(c, f"{kind}_memory") >= need]
        if len(able) < len(ls):
            kinds.append((kind, need, able))
    if kinds:
        kind, need, able = kinds[0]
        smaller = sorted({getattr(c, f"{kind}_memory") for c in target.cores if getattr(c, f"{kind}_memory") < need})
        detail = (f"each needs >= {need} words of {kind} memory, which only cores {_fmt(able)} have")
        hint = (f"shrink {len(ls) - len(core_list)} of these layers to <= {smaller[-1]} words of {kind} memory "
                f"(fewer output channels or a smaller map), or merge two of them" if smaller else
                "make one of these layers smaller")
    else:
        detail = "their memory needs leave them fewer usable cores than layers"
        hint = "shrink one of these layers' kernel or neuron memory"
    d.error("core_assignment", ", ".join(names), f"{len(ls)} layers ({', '.join(names)}) compete for "
            f"{len(core_list)} cores ({_fmt(core_list)}): {detail}", hint,
            measured={"layers": names, "cores": core_list}, limit=f"{len(core_list)} cores for {len(ls)} layers")


def _pinned(chip, target, d: Diagnostics, pinned: list[int], cand) -> dict[int, int] | None:
    ok = True
    if len(pinned) != len(chip.layers):
        d.error("core_assignment", None, f"--cores names {len(pinned)} cores for {len(chip.layers)} chip layers",
                f"give exactly one core per layer, in layer order ({', '.join(l.name for l in chip.layers)})",
                measured=len(pinned), limit=len(chip.layers))
        return None
    seen = {}
    for i, c in enumerate(pinned):
        name = chip.layers[i].name
        if c not in range(target.n_cores):
            d.error("core_assignment", name, f"core {c} does not exist on {target.name}",
                    f"use cores 0..{target.n_cores - 1}", measured=c, limit=[0, target.n_cores - 1])
            ok = False
        elif c in seen:
            d.error("core_assignment", name, f"core {c} is also pinned to {seen[c]}", "give each layer its own "
                    "core", measured=c, limit="distinct cores")
            ok = False
        elif c not in cand[i]:
            m = memory(chip.layers[i])
            core = target.cores[c]
            d.error("core_assignment", name, f"does not fit core {c} (kernel {m['kernel']}/{core.kernel_memory}, "
                    f"neuron {m['neuron']}/{core.neuron_memory}, bias {m['bias']}/{core.bias_memory})",
                    f"cores that fit this layer: {_fmt(cand[i])}", measured=c, limit=cand[i])
            ok = False
        seen.setdefault(c, name)
    if not ok:
        return None
    for i, c in enumerate(pinned):
        chip.layers[i].core = c
    return dict(enumerate(pinned))


def _fmt(cores) -> str:
    cores = sorted(cores)
    if len(cores) > 2 and cores == list(range(cores[0], cores[-1] + 1)):
        return f"{cores[0]}-{cores[-1]}"
    return ", ".join(map(str, cores))
