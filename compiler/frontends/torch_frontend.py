"""torch / sinabs model -> graph IR.

The model is traced with ``torch.fx`` (a tracer that keeps torch.nn and sinabs layers whole), so nested
``nn.Sequential`` and ``forward`` methods with residual additions both work.  Node names are the torch module paths
(``features.3``); functional operations keep fx's names (``add``, ``add_1``, ``flatten``).

One handler per layer type (``HANDLERS``).  A layer with no handler, or with an option the chip cannot express,
becomes an ``Unsupported`` node naming the class and the reason: it is reported by the design-rule check (rule
``unsupported_layer``), never raised here.  Dropout and Identity are dropped (inference).

What is read from sinabs layers:

* ``IAF`` / ``IAFSqueeze`` -> ``IAF``: ``threshold = spike_threshold``, ``threshold_low = min_v_mem`` (None when
  None), reset ``"subtract"`` for ``MembraneSubtract`` (subtracting the threshold) and ``"zero"`` for
  ``MembraneReset`` (to 0), spikes ``"multi"`` for ``MultiSpike`` and ``"single"`` for ``SingleSpike`` or
  ``MaxSpike(1)``; ``v_init`` from a stored, non-zero ``v_mem``.  Thresholds stay per neuron when given per neuron.
  Other resets, spike functions or a synaptic current (``tau_syn``) -> ``Unsupported``.
* ``LIF`` / ``LIFSqueeze`` -> ``LIF`` (tau_mem, thresholds, reset, spikes), which the rule check reports.
* ``SumPool2d`` -> ``SumPool``, ``Merge`` -> ``Add``.
* ``DVSLayer`` (``sinabs.backend.dynapcnn``) -> ``DVS``: ``pool`` -> pooling (y, x); the crop ((top, bottom),
  (left, right)), in pooled coordinates with exclusive ends -> origin (top, left) and inclusive cut (bottom - 1,
  right - 1); ``flip_x`` / ``flip_y`` / ``swap_xy`` -> mirror x / y / diagonal; ``merge_polarities`` -> merge;
  ``disable_pixel_array`` -> not ``pass_sensor_events``.
"""
from __future__ import annotations

import copy
import operator

import numpy as np

from ..errors import SnncError
from ..ir import (DVS, IAF, LIF, Add, AvgPool, BatchNorm, Concat, Conv2d, Flatten, Graph, Input, Linear, Output, ReLU,
                  SumPool, Unsupported)
from . import framework_neurons as fwn
from .shape import parse_shape

_DROP = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "Identity")


def _np(t) -> np.ndarray:
    """A tensor as float64 numpy; complex or non-float tensors keep their dtype, so that the IR node that takes
    them refuses them naming the layer (a cast would drop the imaginary part with only a warning)."""
    if not hasattr(t, "detach"):
        a = np.asarray(t)
        return a if a.dtype.kind not in "biuf" else a.astype(np.float64)
    t = t.detach().cpu()
    if t.is_complex():
        return t.numpy()
    try:  # numpy widens float32 to float64 exactly, and faster than torch's .double() on a fresh tensor
        return t.numpy().astype(np.float64)
    except (TypeError, RuntimeError):  # a dtype numpy lacks (bfloat16) or a tensor that needs grad
        return t.double().numpy()


def _is_sinabs(m) -> bool:
    return type(m).__module__.startswith("sinabs.")


