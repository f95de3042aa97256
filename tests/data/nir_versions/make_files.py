"""Provenance: the files in this folder were written by this script under nir 1.0.4 and 1.0.8, one each:

    pip install --no-deps --target /tmp/nirX nir==X   # X = 1.0.4, 1.0.8 (numpy 2.x and h5py from the venv)
    PYTHONPATH=/tmp/nirX python tests/data/nir_versions/make_files.py

The same small graph every time (Input 2x10x10 -> Conv2d 4 -> IF -> SumPool2d 2 -> Flatten -> Affine 3 -> IF ->
Output), written with nir.write as a user of that version would; nir >= 1.0.6 adds v_reset = 0 to each IF.
nir 1.0.0 cannot write it under numpy 2: its Conv2d computes the output size with int() of a 1-element array
(TypeError), and without input_shape nir.write fails on the None (TypeError in h5py).
"""
from pathlib import Path

import nir
import numpy as np

HERE = Path(__file__).resolve().parent
VERSION = getattr(nir, "version", None) or nir.__version__


def graph():
    rng = np.random.default_rng(3)
    w = rng.uniform(-0.5, 1.0, (4, 2, 3, 3)).astype(np.float32)
    fc = rng.uniform(-0.2, 0.6, (3, 100)).astype(np.float32)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 10, 10])}),
        "conv": nir.Conv2d(input_shape=(10, 10), weight=w, stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                           groups=1, bias=np.zeros(4, dtype=np.float32)),
        "if1": nir.IF(r=np.ones((4, 10, 10), dtype=np.float32), v_threshold=np.full((4, 10, 10), 1.5, np.float32)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 5, 5])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=fc, bias=np.zeros(3, dtype=np.float32)),
        "if2": nir.IF(r=np.ones(3, dtype=np.float32), v_threshold=np.full(3, 2.0, np.float32)),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }
    order = ["input", "conv", "if1", "pool", "flat", "fc", "if2", "output"]
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])))


if __name__ == "__main__":
    nir.write(str(HERE / f"small_nir_{VERSION}.nir"), graph())
    print("wrote", HERE / f"small_nir_{VERSION}.nir")
