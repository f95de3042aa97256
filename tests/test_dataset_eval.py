"""Event data sets in folders and `snnc evaluate --dataset`: layouts, the same predictions as `snnc simulate`
sample by sample from .bin and .npy folders, --workers 2 and a Dask local cluster identical to --workers 1."""
from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import snnc
from snnc.cli import main
from snnc.compiler.errors import SnncError
from snnc.runtime.datasets import open_dataset
from snnc.runtime.evaluation import evaluate_dataset
from snnc.runtime.events import make_events, save_events

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _encoder():
    spec = importlib.util.spec_from_file_location("encode_mnist", EXAMPLES / "encode_mnist.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def digit_folders(tmp_path_factory):
    """8 MNIST test digits as N-MNIST-like saccade events, once as .bin and once as .npy folders."""
    enc = _encoder()
    from snnc.runtime.training.data import load_mnist

    images, labels = load_mnist(EXAMPLES / "data" / "mnist")
    root = tmp_path_factory.mktemp("digits")
    for fmt in ("bin", "npy"):
        enc.write_dataset(root / fmt, images, labels, 0, 8, "saccade", fmt)
    return root / "bin", root / "npy"


def _ev(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return make_events(rng.integers(0, 34, n), rng.integers(0, 34, n), np.sort(rng.integers(0, 1000, n)),
                       rng.integers(0, 2, n))


def test_class_folders_by_index_take_the_classes_in_turn(tmp_path):
    for c, names in {"1": ["b10.npy", "b9.npy"], "0": ["a.bin"], "10": ["z.npy"]}.items():
        (tmp_path / c).mkdir()
        for n in names:
            save_events(tmp_path / c / n, _ev())
    (tmp_path / "0" / "notes.txt").write_text("not an event file")
    ds = open_dataset(tmp_path)
    assert [p.name for p in ds.files] == ["a.bin", "b9.npy", "z.npy", "b10.npy"]
    assert ds.labels.tolist() == [0, 1, 10, 1] and len(ds.classes) == 11


def test_classes_txt_names_the_folders_in_label_order(tmp_path):
    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        save_events(tmp_path / c / "s.npy", _ev())
    (tmp_path / "classes.txt").write_text("dog\ncat\n")
    ds = open_dataset(tmp_path)
    assert ds.classes == ["dog", "cat"] and [p.parent.name for p in ds.files] == ["dog", "cat"]
    assert ds.labels.tolist() == [0, 1]


def test_labels_csv_layout(tmp_path):
    save_events(tmp_path / "a.npy", _ev())
    save_events(tmp_path / "b.bin", _ev())
    (tmp_path / "labels.csv").write_text("file,label\na.npy,3\nb.bin,1\n")
    ds = open_dataset(tmp_path)
    assert [p.name for p in ds.files] == ["a.npy", "b.bin"] and ds.labels.tolist() == [3, 1]


@pytest.mark.parametrize("make, msg", [
    (lambda d: (d / "cats").mkdir(), "not a class index"),
    (lambda d: ((d / "Test").mkdir(), (d / "Train").mkdir()), "give the split's folder"),
    (lambda d: save_events(d / "x.npy", _ev()), "no class folders"),
    (lambda d: (d / "0").mkdir(), "holds no event files"),
    (lambda d: ((d / "0").mkdir(), (d / "classes.txt").write_text("zero\n")), "no folder of that name"),
    (lambda d: (d / "labels.csv").write_text("a.npy,1\n"), "not in"),
])
def test_bad_layouts_are_one_clear_error(tmp_path, make, msg):
    make(tmp_path)
    with pytest.raises(SnncError, match=msg):
        open_dataset(tmp_path)


def test_evaluate_bin_and_npy_folders_match_simulate_sample_by_sample(digit_folders, nir_cnn_config):
    bin_dir, npy_dir = digit_folders
    res_bin = evaluate_dataset(snnc.load_config(nir_cnn_config), bin_dir, workers=1)
    res_npy = evaluate_dataset(snnc.load_config(nir_cnn_config), npy_dir, workers=1)
    assert res_bin["samples"] == res_npy["samples"] == 8
    assert res_bin["chip_accuracy"] == res_npy["chip_accuracy"] >= 0.5
    preds = [r["prediction"] for r in res_bin["predictions"]]
    assert preds == [r["prediction"] for r in res_npy["predictions"]]
    ds = open_dataset(bin_dir)
    from snnc.runtime.simulator import Simulator

    sim = Simulator.from_config(nir_cnn_config)
    for path, pred in zip(ds.files, preds):  # snnc simulate's "most active feature"
        out = sim.run(snnc.load_events(path)).output_events
        assert int(np.argmax(np.bincount(out["feature"].astype(np.int64), minlength=10))) == pred
    assert sum(map(sum, res_bin["confusion"])) == 8
    assert res_bin["chip_accuracy"] == pytest.approx(np.trace(res_bin["confusion"]) / 8)


def test_two_workers_give_identical_results_in_order(digit_folders, nir_cnn_config):
    cfg = snnc.load_config(nir_cnn_config)
    one = evaluate_dataset(cfg, digit_folders[0], workers=1)
    two = evaluate_dataset(cfg, digit_folders[0], workers=2)
    assert one["predictions"] == two["predictions"] and one["confusion"] == two["confusion"]


def test_dask_local_cluster_gives_identical_results(digit_folders, nir_cnn_config):
    distributed = pytest.importorskip("distributed", reason="dask.distributed (snnc[dask]) runs --scheduler")
    cfg = snnc.load_config(nir_cnn_config)
    one = evaluate_dataset(cfg, digit_folders[0], limit=4, workers=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        viadask = evaluate_dataset(cfg, digit_folders[0], limit=4, scheduler=client)
        # the scheduler's address, as `--scheduler tcp://...` gives it
        viaaddr = evaluate_dataset(cfg, digit_folders[0], limit=4, scheduler=lc.scheduler_address)
    assert one["predictions"] == viadask["predictions"] == viaaddr["predictions"]
    assert viadask["workers"] == "dask"


def test_cli_evaluate_dataset_json_and_predictions_file(digit_folders, nir_cnn_config, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    assert main(["evaluate", str(nir_cnn_config), "--dataset", str(digit_folders[1]), "--limit", "5", "--json",
                 "--workers", "1", "-o", str(out)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert {"chip_accuracy", "samples", "per_class", "confusion", "events_per_sample", "seconds"} <= set(res)
    assert res["samples"] == 5
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and set(rows[0]) == {"index", "file", "label", "prediction", "input_events",
                                               "output_spikes"}
    assert main(["evaluate", str(nir_cnn_config), "--dataset", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["evaluate", str(nir_cnn_config)]) == 2
    assert "--dataset DIR" in capsys.readouterr().err
