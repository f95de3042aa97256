"""Training with reset to zero (Qualia-SNN's default ``IFNode``, SpikingJelly's ``v_reset = 0.0``) learns as well as
with subtract reset on the same budget (issue 21: 32 % float / 15 % chip against 95.5 / 94.7 % after 3 MNIST epochs).

A small Qualia-SNN SCNN (two conv layers of 4 and 8 channels) on 1000 of the MNIST digits shipped in
examples/data/mnist, 3 epochs (float, then integer weights), evaluated on 500 other digits, once per reset mode.
Before the fix the reset-to-zero run reached 0.60 against 0.74 with subtract reset; after it, 0.73."""
from __future__ import annotations

from pathlib import Path

from snnc.runtime.training.config import load_train_config
from snnc.runtime.training.train import train_model

MNIST = Path(__file__).resolve().parents[1] / "examples" / "data" / "mnist"

QUALIA = """
[bench]
name = "reset"
seed = 42
[learningframework]
kind = "SpikingJelly"
[dataset]
kind = "MNIST"
params.path = "{mnist}"
[model_template]
kind = "SCNN"
epochs = 3
batch_size = 32
params.timesteps = 4
params.dims = 2
params.paddings = [1, 1]
params.strides = [1, 1]
params.dropouts = 0
params.fc_units = []
[model_template.optimizer]
kind = "Adam"
params.lr = 0.004
[[model]]
name = "small"
params.filters = [4, 8]
params.kernel_sizes = [3, 3]
params.pool_sizes = [2, 2]
[model.params.neuron]
kind = "IFNode"
params.v_threshold = 1.0
{reset}
"""


def _accuracy(tmp_path: Path, reset_line: str) -> tuple[str, float]:
    folder = tmp_path / ("zero" if not reset_line else "subtract")
    folder.mkdir()
    toml = folder / "q.toml"
    toml.write_text(QUALIA.format(mnist=MNIST.as_posix(), reset=reset_line))
    cfg = load_train_config(toml)
    cfg.dataset["train"], cfg.dataset["eval"] = [0, 999], [8000, 8499]
    cfg.train["threads"] = 1
    cfg.output["metrics"] = folder / "m.csv"
    _, rows = train_model(cfg, progress=False)
    assert rows[-1]["quantized"] == 1  # the last epoch trains (and evaluates) the chip's integers
    return cfg.neuron["reset"], rows[-1]["eval_accuracy"]


def test_reset_to_zero_trains_as_well_as_subtract_reset(tmp_path):
    mode_zero, zero = _accuracy(tmp_path, "")  # v_reset not given: SpikingJelly's default, reset to 0.0
    mode_sub, sub = _accuracy(tmp_path, "params.v_reset = false")
    assert (mode_zero, mode_sub) == ("zero", "subtract")
    assert sub > 0.6, sub  # the budget does train (chance is 0.1)
    assert zero >= sub - 0.04, (zero, sub)
