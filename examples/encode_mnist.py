"""Turn MNIST digits into input events for `snnc simulate` (N-MNIST-like saccades, or Poisson rate coding).

    python examples/encode_mnist.py --index 0 -o digit0.npy                 # one digit, 34x34 saccade events
    python examples/encode_mnist.py --index 8000 --count 100 -o eval.npz    # many digits: events_0..., labels

The events are a numpy structured array (x, y, t in microseconds, p), tonic's layout; for a model whose input is a
core, p is the input channel (the polarity: 0 OFF, 1 ON for saccades).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from snnc.runtime.events import poisson_events, saccade_events, save_events
from snnc.runtime.training.data import load_mnist

HERE = Path(__file__).resolve().parent


def encode(image: np.ndarray, how: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if how == "saccade":
        return saccade_events(image, out_shape=(34, 34), rng=rng)
    return poisson_events(np.pad(image, 3)[None].repeat(2, 0) * 0.5, rng=rng)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", default=str(HERE / "data" / "mnist"), help="folder with the MNIST idx files")
    ap.add_argument("--index", type=int, default=0, help="first digit (0-9999)")
    ap.add_argument("--count", type=int, default=1, help="how many digits (more than 1 writes an .npz)")
    ap.add_argument("--encoding", choices=["saccade", "poisson"], default="saccade")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    images, labels = load_mnist(args.mnist)
    idx = range(args.index, args.index + args.count)
    if args.count == 1:
        ev = encode(images[args.index] / 255.0, args.encoding, args.index)
        save_events(args.output, ev)
        print(f"digit {args.index} (label {labels[args.index]}): {len(ev)} events over {ev['t'].max() / 1e3:.0f} ms "
              f"-> {args.output}")
        return
    arrays = {f"events_{i}": encode(images[i] / 255.0, args.encoding, i) for i in idx}
    np.savez(args.output, labels=labels[list(idx)], **arrays)
    print(f"{args.count} digits from {args.index} -> {args.output}")


if __name__ == "__main__":
    main()
