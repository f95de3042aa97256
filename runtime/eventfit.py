"""Fitting recorded events to a model's input: ``--crop X0,Y0,W,H`` and ``--downsample N``.

A recording from a 320x240 camera does not fit a 2x34x34 input.  :func:`check_fits` says so in one line naming
the sensor size, the input shape and the fix.  :func:`fit_to_program` applies crop (in sensor pixels: keep
``X0 <= x < X0 + W``, ``Y0 <= y < Y0 + H``, shift to 0, 0) and then downsampling (``x // N``, ``y // N``):

* by the chip, when the configuration takes its input from the DVS layer (``snnc compile --dvs-input``) and the
  DVS layer can express it: pooling N in 1, 2, 4, the crop origin a multiple of N, and the cropped, pooled size
  equal to what the first core expects; the simulator's DVS layer is then set up that way (``dvs_layer.pooling``,
  ``origin``, ``cut``), and the note says which values to put in the configuration;
* in software otherwise (input straight to a core: the chip cannot crop or pool it), before the simulator.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from snnc.compiler.errors import SnncError


def parse_crop(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    try:
        vals = [int(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4 or vals[0] < 0 or vals[1] < 0 or vals[2] < 1 or vals[3] < 1:
        raise SnncError(f"--crop: expected X0,Y0,W,H (origin >= 0, width and height >= 1), e.g. 143,103,34,34; "
                        f"got {text!r}")
    return tuple(vals)  # type: ignore[return-value]


def check_downsample(n: int | None) -> int | None:
    if n is not None and n < 1:
        raise SnncError(f"--downsample: N must be >= 1, got {n}")
    return n


def software_fit(events: np.ndarray, crop=None, downsample=None) -> np.ndarray:
    """Crop (sensor pixels), then divide coordinates by ``downsample``; events outside the crop are dropped."""
    ev = events
    if crop is not None:
        x0, y0, w, h = crop
        keep = (ev["x"] >= x0) & (ev["x"] < x0 + w) & (ev["y"] >= y0) & (ev["y"] < y0 + h)
        ev = ev[keep].copy()
        ev["x"] -= x0
        ev["y"] -= y0
    if downsample and downsample > 1:
        ev = ev.copy() if ev is events else ev
        ev["x"] //= downsample
        ev["y"] //= downsample
    return ev


def _suggest(span, input_hw) -> str:
    (sw, sh), (h, w) = span, input_hw
    x0, y0 = max((sw - w) // 2, 0), max((sh - h) // 2, 0)
    n = max(-(-sw // w), -(-sh // h), 1)
    return (f"--crop {x0},{y0},{w},{h} (the centre) or --downsample {n} (gives {-(-sw // n)}x{-(-sh // n)}), "
            f"or both")


def check_fits(events: np.ndarray, input_shape, what: str, sensor_size=None, dvs: bool = False) -> None:
    """One clear error when ``events`` do not fit ``input_shape`` (C, H, W)."""
    c, h, w = (int(s) for s in input_shape)
    if not len(events):
        return
    span = (int(events["x"].max()) + 1, int(events["y"].max()) + 1)
    p_max = int(events["p"].max())
    if span[0] <= w and span[1] <= h and p_max < c:
        return
    if p_max >= c and span[0] <= w and span[1] <= h:
        raise SnncError(f"{what}: events have p up to {p_max}, the input has {c} channel(s) (input shape C,H,W = "
                        f"{c},{h},{w}); p is the polarity or input channel")
    size = f"sensor {sensor_size[0]}x{sensor_size[1]}, " if sensor_size else ""
    where = "the chip's DVS input" if dvs else "the model's input"
    i = int(np.argmax((events["x"] >= w) | (events["y"] >= h)))
    raise SnncError(f"{what}: event {i} has x={int(events['x'][i])}, y={int(events['y'][i])}: the events span "
                    f"{span[0]}x{span[1]} pixels ({size}W x H), larger than {where} "
                    f"{c}x{h}x{w} (C,H,W); fit them with {_suggest(span, (h, w))}")


def fit_to_program(events: np.ndarray, program, crop=None, downsample=None):
    """Apply crop/downsample for a simulator's ``program`` (a parsed configuration).

    Returns ``(events, program, note)``: ``program`` is a copy with the DVS layer set up when the chip does the
    work, ``note`` one line saying who did it (None when nothing was asked)."""
    if crop is None and not downsample:
        return events, program, None
    n = downsample or 1
    dvs = getattr(program, "dvs", None)
    if program.input_source == "dvs" and dvs is not None:
        size = (dvs.cut[0] - dvs.origin[0] + 1, dvs.cut[1] - dvs.origin[1] + 1)  # what the cores expect (x, y)
        x0, y0, w, h = crop if crop is not None else (0, 0, size[0] * n, size[1] * n)
        sensor = program.input_shape[1:]
        ok = (n in (1, 2, 4) and x0 % n == 0 and y0 % n == 0 and (w // n, h // n) == size
              and w % n == 0 and h % n == 0 and x0 + w <= sensor[1] and y0 + h <= sensor[0])
        if ok:
            o = (x0 // n, y0 // n)
            new = dataclasses.replace(dvs, pooling=(n, n), origin=o, cut=(o[0] + size[0] - 1, o[1] + size[1] - 1))
            prog = dataclasses.replace(program, dvs=new)
            return events, prog, (f"crop/downsample done by the chip's DVS layer: dvs_layer.pooling = {n}, "
                                  f"origin = ({o[0]}, {o[1]}), cut = ({new.cut[0]}, {new.cut[1]}); set these in "
                                  "the configuration to deploy it")
        why = ("the DVS layer pools by 1, 2 or 4 only, crops at multiples of the pooling, and must give the "
               f"{size[0]}x{size[1]} its first core expects")
    else:
        why = "the input goes straight to a core, which cannot crop or pool; compile with --dvs-input to use the DVS layer"
    parts = ([f"crop {','.join(map(str, crop))}"] if crop is not None else []) + \
            ([f"downsample {n}"] if n > 1 else [])
    return software_fit(events, crop, n), program, f"{' and '.join(parts)} done in software ({why})"


def events_for_simulator(sim, source, crop=None, downsample=None, what: str | None = None):
    """Read ``source`` (an event file, a recording or an array), fit it to ``sim``'s input and check it.

    Returns ``(events, note)`` and sets ``sim.program`` to the DVS-layer set-up when the chip does the fitting."""
    from .events import load_events

    from .eventio import EventRecording, read_recording

    if isinstance(source, EventRecording):
        rec = source
    elif isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        rec = read_recording(source)
    else:
        rec = EventRecording(np.asarray(source), None, "array")
    what = what or (str(rec.path) if rec.path is not None else "events")
    ev = load_events(rec.events, what=what)
    ev, prog, note = fit_to_program(ev, sim.program, crop, downsample)
    sim.program = prog
    check_fits(ev, prog.input_shape, what, rec.sensor_size, dvs=prog.input_source == "dvs")
    return ev, note
