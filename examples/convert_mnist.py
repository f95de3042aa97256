"""Train two ReLU CNNs on MNIST, convert them with `snnc convert`, and measure them on the simulated chip.

* ``bn``: 4 conv + 3 linear layers, BatchNorm after every layer but the last, biases everywhere, AvgPool.
* ``nobias``: the same layers without biases or BatchNorm.

Data (the MNIST test set shipped in examples/data/mnist): train on images 0-7999, calibrate on ``--calibration`` of
them, test on 1,000 others (8000-8999; ``--test-start`` moves the test block, ``--arch stride`` trains a CNN that
downsamples by strided convolutions instead of AvgPool).  Each ANN is saved as a whole torch module, converted
(``snnc convert ANN --input-shape 1,28,28 --calibration calib.npz``) and evaluated
(``snnc evaluate SNN --data test.npz --ann ANN``): Poisson input, 100 ms, 250 Hz for a white pixel.

    python examples/convert_mnist.py                  # training ~50 s per epoch on 2 idle cores
    python examples/convert_mnist.py --seed 1 --arch stride --test-start 0 --kinds bn --out /tmp/cm1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

HERE = Path(__file__).resolve().parent


def make_ann(kind: str, width: int = 16, arch: str = "pool") -> nn.Sequential:
    """``arch="pool"``: 4 conv (two AvgPools) + 3 linear; ``arch="stride"``: 5 conv, downsampling by stride 2, +
    2 linear."""
    bias = kind == "bn"

    def block(layer, n, dim=2):
        if kind != "bn":
            return [layer, nn.ReLU()]
        return [layer, (nn.BatchNorm2d if dim == 2 else nn.BatchNorm1d)(n), nn.ReLU()]

    c1, c2 = width, 2 * width
    if arch == "stride":
        layers = (block(nn.Conv2d(1, c1, 3, padding=1, bias=bias), c1)                             # 16 x 28 x 28
                  + block(nn.Conv2d(c1, c2, 3, stride=2, padding=1, bias=bias), c2)                # 32 x 14 x 14
                  + block(nn.Conv2d(c2, c2, 3, padding=1, bias=bias), c2)                          # 32 x 14 x 14
                  + block(nn.Conv2d(c2, c2, 3, stride=2, padding=1, bias=bias), c2)                # 32 x 7 x 7
                  + block(nn.Conv2d(c2, c2, 3, stride=2, padding=1, bias=bias), c2)                # 32 x 4 x 4
                  + [nn.Flatten()]
                  + block(nn.Linear(c2 * 16, 64, bias=bias), 64, 1) + [nn.Dropout(0.2)]
                  + [nn.Linear(64, 10, bias=bias)])
        return nn.Sequential(*layers)
    layers = (block(nn.Conv2d(1, c1, 3, padding=1, bias=bias), c1) + [nn.AvgPool2d(2)]        # 16 x 14 x 14
              + block(nn.Conv2d(c1, c2, 3, padding=1, bias=bias), c2) + [nn.AvgPool2d(2)]     # 32 x 7 x 7
              + block(nn.Conv2d(c2, c2, 3, padding=1, bias=bias), c2)                          # 32 x 7 x 7
              + block(nn.Conv2d(c2, c2, 3, stride=2, padding=1, bias=bias), c2)                # 32 x 4 x 4
              + [nn.Flatten()]
              + block(nn.Linear(c2 * 16, 64, bias=bias), 64, 1) + [nn.Dropout(0.2)]
              + block(nn.Linear(64, 64, bias=bias), 64, 1)
              + [nn.Linear(64, 10, bias=bias)])
    return nn.Sequential(*layers)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(x) + 63) // 64))
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        t0, total = time.perf_counter(), 0.0
        for a in range(0, len(x), 64):
            i = perm[a:a + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[i]), yt[i])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(i)
        print(f"  epoch {ep + 1}/{epochs}: loss {total / len(x):.4f} ({time.perf_counter() - t0:.1f} s)", flush=True)
    model.eval()


def run_snnc(argv: list[str]) -> str:
    """Run an snnc command in this process and return what it printed on stdout."""
    import contextlib
    import io

    from snnc.cli import main

    print("$ snnc " + " ".join(argv), flush=True)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    if rc != 0:
        sys.stdout.write(buf.getvalue())
        raise SystemExit(f"snnc {argv[0]} failed (exit {rc})")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="convert_mnist_out", help="folder for the models and data (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--calibration", type=int, default=500, help="calibration images (from the training images)")
    ap.add_argument("--test", type=int, default=1000, help="test images, from 8000 on")
    ap.add_argument("--kinds", default="bn,nobias")
    ap.add_argument("--max-rate", type=float, default=250.0)
    ap.add_argument("--duration-ms", type=float, default=100.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arch", default="pool", choices=["pool", "stride"], help="pool: 4 conv + 2 AvgPool + 3 "
                    "linear (default); stride: 5 conv downsampling by stride + 2 linear")
    ap.add_argument("--test-start", type=int, default=8000, help="first test image (default 8000); the other "
                    "8,000 of images 0-8999 (wrapping around) are the training images")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from snnc.runtime.training.data import load_mnist

    images, labels = load_mnist(HERE / "data" / "mnist")
    x = (images.astype(np.float32) / 255.0)[:, None]
    y = labels.astype(np.int64)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    test_idx = np.arange(args.test_start, args.test_start + args.test) % 9000
    train_idx = np.setdiff1d(np.arange(9000), test_idx)[:8000]
    calib_idx = np.sort(rng.choice(train_idx, args.calibration, replace=False))
    np.savez(out / "calib.npz", x=x[calib_idx], y=y[calib_idx])
    np.savez(out / "test.npz", x=x[test_idx], y=y[test_idx])
    results = {}
    for kind in args.kinds.split(","):
        torch.manual_seed(args.seed)
        print(f"== {kind} ({args.arch}): training on {len(train_idx)} images, testing on images {test_idx[0]}-"
              f"{test_idx[-1]} ({args.epochs} epochs)", flush=True)
        t0 = time.perf_counter()
        ann = make_ann(kind, arch=args.arch)
        train(ann, x[train_idx], y[train_idx], args.epochs, args.seed)
        t_train = time.perf_counter() - t0
        ann_path, snn_path = out / f"{kind}_ann.pt", out / f"{kind}_snn.pt"
        torch.save(ann, ann_path)
        enc = ["--max-rate", str(args.max_rate), "--duration-ms", str(args.duration_ms)]
        t0 = time.perf_counter()
        print(run_snnc(["convert", str(ann_path), "--input-shape", "1,28,28", "--calibration",
                        str(out / "calib.npz"), *enc, "-o", str(snn_path)]), flush=True)
        t_conv = time.perf_counter() - t0
        res = json.loads(run_snnc(["evaluate", str(snn_path), "--data", str(out / "test.npz"), "--ann",
                                   str(ann_path), "--json"]))
        res.update(train_seconds=round(t_train, 1), convert_seconds=round(t_conv, 1))
        results[kind] = res
        print(f"{kind}: ANN {100 * res['ann_accuracy']:.2f} %  chip {100 * res['chip_accuracy']:.2f} %  "
              f"({res['events_per_sample']:.0f} input events per digit, {res['samples']} test digits; "
              f"training {t_train:.0f} s, conversion {t_conv:.0f} s)", flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print("\n| ANN | ANN accuracy | chip accuracy | input events per digit |")
    print("|---|---|---|---|")
    for kind, r in results.items():
        print(f"| {kind} | {100 * r['ann_accuracy']:.2f} % | {100 * r['chip_accuracy']:.2f} % | "
              f"{r['events_per_sample']:.0f} |")


if __name__ == "__main__":
    main()
