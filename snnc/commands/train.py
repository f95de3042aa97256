"""snnc train: train a model described by a TOML file with the chip's own integer neurons."""
from __future__ import annotations

import sys


def add_parser(sub):
    p = sub.add_parser("train", help="train a spiking model with Speck's integer neurons from a TOML config",
                       description="Train the model a TOML configuration describes (dataset, encoding, model, neuron, "
                       "train, quantization, regularization, output; or a Qualia-SNN configuration; see "
                       "docs/training.md) with the chip's own "
                       "integrate-and-fire neurons, log per-epoch metrics to a CSV, and save a model that "
                       "`snnc compile` loads without --trust.")
    p.add_argument("config", metavar="CONFIG.toml", help="the training configuration")
    p.add_argument("-o", "--output", metavar="MODEL.pt", default=None,
                   help="where to save the model (default: [output] model in the config); the metrics CSV goes "
                   "beside it with the suffix .csv")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (the per-epoch lines remain)")
    p.add_argument("--epochs", type=int, metavar="N", help="train N epochs instead of the configured number (the "
                   "epoch where integer training starts is scaled alike)")
    p.add_argument("--limit", type=int, metavar="N", help="train on the first N samples of the training split only")
    return p


def run(args) -> int:
    from snnc.runtime.training.train import train_from_config

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    path = train_from_config(args.config, output=args.output, progress=not args.no_progress, log=log,
                             epochs=args.epochs, limit=args.limit)
    print(f"saved {path}")
    return 0
