"""snnc inspect: read a model file and print the graph snnc sees (layers, inputs, output shapes)."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "inspect", help="print the layers snnc reads from a model file",
        description="Read a model file (.pt/.pth from torch.save, .nir) and print its graph: one line per layer "
                    "with its parameters, its inputs and its output shape. Exit 0 on success, 2 when the file "
                    "cannot be read (one line on stderr).")
    p.add_argument("model", metavar="MODEL", help="model file: .pt/.pth (torch.save of the whole model) or .nir")
    p.add_argument("--input-shape", metavar="C,H,W", help="input shape, e.g. 2,34,34; needed for torch models that "
                   "do not store it")
    p.add_argument("--trust", action="store_true", help="load a pickled model even if it names classes outside the "
                   "allow-list (this runs code from the file: only for files you trust)")
    return p


def run(args) -> int:
    from snnc.compiler.frontends.loader import load_model, parse_shape

    shape = parse_shape(args.input_shape) if args.input_shape else None
    graph = load_model(args.model, input_shape=shape, trust=args.trust)
    print(graph.dump())
    meta = graph.meta
    if meta.get("sha256"):
        print(f"format {meta['format']}, sha256 {meta['sha256']}")
    return 0
