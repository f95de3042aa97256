"""Safe loading of torch files (``load_torch_file``) and the pickle scanner (``scan_pickle_globals``).

Loading a ``.pt`` file means unpickling, and unpickling can run code.  So before torch sees the file, the pickle's
opcode stream is *read without executing it* to list every class and function it names; each one must be on the
allow-list below (or in torch's own weights-only allow-list).  Only then is it loaded with
``torch.load(weights_only=True)`` inside ``torch.serialization.safe_globals(...)``, so torch enforces the same list a
second time.  ``trust=True`` (``--trust``) skips both and unpickles fully: only for files you trust.

The allow-list:

* every ``torch.nn.Module`` subclass defined in ``torch.nn.modules.*`` (``Sequential``, ``Conv2d``, ``Linear``,
  ``BatchNorm1d/2d``, ``AvgPool2d``, ``Flatten``, ``Dropout``, ``Identity``, ``ReLU``, ... and also layers the chip
  cannot run, such as ``MaxPool2d``, so that they load and are reported by the design-rule check rather than
  refused here);
* every ``nn.Module`` subclass in ``sinabs.layers.*`` (``IAF``, ``IAFSqueeze``, ``LIF``, ``LIFSqueeze``,
  ``SumPool2d``, ``Merge``, ...) and every class in ``sinabs.activation.*`` (spike functions ``MultiSpike`` /
  ``SingleSpike`` / ``MaxSpike``, resets ``MembraneSubtract`` / ``MembraneReset``, surrogate gradients);
* every ``nn.Module`` subclass in ``snnc.runtime.training.*`` and ``snnc.runtime.conversion.*`` (snnc's own
  training layers and the graph container of converted models);
* sinabs' ``DVSLayer`` (with its ``Crop2d`` and ``FlipDims``), received by snnc's stand-ins
  (``frontends/sinabs_dvs.py``): its package, ``sinabs.backend.dynapcnn``, imports samna and is never imported.

Importing those modules only runs torch's, sinabs' or snnc's own code, never code from the file.
"""
from __future__ import annotations

import importlib
import io
import pickle
import pickletools
import re
import zipfile
import zlib
from pathlib import Path

from ..errors import SnncError
from .shape import parse_shape

# (module prefix, what a name under it must be) -- see the module docstring.
_ALLOWED_PREFIXES = (
    ("torch.nn.modules.", "module"),
    ("sinabs.layers.", "module"),
    ("sinabs.activation.", "class"),
    ("snnc.runtime.training.", "module"),
    ("snnc.runtime.conversion.", "module"),
)


# ------------------------------------------------------------------------------------------------------------------
# Safe torch loading
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch's legacy (non-zip) torch.save format starts with this pickled int
#: Bounds on the pickle scanner (see scan_pickle_globals).  torch.save of a 27-module CNN: 15 KB, 6,000 opcodes.
MAX_PICKLE_BYTES = 16 << 20
MAX_PICKLE_OPS = 1_000_000
MAX_ARCHIVE_BYTES = 2 << 30


# How the scanner treats each opcode (by its byte); see _scan_one_pickle.
(_OP_PLAIN, _OP_NUMBER, _OP_INT, _OP_LONG, _OP_STR, _OP_BYTES, _OP_PUT, _OP_GET, _OP_MEMOIZE, _OP_STACK_GLOBAL,
 _OP_EXT, _OP_SKIP, _OP_STOP, _OP_TEXT, _OP_GET1) = range(15)
#: struct formats of the fixed-size arguments and of the length prefixes (pickletools' argument names)
_ARG_FORMAT = {"uint1": "<B", "uint2": "<H", "int4": "<i", "uint4": "<I", "uint8": "<Q", "float8": "<d",
               "long1": "<B", "long4": "<i", "string1": "<B", "string4": "<i", "unicodestring1": "<B",
               "unicodestring4": "<I", "unicodestring8": "<Q", "bytes1": "<B", "bytes4": "<I", "bytes8": "<Q",
               "bytearray8": "<Q"}


