"""The Speck configuration file: build it from a compiled model, write it, read it back and check it.

The format is samna's ``SpeckConfiguration`` as JSON plus an ``snnc`` section (``docs/config-format.md``).  Chip
numbers (ranges, core count, poolings, decimator ratios, event-layer ids) come from the target in
``targets/speck.py``.  One module per job:

* ``build.py`` -- :func:`build_config`: a quantized :class:`~snnc.compiler.pipeline.CompileResult` -> config dict.
* ``text.py`` -- :func:`dumps_config` (deterministic text: fixed key order, integer arrays on one line each) and
  :func:`write_config` (checks the dict as :func:`load_config` does, then writes it atomically);
  :func:`build_and_write_config` (what ``snnc compile`` does: builds with numpy arrays, checks and writes them).
* ``arraytext.py`` -- the JSON text of an integer numpy array, made with numpy (weights, biases, initial states).
* ``load.py`` -- :func:`load_config`: a path or dict -> the checked dict; the schema, then the chip's rules, every
  problem reported in one SnncError naming each field.
"""
from __future__ import annotations

from ...compiler.fileio import atomic_write  # noqa: F401  (re-exported: callers import it from here)
from .build import (FORMAT_VERSION, SIMULATOR_DEFAULTS, build_config, cnn_layer_config, dvs_layer_config,
                    readout_config, unused_cnn_layer)
from .load import check_config, config_schema, load_config
from .text import build_and_write_config, dumps_config, write_config

__all__ = ["FORMAT_VERSION", "SIMULATOR_DEFAULTS", "build_config", "build_and_write_config", "dumps_config",
           "write_config", "atomic_write",
           "load_config", "check_config", "config_schema", "cnn_layer_config", "dvs_layer_config", "readout_config",
           "unused_cnn_layer"]
