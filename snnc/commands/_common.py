"""Options shared by the commands that run the compile pipeline (check, compile, report)."""
from __future__ import annotations

from snnc.compiler.errors import SnncError
from snnc.compiler.pipeline import CompileOptions
from snnc.targets.speck import DEFAULT_TARGET, target_help


def add_model_options(p) -> None:
    p.add_argument("model", metavar="MODEL", help="model file: .pt (torch.save of a module), .nir (NIR graph) or .onnx (an ANN; with --convert-ann)")
    p.add_argument("--target", default=DEFAULT_TARGET, help=target_help())
    p.add_argument("--input-shape", metavar="C,H,W", help="input shape; needed for torch models that do not store "
                   "it, e.g. 2,34,34")
    p.add_argument("--trust", action="store_true", help="load a pickled model even if it names classes outside the "
                   "allow-list (this runs code from the file: only for files you trust)")
    add_nir_dt_option(p)
    p.add_argument("--convert-ann", action="store_true", help="turn each ReLU into an IAF neuron (threshold 1, "
                   "subtract reset)")
    p.add_argument("--no-clip", dest="clip", action="store_false", help="keep weights above the threshold "
                   "(default: clip them to the threshold, with a warning)")
    p.add_argument("--no-split", dest="split", action="store_false", help="refuse a layer too big for every core "
                   "(default: split it over several cores by output channels, exactly; docs/splitting.md)")
    p.add_argument("--keep-biases", action="store_true", help="keep biases as chip leak (default: strip them, "
                   "with a warning); leak depends on the slow clock")
    p.add_argument("--cores", metavar="LIST", help="pin chip layers to cores, in layer order, e.g. 0,1,2,3")
    p.add_argument("--dvs-input", action="store_true", help="the input comes from the DVS sensor through the DVS "
                   "layer (which can also do the input pooling)")
    p.add_argument("--dvs-crop", metavar="X0,Y0,X1,Y1", help="DVS layer region of interest, in (DVS-pooled) "
                   "sensor pixels, X1/Y1 inclusive; the region must have the model's input size (implies the DVS "
                   "layer; the input is then the 128x128 sensor)")
    p.add_argument("--dvs-mirror", metavar="LIST", help="DVS layer mirroring: x, y and/or diagonal (swap x and y), "
                   "comma-separated")
    p.add_argument("--dvs-pool", metavar="PY,PX", help="DVS layer sum pooling per axis (1, 2 or 4 each), before "
                   "the region of interest")
    p.add_argument("--dvs-channels", choices=("both", "on", "off", "merge"), help="DVS polarities: both "
                   "(default), only on, only off, or merge them into one channel")
    p.add_argument("--monitor", metavar="LIST", help="layers whose spikes are read out (monitor_enable): dvs, "
                   "all, none, -1 (the output layers, default), chip-layer indices (the report's # column) or layer names "
                   "(name:3 for a name that is a number), comma-separated")
    p.add_argument("--quantize", default="sinabs", metavar="POLICY", help="integer quantization policy: sinabs "
                   "(default; per-layer scale as sinabs computes it) or percentile")
    p.add_argument("--readout", action="store_true", help="enable the readout layer on the output layer")
    p.add_argument("--decimate", action="append", default=[], metavar="LAYER=N", help="output decimator on a layer: "
                   "pass 1 spike in N (N in 2, 4, 8, 16, 32, 128, 256, 512); repeatable")


def check_number(value, flag: str, what: str, positive: bool = False, maximum: float | None = None) -> None:
    """Refuse a numeric option that is accepted by argparse but meaningless: nan, inf, negative (or 0 when
    ``positive``), above ``maximum``.  ``what`` says what to give, e.g. "number of input events per second"."""
    import math

    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise SnncError(f"{flag} {value}: give a {'positive' if positive else 'non-negative'} finite {what}")
    if maximum is not None and value > maximum:
        raise SnncError(f"{flag} {value:g}: above {maximum:g}, far beyond any real value; give a {what}")


#: Bounds of the static-estimate options: no sensor sends 10^12 events/s; no layer fires 10^6 times per event.
MAX_INPUT_RATE = 1e12
MAX_ACTIVITY = 1e6


