"""Spiking neurons of other frameworks in torch models: snnTorch, SpikingJelly, Norse, Rockpool.

A model built with one of these frameworks reaches snnc as an ``nn.Module`` (in memory, or a ``.pt`` loaded with
``--trust``: unpickling it needs the framework installed anyway).  snnc never imports a framework to recognise its
classes: a class is matched by its name *and* the module it is defined in (``type(m).__module__``), so a look-alike
of the same name elsewhere is not taken for it, and a model without these classes never touches the frameworks.

Configurations that are exactly the chip's integrate-and-fire neuron become ``IAF`` nodes; the rest become
``Unsupported`` nodes with ``rule="neuron_model"``, naming what the chip lacks (a leak time constant, a synaptic
current, ...) and the fix.  Each interpretation (the reset a parameter means, the threshold comparison, the initial
state) is one line in the notes, printed by ``check`` / ``compile`` / ``inspect``.

What maps (see ``docs/frontends.md``, section "Neurons of other frameworks"):

* snnTorch ``Leaky`` with ``beta`` >= 1 (its forward clamps beta to [0, 1], so 1 is no leak): threshold
  ``threshold``, reset from the state function ``__init__`` chose (``subtract`` / ``zero``); no ``inhibition``,
  ``state_quant``, ``graded_spikes_factor`` other than 1, nor a spike function outside ``snntorch``.
* SpikingJelly ``IFNode``: threshold ``v_threshold``; ``v_reset=None`` -> subtract, ``v_reset=0.0`` -> zero;
  initial state ``v_reset`` (or 0); ``surrogate_function`` in spiking mode.
* Norse ``IAFCell`` / ``IAF``: threshold ``p.v_th``, reset to ``p.v_reset`` (only 0, the chip's reset to zero),
  initial state ``p.v_reset``; a deterministic threshold ``p.method``.
* Rockpool ``LIFNeuronTorch`` with every ``tau_mem`` infinite: threshold ``threshold``, subtract reset,
  ``max_spikes_per_dt`` 1 -> one spike per step, more -> several (as sinabs' MultiSpike); no bias, no noise.

Containers that call their children in order are walked as ``nn.Sequential`` (:data:`CHAIN_CONTAINERS`, and Norse's
``Lift``, which applies one module to every time step), and
SpikingJelly's step-mode wrappers of torch layers (``layer.Conv2d``, ``layer.Linear``, ``layer.Flatten``,
``layer.AvgPool2d``, ``layer.BatchNorm2d``, ...) are read as the torch layer they subclass.
"""
from __future__ import annotations

import numpy as np

from ..ir import IAF, Unsupported

#: top-level package -> the framework's name as its users write it
FRAMEWORKS = {"snntorch": "snnTorch", "spikingjelly": "SpikingJelly", "norse": "Norse", "rockpool": "Rockpool"}

SJ_NEURON = "spikingjelly.activation_based.neuron."
SJ_LAYER = "spikingjelly.activation_based.layer."
SNNTORCH_NEURON = "snntorch._neurons."
NORSE_MODULE = "norse.torch.module."
ROCKPOOL_TORCH = "rockpool.nn.modules.torch."

#: (defining module prefix, class name) of containers whose forward calls each child on the previous output
CHAIN_CONTAINERS = {
    (SJ_LAYER, "SeqToANNContainer"), (SJ_LAYER, "MultiStepContainer"), (SJ_LAYER, "StepModeContainer"),
    (NORSE_MODULE, "SequentialState"),
}

#: a result of :func:`framework_node` meaning "passes its input through" (inference)
PASS = object()


def framework(m) -> str | None:
    """The framework (a key of :data:`FRAMEWORKS`) that defines ``type(m)``, or None."""
    top = type(m).__module__.partition(".")[0]
    return top if top in FRAMEWORKS else None


def _is(m, prefix: str, *names: str) -> bool:
    return type(m).__module__.startswith(prefix) and type(m).__name__ in names


