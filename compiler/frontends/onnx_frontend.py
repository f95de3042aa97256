"""ONNX frontend: an exported ANN (Conv, Gemm, Relu, BatchNormalization, AveragePool, Flatten, Add ...) -> graph IR.

ONNX has no spiking neurons, so an ONNX model is an ANN: its ReLUs become IAF neurons only with ``--convert-ann``
(the rule check says so otherwise).  One handler per ONNX op; an op outside the table becomes an ``Unsupported``
node that the rule check reports (``unsupported_layer``), never a crash.  Node names are the ONNX node names
(or, when a node has none, its first output's name).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SnncError
from ..ir import Add, AvgPool, BatchNorm, Conv2d, Flatten, Graph, Input, Linear, Output, ReLU, Unsupported


def read_onnx(path: Path):
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a dependency
        raise SnncError("reading .onnx files needs the onnx package: pip install onnx") from None
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # onnx raises several kinds (DecodeError, ValidationError, ...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SnncError(f"{path}: not a readable ONNX model ({first})") from None
    return model


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pads(name, pads) -> tuple[int, int] | None:
    """ONNX pads are [top, left, bottom, right]; the IR (like torch) pads symmetrically."""
    if not pads:
        return (0, 0)
    t, l, b, r = (int(p) for p in pads)
    if (t, l) != (b, r):
        return None
    return (t, l)


def _value_shapes(model) -> dict[str, tuple]:
    """Per-sample shapes of the intermediate tensors (ONNX shape inference), to size unsupported nodes."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
    except Exception:  # shape inference is a help, not a requirement
        return {}
    out = {}
    for vi in list(inferred.value_info) + list(inferred.output):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if len(dims) > 1 and all(d > 0 for d in dims[1:]):
            out[vi.name] = tuple(dims[1:])
    return out


def _unsupported(name, op, detail, out_tensor, shapes):
    return Unsupported(name, op=op, detail=detail, shape=shapes.get(out_tensor))


@dataclass
class _Op:
    """One ONNX node as its handler sees it."""

    name: str  # the IR node's name
    node: object  # the onnx NodeProto
    attrs: dict
    init: dict  # constant tensors by name
    srcs: list  # IR nodes feeding its data inputs
    data_in: list  # its non-constant input tensor names
    shapes: dict  # inferred per-sample tensor shapes

    def unsupported(self, detail: str) -> Unsupported:
        return _unsupported(self.name, self.node.op_type, detail, self.node.output[0], self.shapes)

    def const(self, k: int):
        """The constant tensor at input ``k``, or None (absent or not a constant)."""
        inputs = self.node.input
        return self.init.get(inputs[k]) if len(inputs) > k and inputs[k] else None


#: A handler's answer for ops that only pass their input on (Identity, Dropout): no IR node.
PASS_THROUGH = object()


def _conv(op: _Op):
    w, a = op.const(1), op.attrs
    if w is None or w.ndim != 4:
        return _unsupported(op.name, "Conv", "weights are not a constant 4-d tensor", op.node.output[0], op.shapes)
    pads = _pads(op.name, a.get("pads"))
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or pads is None:
        return _unsupported(op.name, "Conv", "asymmetric or automatic padding", op.node.output[0], op.shapes)
    return Conv2d(op.name, weight=w, bias=op.const(2), stride=tuple(a.get("strides", (1, 1))), padding=pads,
                  dilation=tuple(a.get("dilations", (1, 1))), groups=int(a.get("group", 1)))


def _gemm(op: _Op):
    w, a = op.const(1), op.attrs
    if w is None or int(a.get("transA", 0)):
        return _unsupported(op.name, "Gemm", "needs constant weights and transA=0", op.node.output[0], op.shapes)
    w = w if int(a.get("transB", 0)) else w.T
    c = op.const(2)
    b = None if c is None else float(a.get("beta", 1.0)) * np.broadcast_to(c, (w.shape[0],))
    return Linear(op.name, weight=float(a.get("alpha", 1.0)) * w, bias=b)


def _relu(op: _Op):
    return ReLU(op.name)


