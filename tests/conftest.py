"""Shared test fixtures.

``sinabs_dynapcnn``: sinabs' DYNAP-CNN backend, used ONLY as an independent reference (memory numbers, config
dicts, discretization).  It imports samna at import time; the real samna is not installable here and the PyPI package
of that name is an installer shim, so tests put a minimal stand-in module into ``sys.modules`` first.  The stand-in
only lets sinabs import; it never stands in for snnc's own samna path (``snnc.targets.samna_adapter``), which is
tested separately.
"""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (timings on a shared 2-core machine vary); in CI the examples are
# derandomized so that a red run can be reproduced exactly.  Locally every run explores new examples.
settings.register_profile("snnc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("snnc-ci", parent=settings.get_profile("snnc"), derandomize=True, print_blob=True)
settings.load_profile("snnc-ci" if os.environ.get("CI") else "snnc")

# One torch thread: the tests' tensors are small, and on a loaded 2-core machine torch's thread pool oversubscribes
# the cores (a 40-step bias re-fit took 24 s with 2 threads against 1.4 s with 1).
import torch  # noqa: E402

torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[2] / "shared"
NIR_PAPER_CNN = Path(__file__).resolve().parents[1] / "examples" / "nmnist_cnn.nir"


class _Anything:
    """Stands for any samna name sinabs touches at import time (classes, annotations); calling it fails loudly."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("samna test stub: this object is not available in tests")

    def __class_getitem__(cls, item):
        return cls


class _Names(type):
    def __getattr__(cls, name):  # samna.device.DeviceInfo and the like, used in annotations
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything


def _stub_module(name: str) -> types.ModuleType:
    mod = sys.modules.get(name)
    if mod is None:
        mod = types.ModuleType(name)
        mod.__dict__["__snnc_test_stub__"] = True

        def __getattr__(attr, _name=name):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _Names(f"{_name}.{attr}", (_Anything,), {})

        mod.__getattr__ = __getattr__
        sys.modules[name] = mod
    return mod


def install_samna_stub() -> None:
    real = sys.modules.get("samna")
    if real is not None and not getattr(real, "__snnc_test_stub__", False):
        return
    for name in ("samna", "samna.speck2f", "samna.speck2f.configuration", "samna.speck2e",
                 "samna.speck2e.configuration", "samna.dynapcnn", "samna.dynapcnn.configuration", "samna.specksim",
                 "samna.specksim.nodes", "samnagui"):
        mod = _stub_module(name)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, mod)
    for cfg in ("samna.speck2f.configuration", "samna.speck2e.configuration", "samna.dynapcnn.configuration"):
        sys.modules[cfg].SpeckConfiguration = _Anything
        sys.modules[cfg].DynapcnnConfiguration = _Anything
    nodes = sys.modules["samna.specksim.nodes"]
    for cls in ("SpecksimConvolutionalFilterNode", "SpecksimIAFFilterNode", "SpecksimSumPoolingFilterNode"):
        setattr(nodes, cls, _Anything)


@pytest.fixture(scope="session")
def sinabs_dynapcnn():
    """sinabs.backend.dynapcnn imported behind the samna stand-in (a reference implementation, not our code)."""
    install_samna_stub()
    import sinabs.backend.dynapcnn as dynapcnn

    return dynapcnn


@pytest.fixture(scope="session")
def nir_paper_cnn() -> Path:
    """The NIR paper's N-MNIST CNN as shipped in examples/ (a copy of ../shared/models/nir_paper_nmnist_cnn.nir)."""
    return NIR_PAPER_CNN


@pytest.fixture(scope="session")
def nir_cnn_config(tmp_path_factory) -> Path:
    """The NIR paper CNN compiled for speck2f (a configuration JSON), once per test session."""
    import snnc

    out = tmp_path_factory.mktemp("nir_cnn") / "cnn.json"
    snnc.compile(snnc.load(NIR_PAPER_CNN), target="speck2f", output=out)
    return out
