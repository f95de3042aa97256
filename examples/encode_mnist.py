"""Turn MNIST digits into input events for `snnc simulate` (N-MNIST-like saccades, or Poisson rate coding).

    python examples/encode_mnist.py --index 0 -o digit0.npy                 # one digit, 34x34 saccade events
    python examples/encode_mnist.py --index 8000 --count 100 -o eval.npz    # many digits: events_0..., labels
    python examples/encode_mnist.py --dataset nmnist_like --count 200       # an N-MNIST-like data-set folder:
                                                   # nmnist_like/<label>/<index>.bin (--format npy for .npy files)

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


def write_dataset(out: Path, images, labels, first: int, count: int, how: str, fmt: str) -> None:
    """MNIST test digits first..first+count-1 as event files OUT/<label>/<index>.<fmt> (seeded by the index, so
    the .bin and the .npy folder hold the same events)."""
    out.mkdir(parents=True, exist_ok=True)
    n_events = 0
    for i in range(first, first + count):
        ev = encode(images[i] / 255.0, how, i)
        folder = out / str(int(labels[i]))
        folder.mkdir(exist_ok=True)
        save_events(folder / f"{i:05d}.{fmt}", ev)
        n_events += len(ev)
    print(f"{count} digits from {first} -> {out}/<label>/<index>.{fmt} ({n_events / count:.0f} events per digit)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", default=str(HERE / "data" / "mnist"), help="folder with the MNIST idx files")
    ap.add_argument("--index", type=int, default=0, help="first digit (0-9999)")
    ap.add_argument("--count", type=int, default=1, help="how many digits (more than 1 writes an .npz)")
    ap.add_argument("--encoding", choices=["saccade", "poisson"], default="saccade")
    ap.add_argument("-o", "--output", help="output file (one digit: .npy or .bin; several: .npz)")
    ap.add_argument("--dataset", metavar="OUT", help="write a data-set folder OUT/<label>/<index>.<format> instead "
                    "(the layout of N-MNIST's Test/ folder; `snnc evaluate MODEL --dataset OUT`)")
    ap.add_argument("--format", choices=["bin", "npy"], default="bin", help="--dataset: N-MNIST .bin records "
                    "(default) or .npy arrays")
    args = ap.parse_args()
    if bool(args.output) == bool(args.dataset):
        ap.error("give -o OUTPUT or --dataset OUT")
    images, labels = load_mnist(args.mnist)
    if args.index < 0 or args.count < 1 or args.index + args.count > len(labels):
        ap.error(f"--index/--count must select digits within 0..{len(labels) - 1}")
    if args.dataset:
        write_dataset(Path(args.dataset), images, labels, args.index, args.count, args.encoding, args.format)
        return
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