def is_chain_container(m) -> bool:
    """True for a framework container that calls its children in order, each on the previous one's output (Norse's
    ``Lift`` calls its one module on every time step)."""
    import torch.nn as nn

    if _is(m, NORSE_MODULE, "Lift"):
        return list(m._modules) == ["lifted_module"]
    if not isinstance(m, nn.Sequential):
        return False
    if _is(m, NORSE_MODULE, "SequentialState") and getattr(m, "return_hidden", False):
        return False  # returns every layer's output, not a chain's
    return any(_is(m, prefix, name) for prefix, name in CHAIN_CONTAINERS)


def torch_base(m):
    """For a SpikingJelly step-mode wrapper of a torch layer (``layer.Conv2d`` subclasses ``nn.Conv2d`` and only
    reshapes [T, N, ...] to [T*N, ...] around it): the torch.nn class name it is.  None otherwise (also for
    subclasses that change the computation, such as ``WSConv2d``, whose name differs from its torch base)."""
    if not type(m).__module__.startswith(SJ_LAYER):
        return None
    for base in type(m).__mro__[1:]:
        if base.__module__.startswith("torch.nn.") and base.__name__ == type(m).__name__:
            return base.__name__
    return None


def framework_node(name, m, in_shape, notes: list):
    """The IR node of a framework module (or :data:`PASS`), appending interpretation notes; None when ``m`` is no
    class of a framework this module knows (the caller then treats it as any other unknown layer)."""
    fw = framework(m)
    if fw is None:
        return None
    cls = type(m).__name__
    mod = type(m).__module__
    if fw == "spikingjelly" and mod.startswith(SJ_LAYER) and cls in ("Dropout", "Dropout2d"):
        return PASS  # SpikingJelly's dropout (one mask over all steps) is the identity at inference
    handler = HANDLERS.get((fw, cls))
    if handler is not None and mod.startswith(_HANDLER_PREFIX[fw]):
        return handler(name, m, tuple(int(d) for d in in_shape), notes)
    refusal = _refusal(fw, mod, cls)
    if refusal is not None:
        what, fix = refusal
        return refuse(name, m, what, fix)
    return None


def refuse(name, m, what: str, fix: str) -> Unsupported:
    """An ``Unsupported`` node reported by the ``neuron_model`` rule: ``what`` the chip lacks, ``fix`` the way out."""
    fw = framework(m)
    op = f"{FRAMEWORKS.get(fw, fw)} {type(m).__name__}" if fw else type(m).__name__
    return Unsupported(name, op=op, detail=what, rule="neuron_model", hint=fix)


# ------------------------------------------------------------------------------------------------------------------
def _np(t) -> np.ndarray:
    if hasattr(t, "detach"):
        return t.detach().cpu().double().numpy()
    return np.asarray(t, dtype=np.float64)


