"""Convolution geometry: one place for the formulas every stage shares (IR shape inference, the configuration
checks, the simulator, the training models, the bandwidth model): output sizes and synaptic fan-out."""
from __future__ import annotations

import numpy as np


def conv_output_size(n_in: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis of a convolution or pooling window:
    ``floor((n_in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1`` (torch's formula)."""
    return (int(n_in) + 2 * int(padding) - int(dilation) * (int(kernel) - 1) - 1) // int(stride) + 1


def axis_fanout(n_in: int, n_out: int, kernel: int, stride: int, padding: int) -> np.ndarray:
    """For every input coordinate along one axis, how many output coordinates its event touches."""
    x = np.arange(n_in)[:, None] + padding
    o = np.arange(n_out)[None, :] * stride
    d = x - o
    return ((d >= 0) & (d < kernel)).sum(axis=1)


def synops_fanout(input_shape, output_shape, kernel_size, stride, padding) -> float:
    """Synaptic operations one input event causes in a conv layer, averaged over input positions (exact geometry,
    borders and padding included): output channels x mean touched rows x mean touched columns.  Away from the
    borders this is docs/speck.md §7's ``C_out * kx * ky / (sx * sy)``."""
    _, hin, win = (int(v) for v in input_shape)
    cout, hout, wout = (int(v) for v in output_shape)
    kh, kw = kernel_size
    (sy, sx), (py, px) = stride, padding
    fy = axis_fanout(hin, hout, kh, int(sy), int(py)).mean() if hin else 0.0
    fx = axis_fanout(win, wout, kw, int(sx), int(px)).mean() if win else 0.0
    return float(cout * fy * fx)