def _batchnorm(op: _Op):
    scale, bias, mean, var = (op.init.get(t) for t in op.node.input[1:5])
    if any(x is None for x in (scale, bias, mean, var)):
        return op.unsupported("parameters are not constants")
    return BatchNorm(op.name, mean=mean, var=var, weight=scale, bias=bias, eps=float(op.attrs.get("epsilon", 1e-5)))


def _avgpool(op: _Op):
    a = op.attrs
    pads = _pads(op.name, a.get("pads"))
    if pads is None or int(a.get("ceil_mode", 0)) or (pads != (0, 0) and not int(a.get("count_include_pad", 0))):
        return op.unsupported("asymmetric padding, ceil_mode or padding excluded from the average")
    k = tuple(a["kernel_shape"])
    return AvgPool(op.name, kernel=k, stride=tuple(a.get("strides", k)), padding=pads)


def _flatten(op: _Op):
    return Flatten(op.name) if int(op.attrs.get("axis", 1)) == 1 else op.unsupported("axis != 1")


def _reshape(op: _Op):
    target = op.init.get(op.node.input[1])
    if target is not None and target.size == 2 and target[1] == -1:
        return Flatten(op.name)
    return op.unsupported("only a reshape to (batch, -1) is understood")


def _add(op: _Op):
    if len(op.srcs) >= 2 and len(op.data_in) == len(op.node.input):
        return Add(op.name)
    return op.unsupported("")


def _pass_through(op: _Op):
    return PASS_THROUGH


#: One handler per ONNX op type; any other op becomes an ``Unsupported`` node.
OP_HANDLERS = {
    "Conv": _conv, "Gemm": _gemm, "Relu": _relu, "BatchNormalization": _batchnorm, "AveragePool": _avgpool,
    "Flatten": _flatten, "Reshape": _reshape, "Add": _add, "Sum": _add,
    "Identity": _pass_through, "Dropout": _pass_through,
}


def from_onnx(model, input_shape=None, name: str = "model") -> Graph:
    from onnx import numpy_helper

    g = model.graph
    from ..ir import real_array

    init = {t.name: real_array(numpy_helper.to_array(t), f"initializer {t.name!r}") for t in g.initializer}
    for node in g.node:  # Constant nodes hold tensors too
        value = _attrs(node).get("value") if node.op_type == "Constant" else None
        if value is not None:
            init[node.output[0]] = real_array(numpy_helper.to_array(value), f"constant {node.output[0]!r}")
    shapes = _value_shapes(model)

    graph = Graph(name)
    producer: dict[str, str] = {}  # tensor name -> IR node that produces it
    inputs = [i for i in g.input if i.name not in init]
    if len(inputs) != 1:
        raise SnncError(f"the ONNX graph has {len(inputs)} inputs; snnc handles one")
    inp = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
    shape = tuple(input_shape) if input_shape is not None else tuple(dims[1:])
    if not shape or any(d is None or d <= 0 for d in shape):
        raise SnncError(f"the ONNX input {inp.name!r} has shape {dims}; pass --input-shape C,H,W")
    graph.add(Input("input", shape=shape))
    producer[inp.name] = "input"

    used: set[str] = set()
    for k, node in enumerate(g.node):
        if node.op_type == "Constant":
            continue
        nname = node.name or node.output[0] or f"{node.op_type}_{k}"
        while nname in used:
            nname += "_"
        used.add(nname)
        data_in = [t for t in node.input if t and t not in init]
        srcs = [producer[t] for t in data_in if t in producer]
        if len(srcs) != len(data_in):
            missing = [t for t in data_in if t not in producer]
            raise SnncError(f"ONNX node {nname}: input {missing[0]!r} is produced by no node")
        op = _Op(nname, node, _attrs(node), init, srcs, data_in, shapes)
        handler = OP_HANDLERS.get(node.op_type)
        ir = handler(op) if handler is not None else op.unsupported("")
        if ir is PASS_THROUGH:
            producer[node.output[0]] = srcs[0]
            continue
        graph.add(ir, srcs)
        producer[node.output[0]] = nname
    for out in g.output:
        if out.name not in producer:
            raise SnncError(f"ONNX output {out.name!r} is produced by no node")
        graph.add(Output(f"output:{out.name}" if len(g.output) > 1 else "output"), [producer[out.name]])
    return graph
