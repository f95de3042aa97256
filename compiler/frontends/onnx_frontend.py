"""ONNX frontend: an exported ANN (Conv, Gemm, Relu, BatchNormalization, AveragePool, Flatten, Add ...) -> graph IR.

ONNX has no spiking neurons, so an ONNX model is an ANN: its ReLUs become IAF neurons only with ``--convert-ann``
(the rule check says so otherwise).  One handler per ONNX op; an op outside the table becomes an ``Unsupported``
node that the rule check reports (``unsupported_layer``), never a crash.  Node names are the ONNX node names
(or, when a node has none, its first output's name).
"""
from __future__ import annotations

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


def from_onnx(model, input_shape=None, name: str = "model") -> Graph:
    from onnx import numpy_helper

    g = model.graph
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    for node in g.node:  # Constant nodes hold tensors too
        value = _attrs(node).get("value") if node.op_type == "Constant" else None
        if value is not None:
            init[node.output[0]] = numpy_helper.to_array(value).astype(np.float64)
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
        a = _attrs(node)
        op = node.op_type
        if op in ("Identity", "Dropout"):
            producer[node.output[0]] = srcs[0]
            continue
        if op == "Conv":
            w = init.get(node.input[1])
            if w is None or w.ndim != 4:
                ir = _unsupported(nname, "Conv", "weights are not a constant 4-d tensor", node.output[0], shapes)
            else:
                pads = _pads(nname, a.get("pads"))
                if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or pads is None:
                    ir = _unsupported(nname, "Conv", "asymmetric or automatic padding", node.output[0], shapes)
                else:
                    b = init.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
                    ir = Conv2d(nname, weight=w, bias=b, stride=tuple(a.get("strides", (1, 1))), padding=pads,
                                dilation=tuple(a.get("dilations", (1, 1))), groups=int(a.get("group", 1)))
        elif op == "Gemm":
            w = init.get(node.input[1])
            if w is None or int(a.get("transA", 0)):
                ir = _unsupported(nname, "Gemm", "needs constant weights and transA=0", node.output[0], shapes)
            else:
                w = w if int(a.get("transB", 0)) else w.T
                c = init.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
                b = None if c is None else float(a.get("beta", 1.0)) * np.broadcast_to(c, (w.shape[0],))
                ir = Linear(nname, weight=float(a.get("alpha", 1.0)) * w, bias=b)
        elif op == "Relu":
            ir = ReLU(nname)
        elif op == "BatchNormalization":
            scale, bias, mean, var = (init.get(t) for t in node.input[1:5])
            if any(x is None for x in (scale, bias, mean, var)):
                ir = _unsupported(nname, op, "parameters are not constants", node.output[0], shapes)
            else:
                ir = BatchNorm(nname, mean=mean, var=var, weight=scale, bias=bias, eps=float(a.get("epsilon", 1e-5)))
        elif op == "AveragePool":
            pads = _pads(nname, a.get("pads"))
            if pads is None or int(a.get("ceil_mode", 0)) or (pads != (0, 0) and not int(a.get("count_include_pad", 0))):
                ir = _unsupported(nname, op, "asymmetric padding, ceil_mode or padding excluded from the "
                                 "average", node.output[0], shapes)
            else:
                k = tuple(a["kernel_shape"])
                ir = AvgPool(nname, kernel=k, stride=tuple(a.get("strides", k)), padding=pads)
        elif op == "Flatten":
            ir = (Flatten(nname) if int(a.get("axis", 1)) == 1
                  else _unsupported(nname, op, "axis != 1", node.output[0], shapes))
        elif op == "Reshape":
            target = init.get(node.input[1])
            ir = (Flatten(nname) if target is not None and target.size == 2 and target[1] == -1
                  else _unsupported(nname, op, "only a reshape to (batch, -1) is understood", node.output[0], shapes))
        elif op in ("Add", "Sum") and len(srcs) >= 2 and len(data_in) == len(node.input):
            ir = Add(nname)
        else:
            ir = _unsupported(nname, op, "", node.output[0], shapes)
        graph.add(ir, srcs)
        producer[node.output[0]] = nname
    for out in g.output:
        if out.name not in producer:
            raise SnncError(f"ONNX output {out.name!r} is produced by no node")
        graph.add(Output(f"output:{out.name}" if len(g.output) > 1 else "output"), [producer[out.name]])
    return graph
