"""The configuration's fast paths (issue 14): the compiled schema check (fastjsonschema) gives jsonschema's verdict,
integer arrays are read and written in C exactly as the Python paths would, and the bytes `snnc compile` writes did
not change (pinned from main before the fast paths)."""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snnc
from snnc.targets.config import load as config_load
from snnc.targets.config import text as config_text
from snnc.targets.config.load import config_schema

ROOT = Path(__file__).resolve().parents[1]
#: sha256 of `snnc compile examples/nmnist_cnn.nir --target speck2f -o cnn.json` (run in the repository root), as
#: main wrote it before the fast paths (commit 0c3c746)
NMNIST_CNN_SHA256 = "2f6aa786bcd83d08e04bb318f4262d84992a2b391357153cf20893cd4bdd836c"


def _strict_validator():
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    return jsonschema.validators.extend(base, type_checker=checker)(config_schema())


@pytest.fixture(scope="module")
def nmnist_config(tmp_path_factory):
    import os

    out = tmp_path_factory.mktemp("cfg") / "cnn.json"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        cfg = snnc.compile("examples/nmnist_cnn.nir", target="speck2f", output=out)
    finally:
        os.chdir(cwd)
    return cfg, out


def test_compiled_bytes_are_unchanged(nmnist_config):
    _, out = nmnist_config
    assert hashlib.sha256(out.read_bytes()).hexdigest() == NMNIST_CNN_SHA256


def test_emitted_configuration_passes_the_full_schema(nmnist_config):
    cfg, out = nmnist_config
    validator = _strict_validator()
    assert list(validator.iter_errors(cfg)) == []
    assert list(validator.iter_errors(json.loads(out.read_text()))) == []
    # and the text is what the plain json module writes for the same dict
    assert config_text.dumps_config(cfg) == out.read_text()


def _paths(x, prefix=()):
    """Every path into the configuration's structure (big number arrays count as leaves)."""
    yield prefix
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(x, list) and x and isinstance(x[0], dict):
        for i, v in enumerate(x):
            yield from _paths(v, prefix + (i,))


VALUES = st.one_of(st.integers(-3, 300), st.sampled_from([1.0, 2.5, True, False, None, "x", [], {}, [1, 2],
                                                           {"x": 1}, 2 ** 70, -1]))


@pytest.fixture(scope="module")
def small_config(nmnist_config):
    cfg = copy.deepcopy(nmnist_config[0])
    for layer in cfg["cnn_layers"]:  # keep the copies small: the schema looks at these arrays' type only
        for key in ("weights", "neurons_initial_value"):
            if layer[key]:
                layer[key] = [[[1]]]
    return cfg


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fast_schema_check_agrees_with_jsonschema(small_config, data):
    cfg = copy.deepcopy(small_config)
    paths = [p for p in _paths(cfg) if p]
    for _ in range(data.draw(st.integers(1, 2))):
        path = data.draw(st.sampled_from(paths))
        parent = cfg
        try:
            for k in path[:-1]:
                parent = parent[k]
            action = data.draw(st.sampled_from(["set", "delete", "add"]))
            if action == "set":
                parent[path[-1]] = data.draw(VALUES)
            elif action == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent["unexpected_" + str(path[-1])] = 1
            elif isinstance(parent, list):
                parent.append(data.draw(VALUES))
        except (KeyError, IndexError, TypeError):
            pass
    import fastjsonschema

    try:
        config_load._fast_validator()(cfg)
        fast_ok = True
    except fastjsonschema.JsonSchemaException:
        fast_ok = False
    assert fast_ok == (not list(_strict_validator().iter_errors(cfg)))


NESTED = st.integers(1, 4).flatmap(lambda d: st.lists(st.integers(1, 3), min_size=d, max_size=d)).flatmap(
    lambda shape: st.builds(lambda v: np.asarray(v, np.int64).reshape(shape).tolist(),
                            st.lists(st.integers(-2 ** 40, 2 ** 40), min_size=int(np.prod(shape)),
                                     max_size=int(np.prod(shape)))))


@settings(max_examples=100, deadline=None)
@given(value=NESTED)
def test_fast_array_reading_equals_numpy(value):
    a = np.array(value)
    zeros = np.zeros_like(a).tolist()  # the all-zeros shortcut (initial states)
    assert np.array_equal(config_load._int_array_fast(zeros, a.ndim), np.zeros_like(a))
    fast = config_load._int_array_fast(value, a.ndim)
    assert fast is not None and fast.dtype == np.int64 and np.array_equal(fast, a)
    assert config_load._int_array_fast(value, a.ndim + 1) is None


@pytest.mark.parametrize("value, ndim", [
    ([[1, 2], [3]], 2), ([[1, True]], 2), ([[1, 2.0]], 2), ([[1, "2"]], 2), ([[1, None]], 2), ([1, 2 ** 60], 1),
    ([[1, [2]]], 2), ([], 1), ([[]], 2), ([1, -0.0], 1), ([[1, 2], 3], 2), ([0, 0.0], 1), ([[0, 0], [0, False]], 2)])
def test_fast_array_reading_leaves_everything_else_to_the_slow_path(value, ndim):
    assert config_load._int_array_fast(value, ndim) is None


