"""One validation path: ``check`` and ``compile`` accept and refuse exactly the same inputs.

For every rule-breaking model of the test suite (one per rule, from ``test_drc.py``), the small models of
``models.py``, sinabs-shaped networks and inputs the DVS layer refuses, and for options drawn by hypothesis
(valid and invalid ones), ``check`` and ``compile`` end the same way -- fits / does not fit (exit 1) / bad input
(exit 2) -- with the same diagnostics: every error and warning (rule, layer, message, hint, measured, limit), or
the same one-line refusal.  Both are compared as the commands run them (``targets.compile.run_pipeline`` until
``assign`` for check, until ``quantize`` for compile, which is what ``snnc compile`` reports and writes from).
"""
from __future__ import annotations


import numpy as np
import pytest
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

import models as M  # noqa: E402
from test_drc import CASES  # noqa: E402

import snnc  # noqa: E402
from snnc.compiler.errors import SnncError  # noqa: E402


def _sinabs_seq(*layers):
    import sinabs.layers as sl

    out = []
    for x in layers:
        out.append(sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0) if x == "iaf" else x)
    return nn.Sequential(*out)


def _bad_example():
    # examples/make_bad_model.py with a 3x3 instead of a 17x17 kernel (4.7 M weights would take seconds)
    return _sinabs_seq(nn.Conv2d(2, 16, 3, stride=3, bias=False), "iaf", nn.Conv2d(16, 1025, 3, padding=8, bias=False),
                       "iaf", __import__("sinabs.layers", fromlist=["SumPool2d"]).SumPool2d(3)), (2, 256, 256)


def _sumpool(k):
    import sinabs.layers as sl

    return sl.SumPool2d(k)


def _tiny_weights():
    """Every weight 1e-6 of the threshold: all round to 0 (error[quantization]), which compile finds when it
    quantizes; check must say so too."""
    m = _sinabs_seq(nn.Conv2d(2, 4, 3, bias=False), "iaf")
    nn.init.constant_(m[0].weight, 1e-6)
    return m


MODELS = {f"rule-{k}": (lambda f=f: (f(), None)) for k, f in CASES.items()}
# test_drc's kernel_memory case has 9.4 M weights (seconds per call); this one breaks the same rule with 150 k
MODELS["rule-kernel_memory"] = lambda: (_sinabs_seq(nn.Conv2d(64, 256, 3, bias=False), "iaf"), (64, 8, 8))
MODELS.update({
    "scnn": lambda: (M.scnn(0), None),
    "nmnist_like": lambda: (M.nmnist_like(0), None),
    "residual": lambda: (M.residual(0), None),
    "ann": lambda: (M.ann(0), None),
    "mlp": lambda: (M.mlp(0), None),
    "bad_model": _bad_example,
    "three-channels": lambda: (_sinabs_seq(nn.Conv2d(3, 4, 1, bias=False), "iaf"), (3, 8, 8)),
    "input-avgpool-2x4": lambda: (_sinabs_seq(nn.AvgPool2d((2, 4)), nn.Conv2d(2, 4, 3, bias=False), "iaf"),
                                  (2, 16, 32)),
    "input-pool-3": lambda: (_sinabs_seq(_sumpool(3), nn.Conv2d(2, 4, 3, bias=False), "iaf"), (2, 18, 18)),
    "pool-2x1-between-cores": lambda: (_sinabs_seq(nn.Conv2d(2, 4, 3, bias=False), "iaf", _sumpool((2, 1)),
                                                   nn.Conv2d(4, 4, 3, bias=False), "iaf"), (2, 16, 16)),
    "sixteen-outputs": lambda: (_sinabs_seq(nn.Flatten(), nn.Linear(8, 16, bias=False), "iaf"), (8,)),
    "weights-round-to-zero": lambda: (_tiny_weights(), (2, 8, 8)),
})

OPTIONS = st.fixed_dictionaries({}, optional={
    "quantize": st.sampled_from(["sinabs", "percentile", "bogus"]),
    "decimate": st.sampled_from([{}, {"nosuch": 2}, {"0": 4}, {"0": 3}, {"c": 8}, {"5": 3}]),
    "readout": st.booleans(),
    "dvs_input": st.booleans(),
    "convert_ann": st.booleans(),
    "keep_biases": st.booleans(),
    "clip": st.booleans(),
    "monitor": st.sampled_from([None, ("all",), ("dvs",), ("nosuch",), ("0",), ("-1", "1"), ("9",)]),
    "dvs_pool": st.sampled_from([None, (2, 2), (2, 1), (3, 3)]),
    "dvs_channels": st.sampled_from([None, "on", "merge"]),
    "dvs_mirror": st.sampled_from([(), ("x",), ("diagonal",)]),
    "cores": st.sampled_from([None, [0], [8, 7, 6]]),
})


def _outcome(until, model, shape, options):
    from snnc.targets.compile import CompileOptions, run_pipeline

    try:
        result = run_pipeline(model, CompileOptions(input_shape=shape, **options), until=until)
    except SnncError as e:
        return getattr(e, "exit_code", 2), str(e), []
    diags = [(d.severity, d.rule, d.layer, d.message, d.hint, repr(d.measured), repr(d.limit))
             for d in result.diagnostics]
    return (0 if result.fits else 1), "", diags


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=15)
@given(options=OPTIONS)
def test_check_and_compile_report_the_same(name, options):
    model, shape = MODELS[name]()
    checked = _outcome("assign", model, shape, options)
    compiled = _outcome("quantize", model, shape, options)
    assert checked == compiled


def test_compile_writes_only_what_check_passes():
    """snnc.compile (the API) raises exactly when check does not fit."""
    for name in ("scnn", "rule-stride", "rule-kernel_memory", "weights-round-to-zero"):
        model, shape = MODELS[name]()
        fits = snnc.check(model, input_shape=shape).fits
        try:
            snnc.compile(model, input_shape=shape)
            wrote = True
        except SnncError as e:
            assert e.exit_code == 1
            wrote = False
        assert wrote == fits, name


@pytest.mark.parametrize("options, model", [
    ({"dvs_input": True}, "three-channels"),
    ({"quantize": "bogus"}, "scnn"),
    ({"decimate": {"5": 3}}, "scnn"),
    ({"decimate": {"nosuch": 2}}, "scnn"),
    ({"readout": True}, "sixteen-outputs"),
    ({"monitor": ("nosuch",)}, "scnn"),
])
def test_the_issue_s_cases_fail_in_check_too(options, model):
    m, shape = MODELS[model]()
    for fn in (snnc.check, snnc.compile):
        with pytest.raises(SnncError) as e:
            fn(m, input_shape=shape, **options)
        assert getattr(e.value, "exit_code", 2) == 2


def test_the_layer_name_in_decimate_is_resolved_in_check():
    m, _ = MODELS["scnn"]()
    assert snnc.check(m, decimate={"0": 4}).fits
    assert np.any([layer["output_decimator_enable"] for layer in snnc.compile(m, decimate={"0": 4})["cnn_layers"]])
