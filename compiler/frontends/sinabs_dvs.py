"""Stand-ins used to *unpickle* sinabs' DVS-layer classes from a ``.pt`` file without importing
``sinabs.backend.dynapcnn`` (whose package imports samna at import time -- and the PyPI ``samna`` is an installer
shim that must never be imported).

``torch.load(weights_only=True)`` builds each allow-listed class from its stored attributes; these classes receive
sinabs' ``DVSLayer`` / ``Crop2d`` / ``FlipDims`` attributes under sinabs' names and run nothing.  The torch
frontend reads the same attributes from a real sinabs ``DVSLayer`` (a model passed as an object) or from these.
"""
from __future__ import annotations

import torch.nn as nn


class DVSLayer(nn.Module):
    """Holds sinabs' ``DVSLayer`` state: ``input_shape``, ``merge_polarities``, ``disable_pixel_array``,
    ``pool_layer`` (SumPool2d), ``crop_layer`` and ``flip_layer``."""

    def forward(self, x):  # pragma: no cover - never run; snnc reads the attributes
        raise RuntimeError("snnc's DVSLayer stand-in only carries sinabs' settings")


class Crop2d(nn.Module):
    """sinabs' ``Crop2d`` state: ``top_crop``, ``bottom_crop``, ``left_crop``, ``right_crop`` (end exclusive)."""

    def forward(self, x):  # pragma: no cover
        return x[:, :, self.top_crop:self.bottom_crop, self.left_crop:self.right_crop]


class FlipDims(nn.Module):
    """sinabs' ``FlipDims`` state: ``flip_x``, ``flip_y``, ``swap_xy``."""

    def forward(self, x):  # pragma: no cover
        return x


#: sinabs' full class names -> the stand-ins that receive them when unpickling.
SUBSTITUTES = {
    "sinabs.backend.dynapcnn.dvs_layer.DVSLayer": DVSLayer,
    "sinabs.backend.dynapcnn.crop2d.Crop2d": Crop2d,
    "sinabs.backend.dynapcnn.flipdims.FlipDims": FlipDims,
}
