"""The pickle scanner (safe_pickle._scan_one_pickle) against a slow reference built on pickletools.genops.

The scanner decodes the frequent opcodes itself (for speed); the reference below reads every opcode with the
standard library.  Both must find the same globals and the same bare-int value on real pickles, and agree on
accepting or refusing damaged ones.
"""
import copyreg
import io
import pickle
import pickletools
import random
from collections import OrderedDict, deque

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

import models  # noqa: E402

from snnc.compiler.errors import SnncError  # noqa: E402
from snnc.compiler.frontends import safe_pickle as loader  # noqa: E402

_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def reference_scan(data: bytes):
    """(globals, bare int value) of the pickle at the start of ``data``, read with pickletools.genops."""
    found, recent, memo, value, n_ops = [], deque(maxlen=64), {}, None, 0
    for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
        n_ops += 1
        name = op.name
        if name in ("GLOBAL", "INST"):
            mod, _, qual = str(arg).partition(" ")
            found.append((mod, qual))
            recent.append(None)
        elif name == "STACK_GLOBAL":
            mod, qual = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
            found.append((str(mod) if mod is not None else "?", str(qual) if qual is not None else "?"))
            for _ in range(min(2, len(recent))):
                recent.pop()
            recent.append(None)
        elif name in ("EXT1", "EXT2", "EXT4"):
            found.append(copyreg._inverted_registry.get(arg, ("?", f"<copyreg extension {arg}>")))
            recent.append(None)
        elif name in _STRINGS:
            recent.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
        elif name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = recent[-1] if recent else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            recent.append(memo.get(arg))
        elif name in ("LONG1", "LONG4", "INT", "BININT", "BININT1", "BININT2", "LONG"):
            value = arg
            recent.append(None)
        elif name not in ("FRAME", "PROTO", "STOP"):
            recent.append(None)
    return found, (value if n_ops <= 4 else None)


def _both(data: bytes):
    try:
        ref = ("ok",) + reference_scan(data)
    except ValueError:  # genops' way of saying "not a pickle" (UnicodeDecodeError is one too)
        ref = ("refused",)
    try:
        found, value, _end = loader._scan_one_pickle(data)
        new = ("ok", found, value)
    except ValueError:
        new = ("refused",)
    return ref, new


def _torch_pickle(obj) -> bytes:
    import zipfile

    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(buf) as z:
        return z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))


_SAMPLES = [
    {"a": [1, 2.5, "x", b"y", None, True, (1, 2), (1, 2, 3), ()], "b": {1, 2}, "c": frozenset([3]),
     "d": bytearray(b"zz"), 10 ** 30: -10 ** 40, "e": "\u00e9\u4e2d" * 3, "f": [OrderedDict(a=1)] * 3},
    "just text", 12345678901234567890, 7, -1,
]


def _pickles() -> list[bytes]:
    out = [_torch_pickle(models.scnn()), _torch_pickle({"model": models.mlp(), "input_shape": [10]})]
    for obj in _SAMPLES + [nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU())]:
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            out.append(pickle.dumps(obj, protocol=proto))
    return out


PICKLES = _pickles()


@pytest.mark.parametrize("k", range(len(PICKLES)))
def test_real_pickles_read_alike(k):
    ref, new = _both(PICKLES[k])
    assert ref[0] == "ok" and new == ref


def test_torch_pickle_names_its_classes():
    found, _, end = loader._scan_one_pickle(_torch_pickle(models.scnn()))
    names = {f"{m}.{q}" for m, q in found}
    assert "torch.nn.modules.conv.Conv2d" in names and "torch._utils._rebuild_tensor_v2" in names


@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")  # pickletools on damaged text
@settings(max_examples=300, deadline=None)
@given(k=st.integers(0, len(PICKLES) - 1), seed=st.integers(0, 2 ** 32 - 1), edits=st.integers(1, 4))
def test_damaged_pickles_read_alike(k, seed, edits):
    """Flipped, cut and inserted bytes: the scanner and the reference accept the same ones with the same result."""
    rng = random.Random(seed)
    m = bytearray(PICKLES[k])
    for _ in range(edits):
        if not m:
            break
        i, r = rng.randrange(len(m)), rng.random()
        if r < 0.5:
            m[i] = rng.randrange(256)
        elif r < 0.75:
            del m[i:i + rng.randint(1, 8)]
        else:
            m[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    ref, new = _both(bytes(m))
    assert new == ref


def test_inst_and_extension_codes_are_named():
    inst = b"(ios\nsystem\n."  # protocol 0: INST calls os.system; the scanner must name it
    assert loader._scan_one_pickle(inst)[0] == [("os", "system")]
    getcwd = __import__("os").getcwd
    copyreg.add_extension(getcwd.__module__, "getcwd", 240)
    try:
        data = pickle.dumps(getcwd, protocol=2)
    finally:
        copyreg.remove_extension(getcwd.__module__, "getcwd", 240)
    assert b"\x82\xf0" in data  # EXT1 240
    copyreg.add_extension(getcwd.__module__, "getcwd", 240)
    try:
        found = loader._scan_one_pickle(data)[0]
    finally:
        copyreg.remove_extension(getcwd.__module__, "getcwd", 240)
    assert found == [(getcwd.__module__, "getcwd")]
    assert loader._scan_one_pickle(b"\x80\x02\x82\xf1.")[0] == [("?", "<copyreg extension 241>")]


def test_consecutive_pickles_and_the_legacy_format(tmp_path):
    """torch's legacy (non-zip) format is several pickles in a row; each one ends where the next begins."""
    path = tmp_path / "legacy.pt"
    torch.save(models.scnn(), path, _use_new_zipfile_serialization=False)
    names = loader.scan_pickle_globals(path)
    assert "torch.nn.modules.conv.Conv2d" in names
    data = pickle.dumps(1) + pickle.dumps("a")
    _, value, end = loader._scan_one_pickle(data)
    assert value == 1 and loader._scan_one_pickle(data, end)[2] == len(data)


def test_plain_pickle_larger_than_the_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "MAX_PICKLE_BYTES", 1000)
    path = tmp_path / "big.pt"
    path.write_bytes(pickle.dumps(list(range(2000)), protocol=2))
    with pytest.raises(SnncError, match="more than 1,000 bytes"):
        loader.scan_pickle_globals(path)