# ------------------------------------------------------------------------------------------------------------------
# one handler per layer type: (name, module, in_shape) -> Node
def _conv2d(name, m, in_shape):
    if m.padding_mode != "zeros":
        return Unsupported(name, op="Conv2d", detail=f"padding_mode={m.padding_mode!r}: the chip pads with "
                                "zeros only; use padding_mode='zeros'")
    kh, kw = m.kernel_size
    dy, dx = m.dilation
    padding = m.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        else:  # 'same' (torch allows it with stride 1 only)
            total = (dy * (kh - 1), dx * (kw - 1))
            if total[0] % 2 or total[1] % 2:
                return Unsupported(name, op="Conv2d", detail=f"padding='same' with kernel {kh}x{kw} pads "
                                        "unevenly; use an odd kernel or give the padding as numbers")
            padding = (total[0] // 2, total[1] // 2)
    return Conv2d(name, weight=_np(m.weight), bias=None if m.bias is None else _np(m.bias), stride=m.stride,
                  padding=padding, dilation=m.dilation, groups=m.groups)


def _linear(name, m, in_shape):
    return Linear(name, weight=_np(m.weight), bias=None if m.bias is None else _np(m.bias))


def _batchnorm(name, m, in_shape):
    if m.running_mean is None or m.running_var is None:
        return Unsupported(name, op=type(m).__name__, detail="no running statistics (track_running_stats="
                                "False), so it cannot be folded; train with track_running_stats=True")
    return BatchNorm(name, mean=_np(m.running_mean), var=_np(m.running_var),
                     weight=None if m.weight is None else _np(m.weight),
                     bias=None if m.bias is None else _np(m.bias), eps=m.eps)


def _avgpool(name, m, in_shape):
    if m.ceil_mode:
        return Unsupported(name, op="AvgPool2d", detail="ceil_mode=True; use ceil_mode=False")
    if m.divisor_override is not None:
        return Unsupported(name, op="AvgPool2d", detail="divisor_override is set; remove it")
    if not m.count_include_pad and m.padding not in (0, (0, 0)):
        return Unsupported(name, op="AvgPool2d", detail="count_include_pad=False with padding; use "
                                "count_include_pad=True or no padding")
    return AvgPool(name, kernel=m.kernel_size, stride=m.stride, padding=m.padding)


def _sumpool(name, m, in_shape):
    if getattr(m, "ceil_mode", False):
        return Unsupported(name, op="SumPool2d", detail="ceil_mode=True; use ceil_mode=False")
    return SumPool(name, kernel=m.kernel_size, stride=m.stride)


def _flatten(name, m, in_shape):
    if m.start_dim == 1 and m.end_dim == -1:
        return Flatten(name)
    return Unsupported(name, op="Flatten", detail=f"start_dim={m.start_dim}, end_dim={m.end_dim}; only "
                            "Flatten(start_dim=1) is supported")


def _relu(name, m, in_shape):
    return ReLU(name)


def _pair_of(v) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


def _dvs_layer(name, m, in_shape):
    pool = getattr(m, "pool_layer", None)
    ky, kx = _pair_of(pool.kernel_size) if pool is not None else (1, 1)
    if pool is not None and getattr(pool, "stride", None) not in (None, pool.kernel_size, (ky, kx), [ky, kx]):
        return Unsupported(name, op="DVSLayer", detail="its pooling stride differs from the kernel")
    c = int(in_shape[0]) if len(in_shape) == 3 else 0
    h, w = (int(in_shape[1]) // ky, int(in_shape[2]) // kx) if len(in_shape) == 3 else (0, 0)
    crop, flip = getattr(m, "crop_layer", None), getattr(m, "flip_layer", None)
    origin = cut = None
    if crop is not None:
        top, bottom, left, right = (int(getattr(crop, k)) for k in ("top_crop", "bottom_crop", "left_crop",
                                                                    "right_crop"))
        if (top, left, bottom, right) != (0, 0, h, w):
            origin, cut = (top, left), (bottom - 1, right - 1)
    return DVS(name, pooling=(ky, kx), origin=origin, cut=cut,
               mirror_x=bool(getattr(flip, "flip_x", False)), mirror_y=bool(getattr(flip, "flip_y", False)),
               mirror_diagonal=bool(getattr(flip, "swap_xy", False)),
               merge=bool(getattr(m, "merge_polarities", False)) or c == 1,
               pass_sensor_events=not bool(getattr(m, "disable_pixel_array", True)))


def _per_layer_or_neuron(t, shape, what):
    """A sinabs parameter as a 0-d array (one value) or an array of the layer's shape (per neuron)."""
    a = _np(t)
    if a.dtype.kind not in "biuf":
        raise SnncError(f"{what} holds {'complex numbers' if a.dtype.kind == 'c' else a.dtype} values; the chip "
                        "takes one real number per layer or per neuron")
    if a.size == 1:
        return a.reshape(())
    try:
        return np.array(np.broadcast_to(a, shape))
    except ValueError:
        raise ValueError(f"{what} has shape {list(a.shape)}, which does not fit the layer's shape {list(shape)}")


def _spiking_params(name, m, shape):
    """threshold, threshold_low, reset, spike_mode of a sinabs LIF/IAF; or an Unsupported node."""
    op = type(m).__name__
    if getattr(m, "tau_syn", None) is not None or getattr(m, "alpha_syn", None) is not None:
        return Unsupported(name, op=op, detail="has a synaptic current (tau_syn); the chip's neurons have "
                                "none, use tau_syn=None")
    if m.spike_threshold is None:
        return Unsupported(name, op=op, detail="has no spike_threshold")
    try:
        thr = _per_layer_or_neuron(m.spike_threshold, shape, f"{name}: spike_threshold")
        low = None if m.min_v_mem is None else _per_layer_or_neuron(m.min_v_mem, shape, f"{name}: min_v_mem")
    except ValueError as e:
        return Unsupported(name, op=op, detail=str(e))

    reset_fn, reset_name = m.reset_fn, type(m.reset_fn).__name__
    if reset_name == "MembraneSubtract":
        sv = getattr(reset_fn, "subtract_value", None)
        if sv is not None and not (thr.ndim == 0 and float(sv) == float(thr)):
            return Unsupported(name, op=op, detail=f"MembraneSubtract(subtract_value={sv}) differs from the "
                                    "threshold; the chip subtracts the threshold, use subtract_value=None")
        reset = "subtract"
    elif reset_name == "MembraneReset":
        if float(getattr(reset_fn, "reset_value", 0.0)) != 0.0:
            return Unsupported(name, op=op, detail=f"MembraneReset(reset_value={reset_fn.reset_value}); the "
                                    "chip resets to 0 only")
        reset = "zero"
    else:
        return Unsupported(name, op=op, detail=f"reset_fn {reset_name} is not MembraneSubtract or "
                                "MembraneReset")

    spike_fn = m.spike_fn
    spike_name = spike_fn.__name__ if isinstance(spike_fn, type) else type(spike_fn).__name__
    if spike_name == "MultiSpike":
        mode = "multi"
    elif spike_name == "SingleSpike":
        mode = "single"
    elif spike_name == "MaxSpike" and int(getattr(spike_fn, "max_num_spikes_per_bin", 0) or 0) == 1:
        mode = "single"
    else:
        return Unsupported(name, op=op, detail=f"spike_fn {spike_name} is not MultiSpike, SingleSpike or "
                                "MaxSpike(1)")
    return thr, low, reset, mode


def _v_init(name, m, shape):
    """The stored membrane potential as one state of the layer's shape, or None when there is none / all zero."""
    v = getattr(m, "v_mem", None)
    if v is None or v.numel() == 0 or not bool((v != 0).any()):
        return None
    a = _np(v)
    n = int(np.prod(shape))
    if a.size % n:
        raise SnncError(f"{name}: the stored membrane state v_mem has shape {list(a.shape)}, which does not fit the "
                        f"layer's shape {list(shape)}; call reset_states() before saving")
    rows = a.reshape(-1, n)
    if not np.all(rows == rows[0]):
        raise SnncError(f"{name}: the stored membrane state v_mem differs between batch items; call "
                        "reset_states() before saving, or give v_mem a single state")
    return rows[0].reshape(shape)


def _iaf(name, m, in_shape):
    params = _spiking_params(name, m, in_shape)
    if not isinstance(params, tuple):
        return params
    thr, low, reset, mode = params
    return IAF(name, threshold=thr, threshold_low=low, reset=reset, spike_mode=mode, v_init=_v_init(name, m, in_shape))


def _lif(name, m, in_shape):
    params = _spiking_params(name, m, in_shape)
    if not isinstance(params, tuple):
        return params
    thr, low, reset, mode = params
    return LIF(name, tau_mem=_np(m.tau_mem_calculated), threshold=thr, threshold_low=low, reset=reset,
               spike_mode=mode, dt=None)


#: One handler per layer (module) type, by class name, for torch.nn and sinabs classes; Dropout / Identity (pass
#: through) and sinabs Merge (a sum of several inputs) are handled in :func:`from_torch` itself.
HANDLERS = {
    "Conv2d": _conv2d,
    "Linear": _linear,
    "BatchNorm1d": _batchnorm,
    "BatchNorm2d": _batchnorm,
    "AvgPool2d": _avgpool,
    "SumPool2d": _sumpool,
    "Flatten": _flatten,
    "ReLU": _relu,
    "IAF": _iaf,
    "IAFSqueeze": _iaf,
    "LIF": _lif,
    "LIFSqueeze": _lif,
    "DVSLayer": _dvs_layer,
}


def _handler(m):
    """The handler for a module: by class name, for torch.nn and sinabs classes only (not look-alikes), and for
    SpikingJelly's step-mode wrappers by the torch.nn class they subclass (``fwn.torch_base``)."""
    import torch.nn as nn

    mod = type(m).__module__
    base = fwn.torch_base(m)
    if base is not None:
        return HANDLERS.get(base)
    if not (mod.startswith("torch.nn.") or mod.startswith("sinabs.") or mod == __package__ + ".sinabs_dvs"):
        return None
    if isinstance(m, nn.LPPool2d) and not _is_sinabs(m):
        return None  # plain LPPool2d is not a sum pool unless norm_type == 1; leave it unsupported
    return HANDLERS.get(type(m).__name__)


# ------------------------------------------------------------------------------------------------------------------
def _make_tracer(opaque: bool):
    import torch.fx as fx
    import torch.nn as nn

    class _Tracer(fx.Tracer):
        """Keeps torch.nn and sinabs layers whole; with ``opaque`` also every custom module (fallback)."""

        def is_leaf_module(self, m, qualname):
            if isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
                return False
            if _is_sinabs(m) or _handler(m) is not None:
                return True
            if fwn.framework(m) is not None and not fwn.is_chain_container(m):
                return True  # a framework's neuron (or other layer): read whole, never traced into
            if opaque:
                return True
            return super().is_leaf_module(m, qualname)

    return _Tracer()


def _trace(module):
    import torch.fx as fx

    errors = []
    for opaque in (False, True):
        try:
            graph = _make_tracer(opaque).trace(module)
            return fx.GraphModule(module, graph)
        except SnncError:
            raise
        except Exception as e:  # torch.fx raises many kinds (TraceError, TypeError, ...)
            errors.append(e)
    e = errors[-1]
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise SnncError(f"the torch model {type(module).__name__} cannot be traced by torch.fx ({first[:120]}); write it "
                    "as nn.Sequential or keep its forward free of data-dependent control flow")


def _unique(graph: Graph, base: str) -> str:
    name, k = base, 1
    while name in graph:
        name = f"{base}:{k}"
        k += 1
    return name


def _shape_by_running(fn, in_shapes):
    """Output shape (without batch) of an unsupported op, found by running it on zeros; None when that fails."""
    import torch

    if not in_shapes or any(not s for s in in_shapes):
        return None
    if sum(int(np.prod(s)) for s in in_shapes) > 1 << 24:  # too large to run on zeros: leave the shape unknown
        return None
    try:
        with torch.no_grad():
            out = fn(*[torch.zeros((1,) + tuple(s)) for s in in_shapes])
        if isinstance(out, torch.Tensor) and out.dim() >= 1 and out.shape[0] == 1:
            return tuple(int(d) for d in out.shape[1:])
    except Exception:
        pass
    return None


_ADD_FUNCS = {operator.add, operator.iadd}
_FLATTEN_METHODS = ("flatten", "view", "reshape")
_META_METHODS = ("size", "dim", "numel")


def from_torch(module, input_shape=None, name: str | None = None) -> Graph:
    """Lower a torch ``nn.Module`` (sinabs layers included) to a validated graph IR.

    ``input_shape``: ``(C, H, W)`` or ``(N,)``.  When None it is taken from ``module.input_shape`` if the module
    has one, or from the first layer when that is a Linear; otherwise SnncError asks for ``--input-shape``.
    """
    import torch
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise SnncError(f"expected a torch nn.Module, got {type(module).__name__}")
    root = module
    if (_handler(root) is not None or _is_sinabs(root) or type(root).__module__.startswith("torch.nn.")
            or fwn.framework(root) is not None):
        if not isinstance(root, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
            root = nn.Sequential(root)  # a single layer: trace it as a one-layer model
    notes: list = []
    chain = _plain_chain(root)
    if chain is None:
        gm = _trace(root)
        modules = dict(gm.named_modules())
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise SnncError(f"the torch model's forward takes {len(placeholders)} inputs; snnc compiles models with "
                            "exactly one input tensor")

    if input_shape is None and getattr(module, "input_shape", None) is not None:
        try:
            input_shape = parse_shape(list(module.input_shape))
        except SnncError:
            input_shape = None
    if input_shape is None:
        input_shape = (_infer_input_shape(placeholders[0], modules) if chain is None
                       else _chain_input_shape(chain))
    if input_shape is None:
        raise SnncError("the input shape of a torch model is unknown: pass --input-shape C,H,W "
                        "(or input_shape=(C, H, W))")
    input_shape = parse_shape(input_shape)
    if chain is not None:
        graph = _lower_chain(chain, input_shape, name or type(module).__name__, notes)
        if notes:
            graph.meta["notes"] = notes
        return graph

    graph = Graph(name or type(module).__name__)
    ir_name: dict = {}  # fx node -> IR node name of the tensor it produces
    shapes: dict[str, tuple] = {}
    uses: dict[str, int] = {}

    def tensor_args(n):
        out = []

        def visit(a):
            if isinstance(a, (list, tuple)):
                for b in a:
                    visit(b)
            elif isinstance(a, dict):
                for b in a.values():
                    visit(b)
            elif a in ir_name:
                out.append(a)

        visit(n.args)
        visit(n.kwargs)
        return out

    unknown: dict[str, Unsupported] = {}  # IR name -> the unsupported call upstream whose output shape is unknown

    def add(node, srcs):
        graph.add(node, [ir_name[s] for s in srcs])
        roots = [unknown[ir_name[s]] for s in srcs if ir_name[s] in unknown]
        try:
            shapes[node.name] = tuple(int(d) for d in node.out_shape([shapes[ir_name[s]] for s in srcs]))
        except SnncError:
            if not roots:
                raise
            u = roots[0]  # name the call snnc cannot read, not the shape mismatch it caused further on
            raise SnncError(f"unsupported_layer: {u.name}: {u.op} cannot run on the chip ({u.detail}), and its "
                            f"output shape is unknown, so {node.name} cannot be read after it; remove or replace "
                            f"the call") from None
        if isinstance(node, Unsupported) and node.shape is None:
            unknown[node.name] = node
        elif roots:
            unknown[node.name] = roots[0]
        return node.name

    with torch.no_grad():
        for n in gm.graph.nodes:
            if n.op == "placeholder":
                ir_name[n] = add(Input(_unique(graph, "input"), shape=input_shape), [])
            elif n.op == "call_module":
                m = modules[n.target]
                srcs = tensor_args(n)
                k = uses.get(n.target, 0)
                uses[n.target] = k + 1
                lname = _unique(graph, n.target if k == 0 else f"{n.target}:{k}")
                if not srcs:
                    continue
                node = _module_node(lname, m, [shapes[ir_name[s]] for s in srcs], notes)
                if node is None:  # passes its (only) input through
                    ir_name[n] = ir_name[srcs[0]]
                    continue
                ir_name[n] = add(node, srcs)
            elif n.op in ("call_function", "call_method"):
                srcs = tensor_args(n)
                if not srcs:
                    continue  # size arithmetic and the like: not a tensor of the network
                target = n.target
                tname = target if isinstance(target, str) else getattr(target, "__name__", str(target))
                if n.op == "call_method" and tname in _META_METHODS or (
                        n.op == "call_function" and target is getattr and len(n.args) > 1
                        and n.args[1] in ("shape", "dtype", "device")):
                    continue  # x.size(0), x.shape: meta data, not a tensor of the network
                lname = _unique(graph, n.name)
                node = _functional(lname, n, tname, srcs, shapes, ir_name)
                if node is None:
                    ir_name[n] = ir_name[srcs[0]]
                    continue
                ir_name[n] = add(node, srcs if not isinstance(node, (Add, Concat)) else
                                 srcs[:2] if isinstance(node, Add) else _cat_inputs(n))
            elif n.op == "get_attr":
                continue
            elif n.op == "output":
                srcs = tensor_args(n)
                if not srcs:
                    raise SnncError("the torch model's forward returns no tensor")
                for i, s in enumerate(srcs):
                    add(Output(_unique(graph, "output" if i == 0 else f"output_{i}")), [s])
    graph.validate()
    if notes:
        graph.meta["notes"] = notes
    return graph


def _module_node(lname, m, in_shapes, notes: list):
    """The IR node of one call of the layer ``m`` on inputs of ``in_shapes``; None when it passes its only input
    through (Dropout, Identity, a sinabs Merge of one input).  Interpretations of framework neurons go to
    ``notes``."""
    if type(m).__name__ in _DROP and type(m).__module__.startswith("torch.nn.") and len(in_shapes) == 1:
        return None
    if fwn.framework(m) is not None and len(in_shapes) == 1 and fwn.torch_base(m) is None:
        node = fwn.framework_node(lname, m, in_shapes[0], notes)
        if node is fwn.PASS:
            return None
        if node is not None:
            return node
    if type(m).__name__ == "Merge" and _is_sinabs(m):
        return Add(lname) if len(in_shapes) > 1 else None
    handler = _handler(m) if len(in_shapes) == 1 else None
    node = handler(lname, m, in_shapes[0]) if handler else None
    return node if node is not None else _unsupported_module(lname, m, in_shapes)


def _plain_chain(root) -> list | None:
    """``[(module path, layer)]`` in call order when ``root`` is a plain ``nn.Sequential`` (nested plain
    Sequentials allowed) of torch.nn or sinabs layers, each module used once: what torch.fx would record for it
    (its ``forward`` calls each layer on the previous one's output), found without tracing.  None for anything
    else (custom modules or forwards, Sequential subclasses, ModuleLists, a module used twice): those are traced."""
    import torch.nn as nn

    out: list = []
    seen: set = set()

    def walk(seq, prefix) -> bool:
        if not (type(seq) is nn.Sequential or fwn.is_chain_container(seq)) or id(seq) in seen:
            return False
        seen.add(id(seq))
        for key, m in seq._modules.items():
            path = f"{prefix}{key}"
            if type(m) is nn.Sequential or fwn.is_chain_container(m):
                if not walk(m, path + "."):
                    return False
                continue
            if m is None or id(m) in seen or isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
                return False
            if not (_is_sinabs(m) or _handler(m) is not None or type(m).__module__.startswith("torch.nn.")
                    or fwn.framework(m) is not None):
                return False
            seen.add(id(m))
            out.append((path, m))
        return True

    return out if walk(root, "") else None


def _chain_input_shape(chain) -> tuple | None:
    """(in_features,) when the first layer past Dropout/Identity is a Linear; else None (as _infer_input_shape)."""
    for _path, m in chain:
        name = type(m).__name__
        if name in _DROP:
            continue
        return (int(m.in_features),) if name == "Linear" else None
    return None


def _lower_chain(chain, input_shape, name: str, notes: list) -> Graph:
    """The graph of a plain chain of layers (:func:`_plain_chain`), named as :func:`from_torch` names traced ones."""
    import torch

    graph = Graph(name)
    prev = _unique(graph, "input")
    graph.add(Input(prev, shape=input_shape))
    shape = tuple(input_shape)
    with torch.no_grad():
        for path, m in chain:
            node = _module_node(_unique(graph, path), m, [shape], notes)
            if node is None:
                continue
            graph.add(node, [prev])
            shape = tuple(int(d) for d in node.out_shape([shape]))
            prev = node.name
    graph.add(Output(_unique(graph, "output")), [prev])
    graph.validate()
    return graph


def _fn_add(lname, n, tname, in_shapes):
    if len(in_shapes) == 2 and n.kwargs.get("alpha", 1) == 1:
        return Add(lname)
    return Unsupported(lname, op="add", detail="adds a constant or a scaled tensor; only sums of two "
                            "layer outputs (residual connections) are supported", shape=in_shapes[0])


def _fn_relu(lname, n, tname, in_shapes):
    return ReLU(lname)


def _fn_pass_through(lname, n, tname, in_shapes):
    return None


def _fn_flatten(lname, n, tname, in_shapes):
    if _flattens_all_but_batch(n, tname, in_shapes[0]):
        return Flatten(lname)
    return Unsupported(lname, op=tname, detail="reshapes other than flattening all but the batch axis "
                            "are not supported")


def _cat_inputs(n) -> list:
    """The tensors ``torch.cat`` concatenates, in order (its first argument)."""
    seq = n.args[0] if n.args else n.kwargs.get("tensors", ())
    return list(seq) if isinstance(seq, (list, tuple)) else [seq]


def _fn_cat(lname, n, tname, in_shapes):
    """``torch.cat`` / ``torch.concat`` / ``torch.concatenate`` along the channel axis -> ``Concat``."""
    parts = _cat_inputs(n)
    dim = n.kwargs.get("dim", n.kwargs.get("axis", n.args[1] if len(n.args) > 1 else 0))
    ndim = len(in_shapes[0]) + 1 if in_shapes else 0
    op = f"torch.{tname}"
    if not isinstance(dim, int) or not ndim or dim % ndim != 1:
        return Unsupported(lname, op=op, detail=f"concatenates along dim={dim}; only the channel axis (dim=1) maps "
                                "to the chip (each source's spikes shifted to their channels)",
                           shape=_run_call(n, in_shapes))
    if len(parts) != len(set(parts)) or len(in_shapes) != len(parts):
        return Unsupported(lname, op=op, detail="concatenates the same tensor twice (or a constant); each input "
                                "of a channel concatenation must be a distinct layer output")
    if len(parts) == 1:
        return None
    return Concat(lname)


#: One handler per kind of function / method call in forward(): (IR name, fx node, call name, input shapes) ->
#: Node, or None to pass the input through unchanged.  :func:`_call_kind` says which kind a call is.
FUNCTION_HANDLERS = {"add": _fn_add, "relu": _fn_relu, "pass": _fn_pass_through, "flatten": _fn_flatten,
                     "cat": _fn_cat}


def _call_kind(n, tname) -> str | None:
    """The key of :data:`FUNCTION_HANDLERS` for a call_function / call_method node, or None (not mapped)."""
    import torch
    import torch.nn.functional as F

    target, method = n.target, n.op == "call_method"
    if target in _ADD_FUNCS or target is torch.add or (method and tname in ("add", "add_", "__add__", "__iadd__")):
        return "add"
    if target in (torch.relu, F.relu) or (method and tname in ("relu", "relu_")):
        return "relu"
    if target in (F.dropout, F.dropout2d) or (method and tname in ("contiguous", "clone", "detach")):
        return "pass"
    if target is torch.flatten or (method and tname in _FLATTEN_METHODS):
        return "flatten"
    if target in (torch.cat, torch.concat, torch.concatenate):
        return "cat"
    return None


def _call_name(n, tname) -> str:
    """How the user wrote a call: ``torch.stack``, ``torch.nn.functional.max_pool2d``, ``Tensor.view``."""
    if n.op == "call_method":
        return f"Tensor.{tname}"
    mod = getattr(n.target, "__module__", None) or ""
    if mod.startswith("torch._C") or mod == "torch.functional" or mod.startswith("torch._tensor"):
        mod = "torch"
    if mod in ("_operator", "operator"):
        mod = "operator"
    return f"{mod}.{tname}" if mod else tname


def _run_call(n, in_shapes):
    """The output shape (without batch) of fx node ``n`` run on zero tensors of ``in_shapes`` (its tensor
    arguments, in order), or None when that fails."""
    import torch
    import torch.fx as fx

    shapes = iter(in_shapes)

    def fill(a):
        if isinstance(a, fx.Node):
            return torch.zeros((1,) + tuple(next(shapes)))
        if isinstance(a, (list, tuple)):
            return type(a)(fill(b) for b in a)
        if isinstance(a, dict):
            return {k: fill(v) for k, v in a.items()}
        return a

    try:
        args, kwargs = fill(tuple(n.args)), fill(dict(n.kwargs))
        with torch.no_grad():
            out = (getattr(args[0], n.target)(*args[1:], **kwargs) if n.op == "call_method"
                   else n.target(*args, **kwargs))
        if isinstance(out, torch.Tensor) and out.dim() >= 1 and out.shape[0] == 1:
            return tuple(int(d) for d in out.shape[1:])
    except Exception:
        pass
    return None


def _functional(lname, n, tname, srcs, shapes, ir_name):
    """IR node for a call_function / call_method; None to pass the input through unchanged."""
    in_shapes = [shapes[ir_name[s]] for s in srcs]
    kind = _call_kind(n, tname)
    if kind is None:
        shape = _run_call(n, in_shapes) if sum(int(np.prod(x)) for x in in_shapes) <= 1 << 24 else None
        return Unsupported(lname, op=_call_name(n, tname), detail="a function call in forward() that snnc does "
                           "not map", shape=shape)
    return FUNCTION_HANDLERS[kind](lname, n, tname, in_shapes)


def _flattens_all_but_batch(n, tname, in_shape) -> bool:
    args = list(n.args[1:])
    if tname == "flatten":
        start = n.kwargs.get("start_dim", args[0] if args else 0)
        end = n.kwargs.get("end_dim", args[1] if len(args) > 1 else -1)
        return start == 1 and end == -1
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = list(args[0])
    total = int(np.prod(in_shape))
    return len(args) == 2 and args[1] in (-1, total)


def _unsupported_module(lname, m, in_shapes):
    op = type(m).__name__
    detail = {"MaxPool2d": "max pooling has no chip equivalent; use AvgPool2d or sinabs SumPool2d",
              "SpikingMaxPooling2dLayer": "max pooling has no chip equivalent; use sinabs SumPool2d"}.get(op, "")
    if not detail and len(in_shapes) != 1:
        detail = f"takes {len(in_shapes)} inputs"
    shape = _shape_by_running(copy.deepcopy(m).eval(), in_shapes)
    return Unsupported(lname, op=op, detail=detail, shape=shape)


def _infer_input_shape(placeholder, modules):
    """(in_features,) when the input goes straight (past Dropout/Identity) into a Linear; else None."""
    n = placeholder
    while True:
        users = list(n.users)
        if len(users) != 1 or users[0].op != "call_module":
            return None
        m = modules[users[0].target]
        name = type(m).__name__
        if name in _DROP:
            n = users[0]
            continue
        if name == "Linear":
            return (int(m.in_features),)
        return None
