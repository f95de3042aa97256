"""A test double of samna's configuration objects (not samna, which is closed source and not installable here),
for tests of ``snnc.targets.samna_adapter``: plain slotted objects whose fields start as None, so a field the adapter
forgets stays None and a misspelt one raises AttributeError."""
from __future__ import annotations

import types


# A TEST DOUBLE of samna's configuration classes (not samna): plain slotted objects whose fields start as None, so
# a field the adapter forgets stays None and a misspelt one raises AttributeError.
class _Obj:
    __slots__ = ()

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def as_dict(self):
        def conv(v):
            if isinstance(v, _Obj):
                return v.as_dict()
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v
        return {k: conv(getattr(self, k)) for k in self.__slots__}


def _cls(name, fields):
    return type(name, (_Obj,), {"__slots__": tuple(fields)})


XY = _cls("XY", ["x", "y"])
Shape = _cls("Shape", ["size", "feature_count"])
Dims = _cls("Dims", ["input_shape", "output_shape", "padding", "stride", "kernel_size"])
CNNDest = _cls("CNNDest", ["enable", "layer", "pooling", "feature_shift"])
DVSDest = _cls("DVSDest", ["enable", "layer"])
CNN = _cls("CNN", ["dimensions", "weights", "biases", "neurons_initial_value", "leak_enable",
                   "leak_internal_slow_clk_enable", "threshold_high", "threshold_low", "return_to_zero",
                   "monitor_enable", "destinations", "output_decimator_enable", "output_decimator_interval",
                   "input_congestion_balancer_enable"])
DVS = _cls("DVS", ["merge", "on_channel", "off_channel", "pooling", "origin", "cut", "mirror", "mirror_diagonal",
                   "monitor_enable", "raw_monitor_enable", "pass_sensor_events", "destinations"])
Readout = _cls("Readout", ["enable", "threshold", "low_pass_filter_disable", "low_pass_filter32_not16",
                           "output_mode_sel", "readout_configuration_sel", "override_threshold_max",
                           "monitor_enable", "readout_pin_monitor_enable"])
SpeckCfg = _cls("SpeckConfiguration", ["cnn_layers", "dvs_layer", "readout"])


def fake_samna(valid=(True, ""), module: str = "speck2f", config_class: str = "SpeckConfiguration"):
    """``samna.<module>`` with ``configuration.<config_class>``, ``validate_configuration`` and
    ``configuration_to_flash_binary`` (fakes); ``samna.seen`` lists the configurations validated."""
    def new_cfg():
        def shape():
            return Shape(size=XY())
        return SpeckCfg(
            cnn_layers=[CNN(dimensions=Dims(input_shape=shape(), output_shape=shape(), padding=XY(), stride=XY()),
                            destinations=[CNNDest(), CNNDest()]) for _ in range(9)],
            dvs_layer=DVS(pooling=XY(), origin=XY(), cut=XY(), mirror=XY(), destinations=[DVSDest(), DVSDest()]),
            readout=Readout())

    samna = types.SimpleNamespace()
    seen = []
    setattr(samna, module, types.SimpleNamespace(
        configuration=types.SimpleNamespace(**{config_class: new_cfg}),
        validate_configuration=lambda cfg: (seen.append(cfg), valid)[1],
        configuration_to_flash_binary=lambda cfg: b"FLASH" + bytes([len(cfg.cnn_layers)])))
    samna.seen = seen
    return samna