def check_estimate_options(args) -> None:
    """``--input-rate`` and ``--activity`` (check, report)."""
    check_number(args.input_rate, "--input-rate", "number of input events per second", maximum=MAX_INPUT_RATE)
    check_number(args.activity, "--activity", "number of output spikes per input event (e.g. 1.0)",
                 maximum=MAX_ACTIVITY)


def parse_int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise SnncError(f"{what}: expected comma-separated integers such as 0,1,2, got {text!r}") from None


def parse_shape(text: str | None) -> tuple | None:
    if text is None:
        return None
    from snnc.compiler.frontends.loader import parse_shape as _parse

    try:
        return _parse(text)
    except SnncError as e:
        raise SnncError(f"--input-shape: {e}") from None


def parse_decimate(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, n = item.rpartition("=")
        if not sep or not name:
            raise SnncError(f"--decimate: expected LAYER=N, e.g. features.0=4, got {item!r}")
        try:
            out[name] = int(n)
        except ValueError:
            raise SnncError(f"--decimate {item}: N must be an integer ratio such as 4") from None
    return out


def _ints(text, what: str, n: int | tuple) -> tuple | None:
    if text is None:
        return None
    vals = parse_int_list(text, what)
    counts = (n,) if isinstance(n, int) else n
    if len(vals) not in counts:
        raise SnncError(f"{what}: expected {' or '.join(map(str, counts))} integers, got {text!r}")
    return tuple(vals)


def add_nir_dt_option(p) -> None:
    p.add_argument("--nir-dt", type=float, metavar="SECONDS", help="NIR models: the time step the graph was "
                   "exported with (e.g. 1e-4); needed where a neuron's r is not 1 (an input event then adds "
                   "w * r * dt); the factor applied is printed as a note")


def parse_mirror(text: str | None) -> tuple:
    if text is None:
        return ()
    items = tuple(v for v in text.replace(" ", "").split(",") if v)
    bad = [v for v in items if v not in ("x", "y", "diagonal")]
    if bad or not items:
        raise SnncError(f"--dvs-mirror: expected x, y and/or diagonal, comma-separated, got {text!r}")
    return items


def options_from_args(args) -> CompileOptions:
    pool = _ints(getattr(args, "dvs_pool", None), "--dvs-pool", (1, 2))
    monitor = getattr(args, "monitor", None)
    return CompileOptions(
        target=args.target, input_shape=parse_shape(args.input_shape), clip=args.clip,
        keep_biases=args.keep_biases, convert_ann=args.convert_ann, split=getattr(args, "split", True), cores=parse_int_list(args.cores, "--cores"),
        dvs_input=args.dvs_input, quantize=args.quantize, readout=args.readout,
        decimate=parse_decimate(args.decimate), trust=args.trust, nir_dt=getattr(args, "nir_dt", None),
        dvs_crop=_ints(getattr(args, "dvs_crop", None), "--dvs-crop", 4),
        dvs_mirror=parse_mirror(getattr(args, "dvs_mirror", None)),
        dvs_pool=None if pool is None else (pool * 2)[:2] if len(pool) == 1 else pool,
        dvs_channels=None if getattr(args, "dvs_channels", None) in (None, "both") else args.dvs_channels,
        monitor=None if monitor is None else tuple(v for v in monitor.replace(" ", "").split(",") if v))


_MODEL_MAGIC = ((b"\x89HDF\r\n\x1a\n", "a NIR (HDF5) model"), (b"PK\x03\x04", "a torch model (.pt)"),
                (b"\x80", "a pickled torch model"))


def require_config(path, command: str) -> None:
    """Refuse a model where ``command`` needs a configuration written by ``snnc compile``: one line naming the fix."""
    from pathlib import Path

    p = Path(path)
    try:
        if not p.is_file():  # missing, a folder, a FIFO (opening would block): load_config says so
            return
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError:
        return  # missing or unreadable: load_config says so
    what = next((name for magic, name in _MODEL_MAGIC if head.startswith(magic)), None)
    if what is None and p.suffix.lower() in (".nir", ".pt", ".pth", ".onnx") and not head.lstrip().startswith(b"{"):
        what = f"a model ({p.suffix})"
    if what is not None:
        raise SnncError(f"{path}: this is {what}, not a chip configuration; {command} runs a compiled configuration: "
                        f"snnc compile first (snnc compile {path} --target speck2f -o config.json)")