def _value(a: np.ndarray, shape):
    """One value (0-d) or one per neuron, as the IR takes thresholds; None when it fits neither."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 1:
        return a.reshape(())
    n = int(np.prod(shape))
    if a.size == n:
        return a.reshape(shape)
    try:
        return np.array(np.broadcast_to(a, shape))
    except ValueError:
        return None


def _text(a) -> str:
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if a.size == 0:
        return "[]"
    lo, hi = float(a.min()), float(a.max())
    return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"


def _stale_state(name, fw_name, what, state, notes):
    if state is not None and hasattr(state, "numel") and state.numel() > 0 and bool((state != 0).any()):
        notes.append(f"{name}: the stored {what} of the last run is not the initial state; {fw_name} starts each "
                     f"sequence from its reset, and so does snnc (0)")


# ------------------------------------------------------------------------------------------------------------------
# snnTorch
_SNNTORCH_RESETS = {"_base_sub": "subtract", "_base_zero": "zero", "_base_int": "none"}


def _snntorch_leaky(name, m, shape, notes):
    beta = _np(m.beta)
    if beta.size == 0 or not np.all(np.clip(beta, 0.0, 1.0) == 1.0):
        return refuse(name, m, f"beta={_text(beta)} is a leak (the membrane keeps beta of its value each step, "
                      f"time constant -1/ln(beta) steps); the chip's neurons do not leak",
                      "use snn.Leaky(beta=1.0) and fine-tune (snnc train trains the chip's own neuron)")
    if np.any(beta > 1):
        notes.append(f"{name}: beta={_text(beta)} is clamped to 1 by snnTorch's forward (beta.clamp(0, 1)): no leak")
    fn = getattr(m, "state_function", None)
    by_fn = _SNNTORCH_RESETS.get(getattr(getattr(fn, "__func__", None), "__name__", None))
    val = getattr(m, "reset_mechanism_val", None)
    by_val = {0: "subtract", 1: "zero", 2: "none"}.get(int(val)) if val is not None else None
    reset = by_fn or by_val or getattr(m, "_reset_mechanism", None)
    if by_fn and by_val and by_fn != by_val and getattr(m, "reset_delay", True):
        notes.append(f"{name}: reset_mechanism says {by_val!r} but the forward built in __init__ resets by "
                     f"{by_fn!r}; snnc reads what the forward does ({by_fn!r})")
    if reset not in ("subtract", "zero"):
        return refuse(name, m, f"reset_mechanism={reset!r}: the chip's neurons always reset after a spike",
                      "use reset_mechanism='subtract' or 'zero'")
    if getattr(m, "inhibition", False):
        return refuse(name, m, "inhibition=True (only the most excited neuron may spike): the chip has no "
                      "winner-take-all", "train with inhibition=False")
    if getattr(m, "state_quant", False):
        return refuse(name, m, "state_quant quantizes the membrane in the forward; the chip quantizes its own way",
                      "train with state_quant=False; snnc quantizes to the chip's integers")
    g = _np(getattr(m, "graded_spikes_factor", 1.0))
    if not np.all(g == 1.0):
        return refuse(name, m, f"graded_spikes_factor={_text(g)}: the chip's spikes carry no value",
                      "use graded_spikes_factor=1.0 (fold the factor into the next layer's weights)")
    grad = getattr(m, "spike_grad", None)
    if grad is not None and not str(getattr(grad, "__module__", "") or "").startswith("snntorch."):
        return refuse(name, m, f"spike_grad {getattr(grad, '__name__', type(grad).__name__)} is not one of "
                      "snnTorch's surrogates, so its forward (the spike itself) is unknown",
                      "use a spike_grad from snntorch.surrogate (their forward is the step mem > threshold)")
    thr = _value(_np(m.threshold), shape)
    if thr is None:
        return refuse(name, m, f"threshold has shape {list(m.threshold.shape)}, which does not fit the layer's "
                      f"shape {list(shape)}", "give one threshold per layer")
    notes.append(f"{name}: snnTorch Leaky(beta=1) -> IAF, threshold {_text(thr)}, reset {reset} "
                 f"(reset_mechanism={reset!r}); it fires when mem > threshold, the chip when V >= threshold "
                 "(they differ only when the membrane equals the threshold exactly)")
    _stale_state(name, "snnTorch", "membrane mem", getattr(m, "mem", None), notes)
    return IAF(name, threshold=thr, reset=reset, spike_mode="single")


# ------------------------------------------------------------------------------------------------------------------
# SpikingJelly
def _sj_if(name, m, shape, notes):
    v_reset = m.v_reset
    if v_reset is None:
        reset = "subtract"
    elif float(v_reset) == 0.0:
        reset = "zero"
    else:
        return refuse(name, m, f"v_reset={float(v_reset):g}: the chip resets to 0 (v_reset=0.0) or subtracts the "
                      "threshold (v_reset=None), nothing else", "use v_reset=0.0 or v_reset=None")
    sg = getattr(m, "surrogate_function", None)
    if sg is not None and getattr(sg, "spiking", True) is False:
        return refuse(name, m, "surrogate_function(spiking=False) outputs its smooth primitive, not spikes",
                      "set surrogate_function.spiking = True (the default)")
    if getattr(m, "_neuron_precision", None) is not None:
        return refuse(name, m, f"neuron precision {m._neuron_precision!r} stores the membrane at reduced "
                      "precision in the forward", "compile the float32 (default precision) model")
    thr = _value(_np(m.v_threshold), shape)
    if thr is None:
        return refuse(name, m, "v_threshold does not fit the layer's shape", "give one v_threshold per layer")
    v0 = float((getattr(m, "_memories_rv", None) or {}).get("v", 0.0 if v_reset is None else v_reset) or 0.0)
    notes.append(f"{name}: SpikingJelly IFNode -> IAF, threshold {_text(thr)}, "
                 + ("v_reset=None: subtract reset" if reset == "subtract" else "v_reset=0.0: reset to zero")
                 + f", initial v {v0:g}; it fires at v >= v_threshold, as the chip does")
    _stale_state(name, "SpikingJelly (functional.reset_net)", "membrane v",
                 getattr(m, "v", None) if hasattr(getattr(m, "v", None), "numel") else None, notes)
    v_init = None if v0 == 0.0 else np.full(shape, v0)
    return IAF(name, threshold=thr, reset=reset, spike_mode="single", v_init=v_init)


# ------------------------------------------------------------------------------------------------------------------
# Norse
#: threshold methods whose forward is the step v > v_th (the others draw Bernoulli samples)
_NORSE_STEP_METHODS = ("heaviside", "super", "triangle", "tanh", "circ", "heavi_erfc", "heavi_tanh", "heavi_circ")


def _norse_iaf(name, m, shape, notes):
    p = m.p
    v_reset = _np(p.v_reset)
    if not np.all(v_reset == 0.0):
        return refuse(name, m, f"p.v_reset={_text(v_reset)}: Norse's IAF resets to v_reset; the chip resets to 0 "
                      "(or subtracts the threshold)", "use IAFParameters(v_reset=0.0)")
    method = str(getattr(p, "method", "super"))
    if method not in _NORSE_STEP_METHODS:
        return refuse(name, m, f"p.method={method!r} spikes at random (a Bernoulli draw); the chip's neurons are "
                      "deterministic", "use method='super' or 'heaviside'")
    thr = _value(_np(p.v_th), shape)
    if thr is None:
        return refuse(name, m, "p.v_th does not fit the layer's shape", "give one v_th per layer")
    notes.append(f"{name}: Norse {type(m).__name__} -> IAF, threshold {_text(thr)}, v_reset=0: reset to zero, "
                 "initial v 0; it fires when v > v_th, the chip when V >= threshold (they differ only when the "
                 "membrane equals the threshold exactly)")
    return IAF(name, threshold=thr, reset="zero", spike_mode="single")


# ------------------------------------------------------------------------------------------------------------------
# Rockpool
def _rockpool_lif_neuron(name, m, shape, notes):
    tau = _np(m.tau_mem)
    if not np.all(np.isposinf(tau)):
        dt = float(m.dt)
        return refuse(name, m, f"tau_mem={_text(tau)} s (dt {dt:g} s) is a leak time constant; the chip's neurons "
                      "do not leak", "use tau_mem=float('inf')")
    bias = _np(m.bias)
    if np.any(bias != 0):
        return refuse(name, m, f"bias={_text(bias)}: a constant current into the neuron",
                      "put the bias into the preceding Conv2d/Linear layer's bias")
    if float(getattr(m, "noise_std", 0.0) or 0.0) != 0.0:
        return refuse(name, m, f"noise_std={float(m.noise_std):g}: the chip's neurons have no noise",
                      "use noise_std=0.0")
    fn = getattr(m, "spike_generation_fn", None)
    owner = getattr(getattr(fn, "__self__", None), "__module__", "") or ""
    if fn is not None and not owner.startswith(ROCKPOOL_TORCH):
        return refuse(name, m, "spike_generation_fn is not one of Rockpool's (StepPWL, PeriodicExponential)",
                      "use Rockpool's StepPWL")
    thr = _value(_np(m.threshold), shape)
    if thr is None:
        return refuse(name, m, "threshold does not fit the layer's shape", "give one threshold per layer")
    most = float(_np(m.max_spikes_per_dt).reshape(-1)[0])
    mode = "single" if most <= 1 else "multi"
    notes.append(f"{name}: Rockpool LIFNeuronTorch(tau_mem=inf) -> IAF, threshold {_text(thr)}, subtract reset, "
                 f"max_spikes_per_dt={most:g}: " + ("one spike per step" if mode == "single" else
                                                    "several spikes per step (floor(v / threshold))")
                 + "; it fires at v >= threshold, as the chip does")
    _stale_state(name, "Rockpool (reset_state())", "membrane vmem", getattr(m, "vmem", None), notes)
    return IAF(name, threshold=thr, reset="subtract", spike_mode=mode)


# ------------------------------------------------------------------------------------------------------------------
#: (framework, class name) -> handler (name, module, input shape, notes) -> IR node; the class must be defined under
#: :data:`_HANDLER_PREFIX` of its framework.
HANDLERS = {
    ("snntorch", "Leaky"): _snntorch_leaky,
    ("spikingjelly", "IFNode"): _sj_if,
    ("norse", "IAFCell"): _norse_iaf,
    ("norse", "IAF"): _norse_iaf,
    ("rockpool", "LIFNeuronTorch"): _rockpool_lif_neuron,
}
_HANDLER_PREFIX = {"snntorch": SNNTORCH_NEURON, "spikingjelly": SJ_NEURON, "norse": NORSE_MODULE,
                   "rockpool": ROCKPOOL_TORCH}

_LEAK = "a membrane leak (time constant tau); the chip's neurons do not leak"
_SYN = "a synaptic current (a second state, decaying with its own time constant); the chip adds each input to " \
       "the membrane at once"
_REC = "a recurrent connection inside the layer; the chip has none (rule recurrence)"

#: (framework, class name) -> what the chip lacks, for neuron classes that cannot map at all
REFUSED = {
    ("snntorch", "Synaptic"): (_SYN + ", and a leak (beta)", "use snn.Leaky(beta=1.0)"),
    ("snntorch", "RSynaptic"): (_SYN + ", a leak and " + _REC, "use snn.Leaky(beta=1.0) without recurrence"),
    ("snntorch", "RLeaky"): (_REC, "use snn.Leaky(beta=1.0) (no recurrent weights)"),
    ("snntorch", "Alpha"): ("an alpha-shaped synaptic current (two time constants, alpha and beta)",
                            "use snn.Leaky(beta=1.0)"),
    ("snntorch", "Lapicque"): ("an RC membrane (leak through R*C)", "use snn.Leaky(beta=1.0)"),
    ("snntorch", "SLSTM"): ("an LSTM cell state", "use snn.Leaky(beta=1.0)"),
    ("snntorch", "SConv2dLSTM"): ("an LSTM cell state and its own convolution", "use nn.Conv2d + snn.Leaky(beta=1)"),
    ("spikingjelly", "LIFNode"): (_LEAK + " (tau)", "use neuron.IFNode"),
    ("spikingjelly", "ParametricLIFNode"): ("a learnable leak (tau = 1 / sigmoid(w)); the chip's neurons do not "
                                            "leak", "use neuron.IFNode"),
    ("spikingjelly", "CUBALIFNode"): (_SYN, "use neuron.IFNode"),
    ("spikingjelly", "QIFNode"): ("quadratic membrane dynamics", "use neuron.IFNode"),
    ("spikingjelly", "EIFNode"): ("exponential membrane dynamics", "use neuron.IFNode"),
    ("spikingjelly", "IzhikevichNode"): ("Izhikevich dynamics (a recovery variable)", "use neuron.IFNode"),
    ("spikingjelly", "LIAFNode"): ("an analog (non-spike) output and a leak", "use neuron.IFNode"),
    ("spikingjelly", "KLIFNode"): ("a learnable scaling of the membrane and a leak", "use neuron.IFNode"),
    ("norse", "LIFCell"): (_SYN + " (tau_syn_inv) and " + _LEAK + " (tau_mem_inv)", "use norse IAFCell"),
    ("norse", "LIF"): (_SYN + " (tau_syn_inv) and " + _LEAK + " (tau_mem_inv)", "use norse IAF"),
    ("norse", "LIFBoxCell"): (_LEAK + " (tau_mem_inv; the input is scaled by it too)", "use norse IAFCell"),
    ("norse", "LICell"): ("no spikes (a leaky integrator's output is its membrane)", "end the model with IAFCell"),
    ("norse", "LI"): ("no spikes (a leaky integrator's output is its membrane)", "end the model with IAF"),
    ("norse", "LIBoxCell"): ("no spikes (a leaky integrator's output is its membrane)", "end the model with IAFCell"),
    ("norse", "LIFRecurrentCell"): (_REC, "use norse IAFCell"),
    ("norse", "LIFRecurrent"): (_REC, "use norse IAF"),
    ("rockpool", "LIFTorch"): (_SYN + " (tau_syn: the input reaches the membrane through it)", "use Rockpool's "
                               "LIFNeuronTorch(tau_mem=inf) (no synapse)"),
    ("rockpool", "LIFBitshiftTorch"): (_SYN + " and a bit-shift leak", "use LIFNeuronTorch(tau_mem=inf)"),
    ("rockpool", "aLIFTorch"): ("an adaptive threshold and " + _SYN, "use LIFNeuronTorch(tau_mem=inf)"),
    ("rockpool", "ExpSynTorch"): ("no spikes (an exponential synapse only)", "use LIFNeuronTorch(tau_mem=inf)"),
}

#: modules whose every other class is a neuron model: refused under neuron_model with a general reason
_NEURON_MODULES = {
    "snntorch": (SNNTORCH_NEURON,),
    "spikingjelly": (SJ_NEURON,),
    "norse": tuple(NORSE_MODULE + f for f in ("coba_lif", "iaf", "izhikevich", "leaky_integrator", "lif",
                                               "lif_adex", "lif_adex_refrac", "lif_box", "lif_ex", "lif_mc",
                                               "lif_mc_refrac", "lif_refrac", "lsnn", "lif_correlation")),
    "rockpool": tuple(ROCKPOOL_TORCH + f for f in ("lif_torch", "lif_neuron_torch", "lif_bitshift_torch",
                                                   "ahp_lif_torch", "exp_syn_torch", "updown_torch")),
}
_FIX = {"snntorch": "use snn.Leaky(beta=1.0)", "spikingjelly": "use neuron.IFNode",
        "norse": "use norse IAFCell (v_reset=0)", "rockpool": "use LIFNeuronTorch(tau_mem=inf)"}


def _refusal(fw: str, mod: str, cls: str):
    if (fw, cls) in REFUSED and mod.startswith(_HANDLER_PREFIX[fw]):
        return REFUSED[(fw, cls)]
    if any(mod == p or mod.startswith(p + ".") or (p.endswith(".") and mod.startswith(p))
           for p in _NEURON_MODULES.get(fw, ())):
        return (f"a neuron model other than integrate-and-fire ({cls}); the chip's neuron only integrates, fires "
                "at a threshold and resets", _FIX[fw])
    return None


__all__ = ["FRAMEWORKS", "CHAIN_CONTAINERS", "HANDLERS", "REFUSED", "PASS", "framework", "framework_node",
           "is_chain_container", "refuse", "torch_base"]
