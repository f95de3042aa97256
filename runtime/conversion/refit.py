"""Biases the chip can honour: re-fit a folded ANN so that no conv neuron has to fire on a blank input.

A chip neuron fires only when an input event reaches it, at most once per event; a leak tick moves its potential but
does not fire it (docs/speck.md §6: "an initial state at threshold did not fire until an input arrived").  A conv
neuron hears only its receptive field, so where the input is blank -- most of an MNIST digit, or of any event
camera's frame -- it receives nothing and stays silent.  A ReLU layer with a positive (folded) bias is active on a
blank input: after BatchNorm folding that is typically half or more of a CNN's conv neurons.  The ANN counts on that
activity and the chip cannot produce it, whatever the leak: on the BN+bias MNIST CNN of ``examples/convert_mnist.py``
the chip agrees with the ANN on 97.1 % of the test digits with biases as leak, and on 99.4 % when leak ticks are
allowed to fire (``--leak-can-fire``, which the chip is not known to do).

:func:`refit_biases` removes the cause.  A copy of the folded ANN (the student) is fine-tuned on the calibration
inputs to reproduce the ANN's logits (knowledge distillation: Hinton, Vinyals, Dean, "Distilling the knowledge in a
neural network", 2015; mean squared error on the logits, as in Ba and Caruana, 2014) and its hidden ReLU activations
(as in Romero et al., "FitNets: hints for thin deep nets", 2015: on the MNIST CNNs of the example this kept the
student's test accuracy 0.4-0.5 points closer to the ANN's than the logits alone), with every conv layer's bias held
at or below 0 (projected after each Adam step).  It runs torch on one thread: the tensors are small, and on a busy
machine a thread pool cost 15x (166 s against 11 s for the example's CNN).  With all conv biases <= 0 and a blank input giving no events,
every conv neuron is silent on a blank input in the ANN too, so the ANN no longer asks the chip for spikes without
input.  Negative biases remain (a leak that needs no event), and so do the Linear layers' biases (their neurons hear
every spike of the layer before).  Inputs are shifted by up to 2 pixels at random in every step (zeros fill in), so
a few hundred calibration samples go a long way.  The labels are not used: the ANN is the teacher.

:mod:`.convert` calibrates the student like any ANN and keeps it only when the chip, run on held-out calibration
samples, agrees with the original ANN at least as often as with the biases as leak or dropped.
"""
from __future__ import annotations

import time

import numpy as np

from snnc.compiler.ir import Conv2d, Graph

from .ann import run_graph

STEPS = 300
BATCH = 50
LR = 1e-3
MAX_SHIFT = 2


def blank_activity(graph: Graph, weights: list, neuron_of: dict, shape: tuple) -> dict:
    """``{conv layer: fraction of its neurons active on a blank (all-zero) input}`` for every conv layer with a
    ReLU; the neurons the chip cannot make fire."""
    x = np.zeros((1,) + tuple(shape), np.float32)
    keep = {neuron_of[w] for w in weights if neuron_of[w] and isinstance(graph[w], Conv2d)}
    if not keep:
        return {}
    res = run_graph(graph, x, keep)
    return {w: float((res[neuron_of[w]] > 0).float().mean()) for w in weights if neuron_of[w] in keep}


def _shift(xb, gen):
    """Each sample moved by up to MAX_SHIFT pixels in y and x (zeros fill in); inputs without two spatial axes of at
    least 8 stay as they are."""
    import torch

    if xb.ndim != 4 or min(xb.shape[2:]) < 8:
        return xb
    out = torch.zeros_like(xb)
    h, w = xb.shape[2:]
    d = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (len(xb), 2), generator=gen).tolist()
    for i, (dy, dx) in enumerate(d):
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        out[i, :, yd, xd] = xb[i, :, ys, xs]
    return out


def _mse(a, b):
    """Mean squared error relative to the target's variance (every layer weighs alike whatever its scale)."""
    return ((a - b) ** 2).mean() / b.detach().var().clamp_min(1e-6)


def refit_biases(graph: Graph, weights: list, logits: str, x: np.ndarray, hidden: list = (), seed: int = 0,
                 steps: int = STEPS, progress=None) -> tuple[Graph, dict]:
    """The student graph (conv biases <= 0, fine-tuned to the ANN's logits and hidden activations on ``x``) and
    figures for the report: ``{"steps", "samples", "seconds", "agreement"}`` (how often the student's argmax equals
    the ANN's on ``x``).  ``hidden``: the ReLU nodes whose outputs the student also matches."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _refit(graph, weights, logits, x, list(hidden), seed, steps, progress)
    finally:
        torch.set_num_threads(threads)


def _refit(graph, weights, logits, x, hidden, seed, steps, progress):
    import torch

    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(int(seed))
    xt = torch.as_tensor(np.asarray(x, np.float32))
    params, conv_bias = {}, []
    for w in weights:
        node = graph[w]
        wt = torch.nn.Parameter(torch.as_tensor(np.asarray(node.weight), dtype=torch.float32).clone())
        b = node.bias if node.bias is not None else np.zeros(len(node.weight))
        bt = torch.nn.Parameter(torch.as_tensor(np.asarray(b), dtype=torch.float32).clone())
        params[w] = (wt, bt)
        if isinstance(node, Conv2d):
            conv_bias.append(bt)

    def project():
        with torch.no_grad():
            for b in conv_bias:
                b.clamp_(max=0.0)

    keep = {logits, *hidden}

    def forward(xb, p=None):
        return run_graph(graph, xb, keep, params=p)

    teacher = forward(xt)[logits].flatten(1).numpy().argmax(1)  # params=None: the ANN itself, no gradients
    project()
    opt = torch.optim.Adam([t for pair in params.values() for t in pair], lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    n = len(xt)
    for step in range(steps):
        idx = torch.randint(0, n, (min(BATCH, n),), generator=gen)
        xb = _shift(xt[idx], gen)
        target, out = forward(xb), forward(xb, params)
        loss = _mse(out[logits], target[logits])
        for h in hidden:
            loss = loss + _mse(out[h], target[h]) / len(hidden)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        project()
        if progress is not None and (step + 1) % 100 == 0:
            progress(f"    re-fit step {step + 1}/{steps}: loss {float(loss.detach()):.4f}")
    student = graph.copy()
    with torch.no_grad():
        for w, (wt, bt) in params.items():
            node = student[w].copy()
            node.weight = wt.detach().numpy().astype(np.float64)
            node.bias = bt.detach().numpy().astype(np.float64)
            student.replace(w, node)
        preds = run_graph(student, xt, {logits})[logits].flatten(1).numpy().argmax(1)
    figures = {"steps": int(steps), "samples": int(n), "seconds": time.perf_counter() - t0,
               "agreement": float(np.mean(preds == teacher))}
    return student, figures
