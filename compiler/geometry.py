"""Convolution geometry: one place for the formulas every stage shares (IR shape inference, the configuration
checks, the simulator, the training models, the bandwidth model)."""
from __future__ import annotations


def conv_output_size(n_in: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis of a convolution or pooling window:
    ``floor((n_in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1`` (torch's formula)."""
    return (int(n_in) + 2 * int(padding) - int(dilation) * (int(kernel) - 1) - 1) // int(stride) + 1
