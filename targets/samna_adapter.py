"""Copy an snnc configuration onto SynSense's samna objects, where the real samna is installed.

samna is closed source.  The package of that name on the public registry is only an installer shim: importing it
runs pip against SynSense's own index, which fails (after trying) on machines without that access.  So this module
never imports samna to find out whether it is there: :func:`real_samna_available` looks at the installed package's
files without running them, and samna is imported only after that says yes.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from ..compiler.errors import SnncError
from .speck import DEFAULT_BOARD, deployable_boards, get_target

SHIM_MARKER = "PYPI_SAMNA"  # text found in the registry shim's __init__.py
_EXTENSIONS = ("*.so", "*.pyd", "*.dylib")

CNN_SCALARS = ("leak_enable", "leak_internal_slow_clk_enable", "threshold_high", "threshold_low", "return_to_zero",
               "monitor_enable", "output_decimator_enable", "output_decimator_interval",
               "input_congestion_balancer_enable")
CNN_ARRAYS = ("weights", "biases", "neurons_initial_value")
DVS_SCALARS = ("merge", "on_channel", "off_channel", "mirror_diagonal", "monitor_enable", "raw_monitor_enable",
               "pass_sensor_events")
DVS_XY = ("pooling", "origin", "cut", "mirror")
READOUT_SCALARS = ("enable", "threshold", "low_pass_filter_disable", "low_pass_filter32_not16", "output_mode_sel",
                   "readout_configuration_sel", "override_threshold_max", "monitor_enable",
                   "readout_pin_monitor_enable")

# samna's ``device_type_name`` of each board it can open, from the one table of boards (targets/speck.py: BOARDS)
DEVICE_TYPE_NAMES = deployable_boards()

MISSING = ("samna is not installed (the `samna` package on PyPI is only an installer shim); install SynSense's "
           "samna >= 0.46 from SynSense's package index to use the hardware")


def real_samna_available() -> bool:
    """True when a real samna (a compiled extension, not the registry's installer shim) is importable.

    Looks at the files only: ``importlib.util.find_spec`` locates the package without running it.
    """
    try:
        spec = importlib.util.find_spec("samna")
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    folders = [Path(p) for p in (spec.submodule_search_locations or [])]
    origin = Path(spec.origin) if spec.origin and spec.origin not in ("built-in", "frozen", "namespace") else None
    if origin is not None and origin.suffix in (".so", ".pyd"):
        return True  # samna itself is an extension module
    if origin is not None and not folders:
        folders = [origin.parent]
    for folder in folders:
        init = folder / "__init__.py"
        try:
            if init.is_file() and SHIM_MARKER in init.read_text(encoding="utf-8", errors="replace"):
                return False
        except OSError:
            continue
        for pattern in _EXTENSIONS:
            if any(folder.glob(pattern)) or any(folder.glob(f"*/{pattern}")):
                return True
    return False


def _samna():
    if not real_samna_available():
        raise SnncError(MISSING)
    return importlib.import_module("samna")


def _chip_module(samna, config: dict):
    target = get_target(config["snnc"]["target"])
    mod = getattr(samna, target.samna_name, None)
    if mod is None:
        raise SnncError(f"this samna has no module for {target.name} (samna.{target.samna_name}); update samna "
                        "(>= 0.46)")
    return mod


def _set_xy(obj, name: str, value: dict) -> None:
    sub = getattr(obj, name)
    sub.x, sub.y = value["x"], value["y"]
    setattr(obj, name, sub)  # samna may hand out copies: write the sub-object back


def _set_shape(obj, name: str, value: dict) -> None:
    sub = getattr(obj, name)
    _set_xy(sub, "size", value["size"])
    sub.feature_count = value["feature_count"]
    setattr(obj, name, sub)


def _apply_cnn_layer(layer, cfg: dict) -> None:
    dims = layer.dimensions
    _set_shape(dims, "input_shape", cfg["dimensions"]["input_shape"])
    _set_shape(dims, "output_shape", cfg["dimensions"]["output_shape"])
    _set_xy(dims, "padding", cfg["dimensions"]["padding"])
    _set_xy(dims, "stride", cfg["dimensions"]["stride"])
    dims.kernel_size = cfg["dimensions"]["kernel_size"]
    layer.dimensions = dims
    for key in CNN_ARRAYS + CNN_SCALARS:
        setattr(layer, key, cfg[key])
    dests = layer.destinations
    for k, d in enumerate(cfg["destinations"]):
        dst = dests[k]
        dst.enable, dst.layer, dst.pooling, dst.feature_shift = d["enable"], d["layer"], d["pooling"], d["feature_shift"]
        dests[k] = dst
    layer.destinations = dests


def _apply_dvs(dvs, cfg: dict) -> None:
    for key in DVS_SCALARS:
        setattr(dvs, key, cfg[key])
    for key in DVS_XY:
        _set_xy(dvs, key, cfg[key])
    dests = dvs.destinations
    for k, d in enumerate(cfg["destinations"]):
        dst = dests[k]
        dst.enable, dst.layer = d["enable"], d["layer"]
        dests[k] = dst
    dvs.destinations = dests


def apply_to_samna(config: dict, samna=None):
    """Build ``samna.<target>.configuration.<Target.samna_configuration_class>`` from a config dict and validate it
    with samna.

    Every field of ``cnn_layers``, ``dvs_layer`` (when ``Target.has_dvs``) and ``readout`` (when
    ``Target.has_readout``) is set.  ``samna`` defaults to the installed real
    samna (SnncError when there is none); samna's own validation failing is a SnncError with its message.
    """
    from .config import load_config

    samna = samna if samna is not None else _samna()
    config = load_config(config)
    chip = _chip_module(samna, config)
    target = get_target(config["snnc"]["target"])
    cls = getattr(chip.configuration, target.samna_configuration_class, None)
    if cls is None:
        raise SnncError(f"this samna has no samna.{target.samna_name}.configuration."
                        f"{target.samna_configuration_class}; update samna (>= 0.46)")
    cfg = cls()
    layers = cfg.cnn_layers
    for i, layer_cfg in enumerate(config["cnn_layers"]):
        layer = layers[i]
        _apply_cnn_layer(layer, layer_cfg)
        layers[i] = layer
    cfg.cnn_layers = layers
    if target.has_dvs:
        dvs = cfg.dvs_layer
        _apply_dvs(dvs, config["dvs_layer"])
        cfg.dvs_layer = dvs
    if target.has_readout:
        readout = cfg.readout
        for key in READOUT_SCALARS:
            setattr(readout, key, config["readout"][key])
        cfg.readout = readout
    result = chip.validate_configuration(cfg)
    ok, message = result if isinstance(result, tuple) else (bool(result), "")
    if not ok:
        raise SnncError(f"samna rejected the configuration: {message or 'no reason given'}")
    return cfg


def flash_binary(config: dict, samna=None) -> bytes:
    """The flash image samna makes of the configuration (``configuration_to_flash_binary``)."""
    samna = samna if samna is not None else _samna()
    cfg = apply_to_samna(config, samna)
    data = _chip_module(samna, config).configuration_to_flash_binary(cfg)
    return bytes(data)


def parse_device(text: str) -> tuple[str, int]:
    """``"NAME:1"`` -> ("NAME", 1); the index defaults to 0."""
    name, _, index = text.partition(":")
    try:
        return name.strip(), int(index) if index else 0
    except ValueError:
        raise SnncError(f"--device {text!r}: expected NAME[:INDEX], e.g. {DEFAULT_BOARD}:0") from None


def deploy(config: dict, device: str = f"{DEFAULT_BOARD}:0", samna=None) -> str:
    """Open the board named ``device`` and apply the configuration; returns a line saying what was done."""
    from .config import load_config

    config = load_config(config)
    name, index = parse_device(device)
    key = name.lower()
    if key not in DEVICE_TYPE_NAMES:
        raise SnncError(f"--device {device!r}: unknown board; known boards: {', '.join(DEVICE_TYPE_NAMES)}")
    chip = get_target(key).name
    if chip != config["snnc"]["target"]:
        raise SnncError(f"the configuration was compiled for {config['snnc']['target']}, the board {name} carries a "
                        f"{chip}; recompile with --target {chip}")
    samna = samna if samna is not None else _samna()
    cfg = apply_to_samna(config, samna)
    try:
        found = [d for d in samna.device.get_all_devices()
                 if getattr(d, "device_type_name", None) == DEVICE_TYPE_NAMES[key]]
    except Exception as e:  # samna's own errors carry no common base class
        raise SnncError(f"samna could not list devices: {e}") from None
    if index >= len(found):
        raise SnncError(f"no {name} board number {index} is connected ({len(found)} found); check the USB cable "
                        "and `samna.device.get_all_devices()`")
    try:
        board = samna.device.open_device(found[index])
        board.get_model().apply_configuration(cfg)
    except Exception as e:
        raise SnncError(f"applying the configuration to {name}:{index} failed: {e}") from None
    return f"configuration applied to {name}:{index}"


__all__ = ["real_samna_available", "apply_to_samna", "flash_binary", "deploy", "parse_device", "SHIM_MARKER"]
