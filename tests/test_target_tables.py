"""One table of chips and boards (targets/speck.py): the help texts, ``Target.aliases`` and the samna adapter's
device names are built from it; the adapter reads what a chip has from its ``Target``."""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from snnc.cli import build_parser
from snnc.compiler.errors import SnncError
from snnc.targets import samna_adapter, speck
from snnc.targets.speck import BOARDS, DEFAULT_BOARD, DEFAULT_TARGET, TARGETS, get_target

from samna_double import fake_samna

ROOT = Path(__file__).resolve().parents[1]


def _help(*argv) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    p = sub.choices[argv[0]]
    return p.format_help()


def test_boards_agree_with_sinabs_device_names(sinabs_dynapcnn):
    """samna's device type names as sinabs (a SynSense package) knows them, for every board both name."""
    from sinabs.backend.dynapcnn.io import device_types

    ours = samna_adapter.DEVICE_TYPE_NAMES
    common = set(ours) & set(device_types)
    assert common >= {"speck2fmodule", "speck2fdevkit", "speck2edevkit"}
    for name in common:
        assert ours[name] == device_types[name], name
    assert ours["speck2etestboard"] == device_types["speck2e"]  # sinabs calls the test board "speck2e"


def test_every_board_carries_a_known_chip_and_is_a_target_alias():
    for b in BOARDS:
        assert b.target in TARGETS and get_target(b.name) is TARGETS[b.target]
        assert b.name in TARGETS[b.target].aliases
    assert sorted(a for t in TARGETS.values() for a in t.aliases) == sorted(b.name for b in BOARDS)
    assert set(samna_adapter.DEVICE_TYPE_NAMES) == {b.name for b in BOARDS if b.samna_device_type}
    assert DEFAULT_TARGET in TARGETS and DEFAULT_BOARD in samna_adapter.DEVICE_TYPE_NAMES


@pytest.mark.parametrize("command", ["check", "compile", "report", "convert", "evaluate"])
def test_target_help_names_every_chip_and_board(command):
    text = " ".join(_help(command).split())
    for name in [*TARGETS, *(b.name for b in BOARDS)]:
        assert name in text, (command, name)
    assert f"{DEFAULT_TARGET} (default)" in text


def test_device_help_names_every_deployable_board():
    text = " ".join(_help("deploy").split())
    for name in samna_adapter.DEVICE_TYPE_NAMES:
        assert name in text
    assert f"default {DEFAULT_BOARD}:0" in text


def test_default_target_and_board_names_are_written_once_in_the_code():
    """`git grep`: chip and board names appear as strings only in the tables of targets/speck.py; the default target
    is assigned once and everything else reads DEFAULT_TARGET / DEFAULT_BOARD."""
    def grep(pattern, fixed=True):
        out = subprocess.run(["git", "grep", "-n", "-F" if fixed else "-E", pattern, "--", "compiler", "runtime",
                              "targets", "snnc"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
        return [ln.split(":")[0] for ln in out.splitlines() if ln.split(":")[0].endswith(".py")]
    for name in [*TARGETS, *(b.name for b in BOARDS)]:
        assert set(grep(f'"{name}"')) == {"targets/speck.py"}, name
        assert set(grep(f"'{name}'")) <= {"targets/speck.py"}, name
    assert grep("DEFAULT_TARGET =") == ["targets/speck.py"] and grep("DEFAULT_BOARD =") == ["targets/speck.py"]


def _graph():
    import numpy as np

    from snnc.compiler.ir import IAF, Conv2d, Input, Output, sequential

    return sequential([Input("input", shape=(2, 8, 8)), Conv2d("c", weight=np.full((4, 2, 3, 3), 0.2),
                                                               padding=(1, 1)),
                       IAF("s", threshold=1.0), Output("output")])


def _config():
    import snnc

    return snnc.compile(_graph())


def test_adapter_reads_the_configuration_class_and_readout_from_the_target(monkeypatch):
    config = _config()
    t = dataclasses.replace(TARGETS[DEFAULT_TARGET], samna_module="speckx", samna_configuration_class="XConf",
                            has_readout=False)
    monkeypatch.setitem(TARGETS, DEFAULT_TARGET, t)
    monkeypatch.setattr(speck, "BOARDS", speck.BOARDS)
    fake = fake_samna(module="speckx", config_class="XConf")
    cfg = samna_adapter.apply_to_samna(config, samna=fake)
    assert cfg.as_dict()["cnn_layers"] == config["cnn_layers"]
    assert all(v is None for v in cfg.as_dict()["readout"].values())  # a chip without readout: left alone
    with pytest.raises(SnncError, match="no samna.speckx.configuration.XConf"):
        samna_adapter.apply_to_samna(config, samna=fake_samna(module="speckx"))


def _no_readout_target(monkeypatch):
    """A test-only chip: the default one without a readout layer, under its own name."""
    t = dataclasses.replace(TARGETS[DEFAULT_TARGET], name="noreadout", has_readout=False)
    monkeypatch.setitem(TARGETS, t.name, t)
    return t


def test_a_chip_without_readout_gets_a_configuration_without_readout(monkeypatch):
    import numpy as np

    import snnc
    from snnc.runtime.eventio.layout import EVENT_DTYPE
    from snnc.runtime.simulator import Simulator
    from snnc.targets.config import readout_config

    with_readout = _config()
    t = _no_readout_target(monkeypatch)
    g = _graph()
    config = snnc.compile(g, target=t.name)
    assert "readout" not in config and config["snnc"]["target"] == t.name
    assert snnc.load_config(config) is config
    assert config["cnn_layers"] == with_readout["cnn_layers"]  # the same chip otherwise
    rng = np.random.default_rng(0)
    ev = np.zeros(60, EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = rng.integers(0, 8, 60), rng.integers(0, 8, 60), rng.integers(0, 2, 60), \
        np.arange(60) * 5
    got = Simulator.from_config(config, reference=True).run(ev)
    want = Simulator.from_config(with_readout, reference=True).run(ev)
    assert len(want.output_events) > 0
    assert np.array_equal(got.output_events, want.output_events) and got.readout is None
    # the loader holds a configuration to what its chip has
    assert snnc.load_config(dict(config, readout=readout_config(False)))  # a disabled one does nothing
    with pytest.raises(SnncError, match="readout.enable is true, but noreadout has no readout layer"):
        snnc.load_config(dict(config, readout=readout_config(True)))
    with pytest.raises(SnncError, match="no readout section; speck2f has a readout layer"):
        snnc.load_config({k: v for k, v in with_readout.items() if k != "readout"})
    # and --readout is refused for it, with the fix
    with pytest.raises(SnncError, match="--readout: noreadout has no readout layer; remove --readout"):
        snnc.compile(_graph(), target=t.name, readout=True)
    with pytest.raises(SnncError, match="--readout: noreadout has no readout layer"):
        snnc.check(_graph(), target=t.name, readout=True)