@settings(max_examples=100, deadline=None)
@given(value=st.one_of(NESTED, st.lists(st.one_of(st.integers(-2 ** 70, 2 ** 70), st.booleans(), st.none(),
                                                  st.floats(allow_nan=False, allow_infinity=False),
                                                  st.text(max_size=3)), max_size=5)))
def test_number_arrays_are_written_as_json_writes_them(value):
    assert config_text._number_array(value) == json.dumps(value, separators=(",", ":"), allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(value=st.dictionaries(st.text(max_size=4), st.one_of(st.integers(-2 ** 70, 2 ** 70), st.booleans(), st.none(),
                                                          st.floats(allow_nan=False, allow_infinity=False),
                                                          st.text(max_size=3)), max_size=4))
def test_small_objects_are_written_as_json_writes_them(value):
    text = json.dumps(value, separators=(", ", ": "), allow_nan=False)
    assert config_text._short(value) == (text if len(text) <= 80 else None)
    for v in value.values():
        assert config_text._scalar(v) == json.dumps(v, allow_nan=False)


def test_arrays_and_lists_are_checked_and_written_alike(tmp_path):
    """build_config(arrays=True), what `snnc compile` writes from, gives the list form's bytes; its arrays are held to
    the same rules, with the same messages."""
    from snnc.compiler.errors import SnncError
    from snnc.targets.compile import run_pipeline
    from snnc.targets.config import build_and_write_config, build_config, dumps_config, load_config, write_config

    result = run_pipeline(str(ROOT / "examples" / "nmnist_cnn.nir"), None, until="quantize")
    cfg = build_and_write_config(result, tmp_path / "a.json")
    kept = build_and_write_config(result, tmp_path / "b.json", lists=False)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.json").read_text() == dumps_config(load_config(tmp_path / "a.json")) == dumps_config(cfg)
    assert dumps_config(kept) == dumps_config(cfg) == dumps_config(build_config(result))
    core = cfg["snnc"]["layers"][0]["core"]
    assert isinstance(cfg["cnn_layers"][core]["weights"], list)
    assert isinstance(kept["cnn_layers"][core]["weights"], np.ndarray)
    for key, index, value, words in [("weights", (0, 0, 0, 0), 300, r"weights\[0\]\[0\]\[0\]\[0\] = 300 is outside int8"),
                                     ("neurons_initial_value", (1, 2, 0), -40000, r"neurons_initial_value\[1\]\[2\]\[0\] = "
                                                                                  r"-40000 is outside int16")]:
        for form in ("arrays", "lists"):
            built = build_config(result, arrays=form == "arrays")
            a = np.array(built["cnn_layers"][core][key])
            a[index] = value
            built["cnn_layers"][core][key] = a if form == "arrays" else a.tolist()
            with pytest.raises(SnncError, match=words):
                write_config(built, tmp_path / "c.json")
    built = build_config(result, arrays=True)
    built["cnn_layers"][core]["weights"] = built["cnn_layers"][core]["weights"][:, :, :2]
    with pytest.raises(SnncError, match=r"weights has shape .*; dimensions say"):
        write_config(built, tmp_path / "c.json")
    built["cnn_layers"][core]["weights"] = np.zeros((1,), np.float64)
    with pytest.raises(SnncError, match="weights"):
        write_config(built, tmp_path / "c.json")
    with pytest.raises(SnncError, match="is not of type 'array'"):  # load_config reads JSON values only
        load_config(build_config(result, arrays=True))
    assert not (tmp_path / "c.json").exists()


INT_ARRAYS = st.integers(1, 4).flatmap(lambda d: st.lists(st.integers(1, 4), min_size=d, max_size=d)).flatmap(
    lambda shape: st.tuples(st.just(tuple(shape)), st.sampled_from([(0, 0), (-1, 1), (-128, 127), (-32768, 32767),
                                                                   (5, 9), (-10 ** 9, 10 ** 9), (-2 ** 62, 2 ** 62)]),
                            st.integers(0, 2 ** 32 - 1), st.sampled_from(["int64", "int8", "int16", "uint8"])))


@settings(max_examples=200, deadline=None)
@given(case=INT_ARRAYS)
def test_integer_arrays_are_written_as_json_writes_them(case):
    from snnc.targets.config.arraytext import int_array_text

    shape, (lo, hi), seed, dtype = case
    info = np.iinfo(dtype)
    lo, hi = max(lo, info.min), min(hi, info.max)
    a = np.random.default_rng(seed).integers(lo, hi, shape, endpoint=True).astype(dtype)
    assert int_array_text(a) == json.dumps(a.tolist(), separators=(",", ":"))
    assert int_array_text(a.transpose()) == json.dumps(a.transpose().tolist(), separators=(",", ":"))


@settings(max_examples=100, deadline=None)
@given(value=st.dictionaries(st.text(max_size=9), st.one_of(st.integers(-9, 9), st.booleans(), st.none()),
                             min_size=5, max_size=14))
def test_bigger_objects_are_written_as_json_writes_them(value):
    text = json.dumps(value, separators=(", ", ": "), allow_nan=False)
    assert config_text._short(value) == (text if len(text) <= 80 else None)
