"""Helpers that build small configuration dicts in the docs/config-format.md format, for tests.

``layer(...)`` takes torch-ordered arrays (weights [out, in, ky, kx], initial state [F, H, W]) and writes them in
the config's layouts ([out][in][x][y], [f][x][y]); ``config(...)`` assembles the nine cores and the rest.
"""
from __future__ import annotations

import numpy as np


def out_size(n_in: int, k: int, s: int, p: int) -> int:
    return (n_in + 2 * p - k) // s + 1


def unused_layer() -> dict:
    zero = {"size": {"x": 0, "y": 0}, "feature_count": 0}
    return {
        "dimensions": {"input_shape": dict(zero), "output_shape": dict(zero), "padding": {"x": 0, "y": 0},
                       "stride": {"x": 1, "y": 1}, "kernel_size": 1},
        "weights": [], "biases": [], "neurons_initial_value": [], "leak_enable": False,
        "leak_internal_slow_clk_enable": False, "threshold_high": 0, "threshold_low": -1, "return_to_zero": False,
        "monitor_enable": False,
        "destinations": [{"enable": False, "layer": 0, "pooling": 1, "feature_shift": 0} for _ in range(2)],
        "output_decimator_enable": False, "output_decimator_interval": 0, "input_congestion_balancer_enable": False,
    }


def layer(weights, input_hw, stride=1, padding=0, threshold_high=10, threshold_low=-1, return_to_zero=False,
          biases=None, v_init=None, leak=False, monitor=False, destinations=(), decimator=None) -> dict:
    """One used core.  ``destinations``: up to two (layer, pooling, feature_shift) tuples.  ``decimator``: the
    3-bit interval, or None for off."""
    w = np.asarray(weights, dtype=np.int64)
    F, C, k, k2 = w.shape
    assert k == k2
    ih, iw = input_hw
    oh, ow = out_size(ih, k, stride, padding), out_size(iw, k, stride, padding)
    v0 = np.zeros((F, oh, ow), np.int64) if v_init is None else np.asarray(v_init, np.int64)
    dests = [{"enable": True, "layer": int(l), "pooling": int(p), "feature_shift": int(s)} for l, p, s in destinations]
    dests += [{"enable": False, "layer": 0, "pooling": 1, "feature_shift": 0}] * (2 - len(dests))
    return {
        "dimensions": {"input_shape": {"size": {"x": iw, "y": ih}, "feature_count": C},
                       "output_shape": {"size": {"x": ow, "y": oh}, "feature_count": F},
                       "padding": {"x": padding, "y": padding}, "stride": {"x": stride, "y": stride},
                       "kernel_size": k},
        "weights": w.transpose(0, 1, 3, 2).tolist(),
        "biases": (np.zeros(F, np.int64) if biases is None else np.asarray(biases, np.int64)).tolist(),
        "neurons_initial_value": v0.transpose(0, 2, 1).tolist(),
        "leak_enable": bool(leak), "leak_internal_slow_clk_enable": False,
        "threshold_high": int(threshold_high), "threshold_low": int(threshold_low),
        "return_to_zero": bool(return_to_zero), "monitor_enable": bool(monitor), "destinations": dests,
        "output_decimator_enable": decimator is not None,
        "output_decimator_interval": 0 if decimator is None else int(decimator),
        "input_congestion_balancer_enable": False,
    }


def dvs_layer(destinations=(), merge=False, on=True, off=True, pooling=(1, 1), origin=(0, 0), cut=(127, 127),
              mirror=(False, False), mirror_diagonal=False, monitor=False) -> dict:
    dests = [{"enable": True, "layer": int(l)} for l in destinations]
    dests += [{"enable": False, "layer": 0}] * (2 - len(dests))
    return {"merge": merge, "on_channel": on, "off_channel": off, "pooling": {"x": pooling[0], "y": pooling[1]},
            "origin": {"x": origin[0], "y": origin[1]}, "cut": {"x": cut[0], "y": cut[1]},
            "mirror": {"x": mirror[0], "y": mirror[1]}, "mirror_diagonal": mirror_diagonal,
            "monitor_enable": monitor, "raw_monitor_enable": False, "pass_sensor_events": False,
            "destinations": dests}


def readout(enable=False, threshold=0, filter_disable=True, filter32=False) -> dict:
    return {"enable": enable, "threshold": threshold, "low_pass_filter_disable": filter_disable,
            "low_pass_filter32_not16": filter32, "output_mode_sel": 0, "readout_configuration_sel": 0,
            "override_threshold_max": False, "monitor_enable": False, "readout_pin_monitor_enable": False}


def config(cores: dict, input_cores=(0,), input_shape=None, source="core", dvs=None, readout_cfg=None,
           simulator=None) -> dict:
    """A whole configuration: ``cores`` maps core id -> layer dict; the rest are unused."""
    layers = [cores.get(i, unused_layer()) for i in range(9)]
    if input_shape is None and source == "core":
        d = cores[input_cores[0]]["dimensions"]["input_shape"]
        input_shape = [d["feature_count"], d["size"]["y"], d["size"]["x"]]
    outputs = [{"core": i, "name": f"core{i}"} for i, L in cores.items() if L["monitor_enable"]]
    return {
        "cnn_layers": layers,
        "dvs_layer": dvs if dvs is not None else dvs_layer(),
        "readout": readout_cfg if readout_cfg is not None else readout(),
        "snnc": {"format_version": 1, "target": "speck2f",
                 "source": {"path": "tests/configs.py", "sha256": "0" * 64, "format": "torch"},
                 "quantization": {"policy": "integer"},
                 "input": {"source": source, "shape": list(input_shape) if input_shape else [2, 128, 128],
                           "cores": list(input_cores) if source == "core" else []},
                 "outputs": outputs, "layers": [{"name": f"core{i}", "core": i} for i in sorted(cores)],
                 "simulator": simulator or {"overflow": "saturate", "leak_can_fire": False}},
    }