def _opcode_table() -> list:
    """Per opcode byte: (kind, pickletools' OpcodeInfo, struct of its fixed argument or of its length prefix);
    None for bytes that are no opcode.  Made from the standard library's description of the format (pickletools)."""
    import struct

    table: list = [None] * 256
    for op in pickletools.opcodes:
        name, arg = op.name, op.arg
        fmt = struct.Struct(_ARG_FORMAT[arg.name]) if arg is not None and arg.name in _ARG_FORMAT else None
        if arg is not None and arg.n == pickletools.UP_TO_NEWLINE:
            kind = _OP_TEXT  # INT, LONG, FLOAT, STRING, UNICODE, GLOBAL, INST, GET, PUT, PERSID: pickletools reads
        elif name in ("FRAME", "PROTO"):
            kind = _OP_SKIP
        else:
            kind = {"STOP": _OP_STOP, "STACK_GLOBAL": _OP_STACK_GLOBAL, "MEMOIZE": _OP_MEMOIZE, "BININT": _OP_INT,
                    "BININT1": _OP_INT, "BININT2": _OP_INT, "LONG1": _OP_LONG, "LONG4": _OP_LONG,
                    "BINPUT": _OP_PUT, "LONG_BINPUT": _OP_PUT, "BINGET": _OP_GET1, "LONG_BINGET": _OP_GET,
                    "EXT1": _OP_EXT, "EXT2": _OP_EXT, "EXT4": _OP_EXT}.get(name)
            if kind is None:
                kind = (_OP_STR if name in _STRING_OPS else _OP_BYTES if arg is not None and arg.n < 0
                        else _OP_NUMBER if arg is not None else _OP_PLAIN)
        if arg is not None and kind != _OP_TEXT:
            assert fmt is not None, name
        table[op.code.encode("latin-1")[0]] = (kind, op, fmt)
    return table


_OPCODES = _opcode_table()


