"""Read a model (a file or an in-memory object) into the graph IR, safely.

``load_model`` dispatches on the file extension: ``.pt`` / ``.pth`` (torch), ``.nir`` (NIR), ``.onnx`` (an ANN;
its ReLUs become neurons with ``--convert-ann``).  It also takes an ``nn.Module`` or a ``nir.NIRGraph`` object directly.

Loading a ``.pt`` file means unpickling, which can run code: :mod:`.safe_pickle` reads the pickle without running
it and allows only known layer classes (see there).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import SnncError
from ..fileio import check_input
from ..ir import Graph
from .safe_pickle import _first_line, load_torch_file, scan_pickle_globals  # noqa: F401  (re-exported)
from .shape import parse_shape  # noqa: F401  (re-exported: the CLI and users import it from here)

TORCH_SUFFIXES = (".pt", ".pth")
#: What a frontend raises on a damaged or hand-made graph (odd types, missing fields, wrong ranks).
_MALFORMED = (ValueError, TypeError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError)
NIR_SUFFIXES = (".nir",)
ONNX_SUFFIXES = (".onnx",)


# ------------------------------------------------------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------------------------
def load_model(model, input_shape=None, trust: bool = False, nir_dt: float | None = None) -> Graph:
    """Read ``model`` (a path, an ``nn.Module`` or a ``nir.NIRGraph``) into a validated graph IR.

    ``input_shape``: ``(C, H, W)`` or ``(N,)`` (a tuple or text such as ``"2,34,34"``); needed for torch models
    unless the file stores it or the first layer is a Linear.  ``trust``: unpickle ``.pt`` files fully even when
    they name classes outside the allow-list (runs code from the file).  ``nir_dt``: the time step (seconds) a NIR
    graph was exported with, needed where its neurons have ``r != 1`` (``--nir-dt``).

    ``graph.meta`` gets ``format`` ("torch" / "nir"), ``path`` and ``sha256`` (both None for objects).
    Every unusable input raises SnncError with one line naming the file and what to do.
    """
    shape = parse_shape(input_shape) if input_shape is not None else None
    if not isinstance(model, (str, Path)):
        return _load_object(model, shape, nir_dt)

    path = Path(model)
    if path.is_dir():
        raise SnncError(f"{path}: is a directory, not a model file; pass the .pt, .pth or .nir file itself")
    check_input(path, "model")
    suffix = path.suffix.lower()
    if suffix not in TORCH_SUFFIXES + NIR_SUFFIXES + ONNX_SUFFIXES:
        raise SnncError(f"{path}: unknown model format {suffix or '(no extension)'!r}; snnc reads .pt/.pth "
                        "(torch.save of the whole model), .nir (NIR) and .onnx (ANN, with --convert-ann) files")
    if path.stat().st_size == 0:
        raise SnncError(f"{path}: the file is empty; was it written completely?")
    if suffix in ONNX_SUFFIXES:
        from .onnx_frontend import from_onnx, read_onnx

        try:
            graph = from_onnx(read_onnx(path), input_shape=shape, name=path.stem)
        except SnncError as e:
            msg = str(e)
            raise SnncError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
        except _MALFORMED as e:  # a hand-made or damaged file: say so in one line, never a traceback
            raise SnncError(f"{path}: the ONNX graph is malformed ({type(e).__name__}: {_first_line(e)}); export "
                            "it again with torch.onnx.export") from None
        fmt = "onnx"
    elif suffix in TORCH_SUFFIXES:
        from .torch_frontend import from_torch

        module, saved_shape, record = load_torch_file(path, trust=trust, with_record=True)
        try:
            graph = from_torch(module, shape or saved_shape, name=path.stem)
        except SnncError as e:
            raise SnncError(f"{path}: {e}") from None
        if record is not None:  # written by `snnc convert`: encoding, leak clock, clipping (see runtime/conversion)
            graph.meta["conversion"] = record
        fmt = "torch"
    else:
        from .nir_frontend import from_nir, read_nir

        nir_graph = read_nir(path)
        try:
            graph = from_nir(nir_graph, input_shape=shape, name=path.stem, dt=nir_dt)
        except SnncError as e:
            raise SnncError(f"{path}: {e}") from None
        except _MALFORMED as e:  # a hand-made or damaged file: say so in one line, never a traceback
            raise SnncError(f"{path}: the NIR graph is malformed ({type(e).__name__}: {_first_line(e)}); write it "
                            "with nir.write(path, graph) from a valid graph") from None
        fmt = "nir"
    graph.meta.update({"format": fmt, "path": str(path), "sha256": sha256_of(path)})
    return graph


def _load_object(obj, shape, nir_dt=None) -> Graph:
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover - torch is a dependency
        nn = None
    if nn is not None and isinstance(obj, nn.Module):
        from .torch_frontend import from_torch

        graph = from_torch(obj, shape)
        graph.meta.update({"format": "torch", "path": None, "sha256": None})
        return graph
    import nir

    from .nir_frontend import NirModel

    if isinstance(obj, (nir.NIRGraph, NirModel)):
        from .nir_frontend import from_nir

        graph = from_nir(obj, input_shape=shape, dt=nir_dt)
        graph.meta.update({"format": "nir", "path": None, "sha256": None})
        return graph
    raise SnncError(f"cannot load a {type(obj).__name__}: pass a file path (.pt, .pth, .nir), a torch nn.Module "
                    "or a nir.NIRGraph")
