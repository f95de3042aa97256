"""Reference figures: the same ANN through SpikingJelly's ann2snn (float, time-stepped), for docs/conversion.md.

SpikingJelly is a reference tool here, never a dependency of snnc.  Install it apart from the project, e.g.

    pip install --no-deps --target /tmp/sj spikingjelly loguru
    PYTHONPATH=/tmp/sj python benchmarks/spikingjelly_ann2snn.py convert_mnist_out/bn_ann.pt \
        convert_mnist_out/calib.npz convert_mnist_out/test.npz --steps 25,50,100

``RateCodingRecipe(mode="99.9%")`` folds BatchNorm, calibrates each ReLU's 99.9th activation percentile on the
calibration set and replaces it by a float IF neuron (soft reset) with scaled weights.  The SNN then runs ``T``
time steps with either the analog image as a constant input current each step (SpikingJelly's own protocol) or
Bernoulli spikes with probability x per step (a rate code like snnc's Poisson input: at most T input spikes per
pixel; T = 25 matches snnc's 250 Hz x 100 ms).  The prediction is the output with the largest summed output.
"""
from __future__ import annotations

import argparse
import copy
import json

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ann", help="the ANN (.pt, a whole torch module)")
    ap.add_argument("calibration", help=".npz with x")
    ap.add_argument("test", help=".npz with x, y")
    ap.add_argument("--steps", default="25", help="comma-separated time-step counts")
    ap.add_argument("--mode", default="99.9%")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from spikingjelly.activation_based import ann2snn, functional

    torch.set_num_threads(2)
    ann = torch.load(args.ann, weights_only=False).eval()  # our own file; a reference script
    cal = np.load(args.calibration)
    test = np.load(args.test)
    xc = torch.from_numpy(cal["x"])
    xt, yt = torch.from_numpy(test["x"]), torch.from_numpy(test["y"])
    loader = [(xc[a:a + 100], torch.zeros(len(xc[a:a + 100]))) for a in range(0, len(xc), 100)]
    with torch.no_grad():
        ann_acc = float((ann(xt).argmax(1) == yt).float().mean())
    snn = ann2snn.FXConverter(recipe=ann2snn.RateCodingRecipe(dataloader=loader, mode=args.mode)).convert(
        copy.deepcopy(ann))
    snn.eval()
    out = {"ann_accuracy": ann_acc, "mode": args.mode, "samples": int(len(xt)), "results": []}
    g = torch.Generator().manual_seed(args.seed)
    for T in [int(t) for t in args.steps.split(",")]:
        for inp in ("analog", "bernoulli"):
            correct = 0
            events = 0.0
            with torch.no_grad():
                for a in range(0, len(xt), 200):
                    x = xt[a:a + 200]
                    functional.reset_net(snn)
                    acc = 0
                    for _ in range(T):
                        s = x if inp == "analog" else torch.bernoulli(x, generator=g)
                        events += float(s.sum()) if inp == "bernoulli" else 0.0
                        acc = acc + snn(s)
                    correct += int((acc.argmax(1) == yt[a:a + 200]).sum())
            r = {"T": T, "input": inp, "accuracy": correct / len(xt)}
            if inp == "bernoulli":
                r["input_spikes_per_sample"] = events / len(xt)
            out["results"].append(r)
            print(json.dumps(r), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
