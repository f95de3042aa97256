import numpy as np
import pytest

from snnc.compiler.errors import SnncError
from snnc.compiler.ir import IAF, Conv2d, Flatten, Input, Linear, Output, SumPool, sequential


def small():
    return sequential([
        Input("input", shape=(2, 34, 34)),
        Conv2d("conv0", weight=np.ones((4, 2, 3, 3)), stride=2, padding=1),
        IAF("spk0", threshold=1.0),
        SumPool("pool0", kernel=2),
        Flatten("flat"),
        Linear("fc", weight=np.ones((10, 4 * 8 * 8))),
        IAF("spk1"),
        Output("out"),
    ])


def test_shape_inference_follows_torch_formulas():
    shapes = small().validate()
    assert shapes["conv0"] == (4, 17, 17)
    assert shapes["pool0"] == (4, 8, 8)
    assert shapes["fc"] == (10,)


def test_wrong_channel_count_names_the_layer():
    g = sequential([Input("input", shape=(3, 8, 8)), Conv2d("c", weight=np.ones((4, 2, 3, 3)))])
    with pytest.raises(SnncError, match="c: Conv2d expects 2 input channels"):
        g.validate()


def test_dump_lists_every_node_with_shapes():
    text = small().dump()
    for name in ("conv0", "spk0", "pool0", "fc", "out"):
        assert name in text
    assert "[4, 17, 17]" in text


def test_unreachable_node_is_reported():
    g = small()
    g.add(Conv2d("orphan", weight=np.ones((1, 1, 1, 1))))
    with pytest.raises(SnncError, match="orphan"):
        g.validate()


# ------------------------------------------------------------------------------------------ order and copies
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 12), data=st.data())
def test_topological_order_is_networkx_lexicographical_order(n, data):
    """node_names() (Kahn's algorithm on insertion order) gives what networkx' lexicographical sort gives."""
    import networkx as nx

    from snnc.compiler.ir import Graph

    names = data.draw(st.permutations([f"n{i}" for i in range(n)]))
    g = Graph()
    for name in names:
        g.add(Flatten(name))
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    for a, b in data.draw(st.lists(st.sampled_from(pairs), max_size=20, unique=True)) if pairs else []:
        if not g.g.has_edge(names[b], names[a]):
            g.g.add_edge(names[a], names[b], index=0)
    def expected():
        rank = {name: i for i, name in enumerate(g.g.nodes)}
        try:
            return list(nx.lexicographical_topological_sort(g.g, key=rank.__getitem__))
        except nx.NetworkXUnfeasible:
            return list(g.g.nodes)

    assert g.node_names() == expected()
    # edited behind the Graph's back (on the networkx graph), the remembered order is not used
    edges = list(g.g.edges)
    if edges:
        g.g.remove_edge(*edges[data.draw(st.integers(0, len(edges) - 1))])
    g.g.add_edge(names[-1], names[0], index=0)
    assert g.node_names() == expected()
    g.g.remove_node(names[0])
    assert g.node_names() == expected() == g.node_names()


def test_node_copies_share_nothing_mutable():
    node = IAF("a", threshold=np.ones(3), threshold_low=None, v_init=np.zeros(3))
    node.extra = {"k": [1]}
    new = node.copy()
    assert type(new) is IAF and new is not node and new.name == "a" and new.v_init is not node.v_init
    assert new.threshold is not node.threshold and np.array_equal(new.threshold, node.threshold)
    assert new.extra == node.extra and new.extra["k"] is not node.extra["k"]
    conv = Conv2d("c", weight=np.ones((1, 1, 3, 3)), stride=(2, 2))
    c2 = conv.copy()
    c2.weight[0, 0, 0, 0] = 5
    assert conv.weight[0, 0, 0, 0] == 1 and c2.stride == (2, 2)


def _node_types():
    import inspect

    from snnc.compiler import ir

    return [c for _, c in inspect.getmembers(ir, inspect.isclass)
            if issubclass(c, ir.Node) and c is not ir.Node and not c.__name__.startswith("_")]


def test_every_node_type_says_its_role():
    """Grouping and the graph rules read ``role``; a node type without a known one would be dropped silently."""
    from snnc.compiler.ir import Role

    types = _node_types()
    assert len(types) >= 15
    for cls in types:
        assert cls.role in Role.ALL, cls.__name__


def test_grouping_and_rules_dispatch_on_role_not_on_node_classes():
    """One way of telling nodes apart (issue 21): no isinstance on IR node classes in group.py or drc.py."""
    import ast
    from pathlib import Path

    names = {c.__name__ for c in _node_types()}
    root = Path(__file__).resolve().parents[1] / "compiler"
    for path in (root / "passes" / "group.py", root / "drc.py"):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "isinstance":
                used = {n.id for n in ast.walk(call.args[1]) if isinstance(n, ast.Name)}
                assert not used & names, (path.name, call.lineno, used & names)
