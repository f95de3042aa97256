"""snnc: compile trained spiking neural networks for SynSense Speck.

The public API is thin: it calls into ``snnc.compiler``, ``snnc.targets`` and ``snnc.runtime``.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .api import check, compile, load, load_config, load_events, simulate, train  # noqa: E402

__all__ = ["__version__", "load", "check", "compile", "load_config", "load_events", "simulate", "train"]
