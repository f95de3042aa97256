"""snnc inspect: read a model file and print the graph snnc sees (layers, inputs, output shapes), or read an event
file and print its figures."""
from __future__ import annotations

import json
from pathlib import Path

MODEL_SUFFIXES = (".pt", ".pth", ".nir", ".onnx")


def add_parser(sub):
    p = sub.add_parser(
        "inspect", help="print the layers of a model file, or the figures of an event file",
        description="Read a model file (.pt/.pth from torch.save, .nir, .onnx) and print its graph: one line per "
                    "layer with its parameters, its inputs and its output shape.  Given an event file (.npy/.npz, "
                    "N-MNIST/ATIS .bin, AEDAT 4 .aedat4; told apart by content), print its event count, duration, "
                    "sensor size, polarity split, mean and peak rates. Exit 0 on success, 2 when the file cannot "
                    "be read (one line on stderr).")
    p.add_argument("model", metavar="FILE", help="model file (.pt/.pth, .nir, .onnx) or event file")
    p.add_argument("--input-shape", metavar="C,H,W", help="input shape, e.g. 2,34,34; needed for torch models that "
                   "do not store it")
    p.add_argument("--trust", action="store_true", help="load a pickled model even if it names classes outside the "
                   "allow-list (this runs code from the file: only for files you trust)")
    from ._common import add_nir_dt_option

    add_nir_dt_option(p)
    p.add_argument("--json", action="store_true", help="event files: print the figures as JSON")
    return p


def _is_event_file(path: Path) -> bool:
    from snnc.runtime.eventio import EVENT_SUFFIXES

    suffix = path.suffix.lower()
    if suffix in MODEL_SUFFIXES:
        return False
    if suffix in EVENT_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return head.startswith((b"\x93NUMPY", b"#!AER-DAT"))


def run(args) -> int:
    path = Path(args.model)
    if path.is_file() and _is_event_file(path):
        from snnc.runtime.eventio import read_recording
        from snnc.runtime.eventio.stats import event_stats, format_stats
        from snnc.runtime.events import load_events

        rec = read_recording(path)
        rec.events = load_events(rec.events, what=str(path))  # checked and sorted
        stats = event_stats(rec)
        print(json.dumps(stats) if args.json else format_stats(stats))
        return 0
    from snnc.compiler.frontends.loader import load_model, parse_shape

    shape = parse_shape(args.input_shape) if args.input_shape else None
    graph = load_model(args.model, input_shape=shape, trust=args.trust, nir_dt=args.nir_dt)
    print(graph.dump())
    for note in graph.meta.get("notes") or []:
        print(f"note: {note}")
    meta = graph.meta
    if meta.get("sha256"):
        print(f"format {meta['format']}, sha256 {meta['sha256']}")
    return 0