def _scan_one_pickle(data: bytes, pos: int = 0) -> tuple[list[tuple[str, str]], object, int]:
    """Globals named by the pickle that starts at ``data[pos]``, found by reading opcodes only (nothing is
    executed).

    Returns the ``(module, qualname)`` pairs, the pickle's value when it is a bare int (for the legacy magic
    number) else None, and where the pickle ends.  Raises ValueError on bytes that are not a complete pickle.

    Names come from GLOBAL and INST (their text), STACK_GLOBAL (the two strings pushed before it, followed through
    the memo) and EXT1/2/4 (copyreg's extension registry).  The frequent binary opcodes are decoded here; the rare
    ones with text arguments by pickletools' own readers.
    """
    import copyreg
    from collections import deque

    found: list[tuple[str, str]] = []
    recent: deque = deque(maxlen=64)  # what the last opcodes pushed, as far as strings go (enough for STACK_GLOBAL)
    push = recent.append
    memo: dict = {}
    memo_get = memo.get
    value = None
    n_ops = 0
    limit = MAX_PICKLE_OPS
    end = len(data)
    table = _OPCODES
    stream = None
    PLAIN, GET1, GET, PUT, TEXT, STR, LONG, INT, STOP, SKIP = (_OP_PLAIN, _OP_GET1, _OP_GET, _OP_PUT, _OP_TEXT,
                                                               _OP_STR, _OP_LONG, _OP_INT, _OP_STOP, _OP_SKIP)
    while True:
        if pos >= end:
            raise ValueError("pickle exhausted before seeing STOP")
        entry = table[data[pos]]
        if entry is None:
            raise ValueError(f"at position {pos}, opcode {data[pos:pos + 1]!r} unknown")
        n_ops += 1
        if n_ops > limit:
            raise _TooBig(f"its pickle has more than {MAX_PICKLE_OPS:,} opcodes")
        kind, op, fmt = entry
        pos += 1
        if kind == PLAIN:
            push(None)
            continue
        if kind == GET1:  # BINGET, the most frequent opcode with an argument
            if pos >= end:
                raise ValueError("not enough data in stream to read uint1")
            push(memo_get(data[pos]))
            pos += 1
            continue
        # the argument
        if kind == TEXT:
            if stream is None:
                stream = io.BytesIO(data)
            stream.seek(pos)
            arg = op.arg.reader(stream)
            pos = stream.tell()
        elif fmt is None:
            arg = None
        else:
            size = fmt.size
            if pos + size > end:
                raise ValueError(f"not enough data in stream to read {op.arg.name}")
            arg = data[pos] if size == 1 else fmt.unpack_from(data, pos)[0]
            pos += size
            if kind == STR or kind == LONG or kind == _OP_BYTES:  # ``arg`` was the length
                if arg < 0:
                    raise ValueError(f"{op.arg.name} byte count < 0: {arg}")
                if pos + arg > end:
                    raise ValueError(f"expected {arg} bytes in a {op.arg.name}, but only {end - pos} remain")
                pos, arg = pos + arg, data[pos:pos + arg]
        # what it does
        if kind == GET:
            push(memo_get(arg))
        elif kind == PUT:
            memo[arg] = recent[-1] if recent else None
        elif kind == STR:
            push(arg.decode("latin-1") if op.arg.name.startswith("string") else str(arg, "utf-8", "surrogatepass"))
        elif kind == INT or kind == LONG:
            value = pickle.decode_long(arg) if kind == LONG else arg
            push(None)
        elif kind == STOP:
            break
        elif kind == SKIP:
            continue
        elif kind == _OP_MEMOIZE:
            memo[len(memo)] = recent[-1] if recent else None
        elif kind == _OP_STACK_GLOBAL:
            mod, qual = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
            found.append((str(mod) if mod is not None else "?", str(qual) if qual is not None else "?"))
            if len(recent) >= 2:
                recent.pop()
                recent.pop()
            else:
                recent.clear()
            push(None)
        elif kind == _OP_EXT:
            found.append(copyreg._inverted_registry.get(arg, ("?", f"<copyreg extension {arg}>")))
            push(None)
        elif op.name in ("GLOBAL", "INST"):
            mod, _, qual = str(arg).partition(" ")
            found.append((mod, qual))
            push(None)
        elif op.name in _STRING_OPS:  # STRING, UNICODE (text arguments)
            push(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
        elif op.name == "PUT":
            memo[arg] = recent[-1] if recent else None
        elif op.name == "GET":
            push(memo_get(arg))
        elif op.name in ("INT", "LONG"):
            value = arg
            push(None)
        else:
            push(None)
    return found, (value if n_ops <= 4 else None), pos


class _TooBig(Exception):
    """The file declares more work than any model needs (see MAX_PICKLE_BYTES / MAX_PICKLE_OPS)."""


def _check_zip_sizes(path: Path, z: zipfile.ZipFile) -> None:
    """Refuse archives whose entries inflate beyond what torch.load would be asked to hold."""
    total = 0
    for info in z.infolist():
        total += info.file_size
        if total > MAX_ARCHIVE_BYTES:
            raise _TooBig(f"its entries inflate to more than {MAX_ARCHIVE_BYTES >> 20} MiB")
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > 1000 * max(info.compress_size, 1):
            raise _TooBig(f"entry {info.filename!r} inflates {info.file_size // max(info.compress_size, 1)}-fold "
                          "(torch.save stores its entries uncompressed)")


def scan_pickle_globals(path: Path) -> list[str]:
    """Every ``module.qualname`` a torch file names, read without unpickling.  SnncError if it is not one.

    Bounded work: the pickle may be at most :data:`MAX_PICKLE_BYTES` (decompressed; in a file that is not a zip
    archive, the pickles at its start together) and :data:`MAX_PICKLE_OPS` opcodes, and a zip archive's entries at
    most :data:`MAX_ARCHIVE_BYTES` in all; a torch.save of any model the chip can hold is far below each.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                pkls = [n for n in z.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
                if not pkls:
                    raise SnncError(f"{path}: is a zip archive but not one written by torch.save (no data.pkl); "
                                    "save the model with torch.save(model, path)")
                _check_zip_sizes(path, z)
                if z.getinfo(pkls[0]).file_size > MAX_PICKLE_BYTES:
                    raise _TooBig(f"its data.pkl inflates to {z.getinfo(pkls[0]).file_size:,} bytes")
                with z.open(pkls[0]) as member:
                    data = member.read(MAX_PICKLE_BYTES + 1)  # the declared size may lie
                if len(data) > MAX_PICKLE_BYTES:
                    raise _TooBig(f"its data.pkl inflates to more than {MAX_PICKLE_BYTES:,} bytes")
            found, _, _ = _scan_one_pickle(data)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_PICKLE_BYTES + 1)  # the pickles come first; tensor data (legacy format) after
            try:
                found, value, end = _scan_one_pickle(data)
                if value == _LEGACY_MAGIC:  # legacy format: protocol, sys info, the model, storage keys
                    for _ in range(3):
                        more, _, end = _scan_one_pickle(data, end)
                        found += more
            except ValueError:
                if len(data) > MAX_PICKLE_BYTES:
                    raise _TooBig(f"its pickles take more than {MAX_PICKLE_BYTES:,} bytes") from None
                raise
    except SnncError:
        raise
    except _TooBig as e:
        raise SnncError(f"{path}: {e}, far more than a torch.save of any model snnc can put on a chip; refusing to "
                        "read it (is it the right file?)") from None
    except RecursionError:
        raise SnncError(f"{path}: is not a readable torch model file (nested too deeply)") from None
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, KeyError, IndexError, UnicodeDecodeError,
            NotImplementedError, zlib.error, MemoryError, OverflowError) as e:
        raise SnncError(f"{path}: is not a readable torch model file ({_first_line(e)}); it may be truncated or "
                        "not written by torch.save") from None
    out = []
    for mod, qual in found:
        mod = _PY2_MODULES.get(mod, mod)  # protocol-2 pickles use Python 2 names, as the unpicklers map them
        full = f"{mod}.{qual}"
        if full not in out:
            out.append(full)
    return out


def _torch_default_globals() -> set[str]:
    try:
        from torch import _weights_only_unpickler as w

        return set(w._get_allowed_globals().keys())
    except Exception:  # pragma: no cover - private API moved: torch.load still enforces its own list
        return {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
                "torch.Size", "torch.FloatStorage"}


def _resolve_allowed(full: str):
    """The class for an allow-listed ``module.qualname``, or None when it is not allowed."""
    import torch.nn as nn

    for prefix, kind in _ALLOWED_PREFIXES:
        if not full.startswith(prefix):
            continue
        parts = full.split(".")
        root = prefix.rstrip(".")
        for cut in range(len(parts) - 1, 0, -1):  # longest importable module first, the rest are attributes
            modname = ".".join(parts[:cut])
            if modname != root and not modname.startswith(prefix):
                break
            try:
                obj = importlib.import_module(modname)
            except ImportError as e:
                if full.startswith("sinabs") and "sinabs" in str(e) and cut == 1 + root.count("."):
                    raise SnncError(f"the model uses {full} from sinabs, which is not installed; "
                                    "pip install sinabs") from None
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                return None
            if not isinstance(obj, type) or (kind == "module" and not issubclass(obj, nn.Module)):
                return None
            return obj
        return None
    return None


def load_torch_file(path: Path, trust: bool = False, with_record: bool = False):
    """Unpickle a torch file safely; return ``(module, saved_input_shape or None)``.

    Accepts a whole ``nn.Module`` or a dict ``{"model": module, "input_shape": [C, H, W]}``; with ``with_record``
    also the dict's ``snnc_conversion`` entry (written by ``snnc convert``) or None, as a third value.  A bare state_dict,
    a class outside the allow-list (without ``trust``) or an unreadable file raise SnncError.
    """
    import torch
    import torch.nn as nn

    path = Path(path)
    if trust:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:
            raise SnncError(f"{path}: could not be unpickled even with --trust ({_first_line(e)}); if it names your "
                            "own classes, their module must be importable") from None
    else:
        names = scan_pickle_globals(path)
        default = _torch_default_globals()
        allowed, refused = [], []
        from .sinabs_dvs import SUBSTITUTES

        for full in names:
            if full in default:
                continue
            if full in SUBSTITUTES:
                allowed.append((SUBSTITUTES[full], full))
                continue
            obj = _resolve_allowed(full)
            (allowed if obj is not None else refused).append(obj if obj is not None else full)
        if refused:
            which = ", ".join(refused[:3]) + (f" and {len(refused) - 3} more" if len(refused) > 3 else "")
            raise SnncError(f"{path}: names {which}, which is not on snnc's allow-list of known layer classes; "
                            "loading it would run code from the file. If you trust the file, pass --trust "
                            "(trust=True) to load it anyway")
        try:
            with torch.serialization.safe_globals(allowed):
                obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            msg = _first_line(e)
            m = re.search(r"GLOBAL ([\w.]+)", str(e))
            if m:
                raise SnncError(f"{path}: names {m.group(1)}, which torch refuses to load safely; if you trust the "
                                "file, pass --trust (trust=True) to load it anyway") from None
            if not zipfile.is_zipfile(path):
                raise SnncError(f"{path}: is in torch's legacy (non-zip) file format, which cannot be loaded "
                                "without running code from it; re-save it with a current torch "
                                "(torch.save(model, path)), or pass --trust if you trust the file") from None
            raise SnncError(f"{path}: is not a readable torch model file ({msg}); it may be truncated or not "
                            "written by torch.save") from None

    saved_shape = record = None
    if isinstance(obj, dict) and isinstance(obj.get("model"), nn.Module):
        if obj.get("input_shape") is not None:
            try:
                saved_shape = parse_shape(list(obj["input_shape"]) if isinstance(obj["input_shape"], (list, tuple))
                                          else obj["input_shape"])
            except SnncError as e:
                raise SnncError(f"{path}: the saved 'input_shape': {e}") from None
        if isinstance(obj.get("snnc_conversion"), dict):
            record = obj["snnc_conversion"]
        obj = obj["model"]
    if isinstance(obj, nn.Module):
        return (obj, saved_shape, record) if with_record else (obj, saved_shape)
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise SnncError(f"{path}: this file holds only weights (a state_dict); save the whole model with "
                        "torch.save(model, path), or {'model': model, 'input_shape': [C, H, W]}")
    if isinstance(obj, dict):
        raise SnncError(f"{path}: holds a dict without a 'model' entry (keys: {', '.join(map(str, list(obj)[:5]))}); "
                        "save {'model': model, 'input_shape': [C, H, W]} or the model itself")
    raise SnncError(f"{path}: holds a {type(obj).__name__}, not a torch model; save it with torch.save(model, path)")


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else type(e).__name__
    return line if len(line) < 160 else line[:157] + "..."
