"""Each pass: a graph it must change, a graph it must leave alone, and its argument never modified."""
import numpy as np
import pytest
import torch

from snnc.compiler.chip import ChipLayer, ChipModel
from snnc.compiler.errors import Diagnostics
from snnc.compiler.ir import (IAF, AvgPool, BatchNorm, Conv2d, Flatten, Input, Linear, Output, ReLU, SumPool,
                              sequential)
from snnc.compiler.passes.chip_passes import clip_weights, strip_biases
from snnc.compiler.passes.graph_passes import (avgpool_to_sumpool, collapse_neuron_params, convert_ann,
                                               fold_batchnorm, lower_linear, merge_pools)
from snnc.compiler.pipeline import CompileOptions, PassContext
from snnc.targets import get_target

rng = np.random.default_rng(1)


def ctx(**opts):
    return PassContext(target=get_target("speck2f"), options=CompileOptions(**opts), diags=Diagnostics())


def kinds(g):
    return [g[n].kind for n in g.node_names()]


def test_fold_batchnorm_matches_torch_numerically():
    conv = torch.nn.Conv2d(3, 5, 3, padding=1, bias=True)
    bn = torch.nn.BatchNorm2d(5, eps=1e-3)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    bn.eval()
    x = torch.randn(1, 3, 6, 6)
    expected = bn(conv(x)).detach().numpy()
    g = sequential([Input("in", shape=(3, 6, 6)),
                    Conv2d("c", weight=conv.weight.detach().numpy(), bias=conv.bias.detach().numpy(), padding=1),
                    BatchNorm("bn", mean=bn.running_mean.numpy(), var=bn.running_var.numpy(),
                              weight=bn.weight.detach().numpy(), bias=bn.bias.detach().numpy(), eps=1e-3),
                    IAF("s"), Output("out")])
    before = kinds(g)
    c = ctx()
    out = fold_batchnorm(g, c)
    assert kinds(g) == before  # argument untouched
    assert kinds(out) == ["Input", "Conv2d", "IAF", "Output"]
    folded = out["c"]
    got = torch.nn.functional.conv2d(x.double(), torch.from_numpy(folded.weight), torch.from_numpy(folded.bias),
                                     padding=1).numpy()
    assert np.allclose(got, expected, atol=1e-5)
    assert c.folded == {"c": ["bn"]}


def test_fold_batchnorm_leaves_a_shared_producer_alone():
    g = sequential([Input("in", shape=(2, 4, 4)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"),
                    BatchNorm("bn", mean=np.zeros(2), var=np.ones(2)), Output("o")])
    assert kinds(fold_batchnorm(g, ctx())) == kinds(g)


def test_collapse_uniform_per_neuron_threshold_only():
    g = sequential([Input("in", shape=(2, 4, 4)), Conv2d("c", weight=np.ones((2, 2, 1, 1))),
                    IAF("s", threshold=np.full((2, 4, 4), 3.0)), Output("o")])
    out = collapse_neuron_params(g, ctx())
    assert out["s"].threshold.ndim == 0 and float(out["s"].threshold) == 3.0
    assert g["s"].threshold.ndim == 3
    g2 = sequential([Input("in", shape=(2, 4, 4)), Conv2d("c", weight=np.ones((2, 2, 1, 1))),
                     IAF("s", threshold=np.arange(32.0).reshape(2, 4, 4)), Output("o")])
    assert collapse_neuron_params(g2, ctx())["s"].threshold.ndim == 3


def test_lower_linear_absorbs_flatten_and_keeps_the_function():
    w = rng.normal(size=(7, 3 * 4 * 4))
    g = sequential([Input("in", shape=(3, 4, 4)), Flatten("flat"), Linear("fc", weight=w), IAF("s"), Output("o")])
    out = lower_linear(g, ctx())
    assert kinds(out) == ["Input", "Conv2d", "IAF", "Output"]
    x = rng.normal(size=(3, 4, 4))
    conv_out = np.einsum("ochw,chw->o", out["fc"].weight, x)
    assert np.allclose(conv_out, w @ x.reshape(-1))
    assert out.infer_shapes()["fc"] == (7, 1, 1)


def test_lower_linear_leaves_conv_models_alone():
    g = sequential([Input("in", shape=(2, 4, 4)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"), Output("o")])
    assert kinds(lower_linear(g, ctx())) == kinds(g)


def test_avgpool_becomes_sumpool_and_scales_next_weights():
    g = sequential([Input("in", shape=(2, 8, 8)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"),
                    AvgPool("avg", kernel=2), Conv2d("c2", weight=np.ones((2, 2, 1, 1))), IAF("s2"), Output("o")])
    out = avgpool_to_sumpool(g, ctx())
    assert out["avg"].kind == "SumPool" and np.allclose(out["c2"].weight, 0.25)
    assert np.allclose(g["c2"].weight, 1.0)


def test_avgpool_before_output_is_left_for_the_rule_check():
    g = sequential([Input("in", shape=(2, 8, 8)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"),
                    AvgPool("avg", kernel=2), Output("o")])
    assert avgpool_to_sumpool(g, ctx())["avg"].kind == "AvgPool"


def test_merge_pools_multiplies_kernels():
    g = sequential([Input("in", shape=(2, 8, 8)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"),
                    SumPool("p1", kernel=2), SumPool("p2", kernel=2), Output("o")])
    out = merge_pools(g, ctx())
    assert kinds(out) == ["Input", "Conv2d", "IAF", "SumPool", "Output"] and out["p1"].kernel == (4, 4)
    g2 = sequential([Input("in", shape=(2, 8, 8)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"),
                     SumPool("p1", kernel=2), Output("o")])
    assert kinds(merge_pools(g2, ctx())) == kinds(g2)


def test_convert_ann_only_when_asked():
    g = sequential([Input("in", shape=(2, 4, 4)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), ReLU("r"), Output("o")])
    assert kinds(convert_ann(g, ctx())) == kinds(g)
    out = convert_ann(g, ctx(convert_ann=True))
    assert out["r"].kind == "IAF" and out["r"].reset == "subtract" and float(out["r"].threshold) == 1.0


def chip_with(weight, bias=None, thr=1.0):
    layer = ChipLayer(name="L", weight=np.asarray(weight, float), bias=bias, stride=(1, 1), padding=(0, 0),
                      input_shape=(1, 1, 1), output_shape=(len(weight), 1, 1), threshold_high=thr, threshold_low=-1)
    return ChipModel(layers=[layer], input_shape=(1, 1, 1), input_targets=[0])


def test_clip_weights_clips_to_threshold_and_warns():
    chip = chip_with([[[[0.5]]], [[[2.5]]], [[[-3.0]]]])
    c = ctx()
    out = clip_weights(chip, c)
    assert out.layers[0].weight.reshape(-1).tolist() == [0.5, 1.0, -3.0]
    assert chip.layers[0].weight.max() == 2.5
    (w,) = c.diags.warnings
    assert w.rule == "clip" and "1 of 3" in w.message
    c2 = ctx(clip=False)
    assert clip_weights(chip, c2).layers[0].weight.max() == 2.5 and not c2.diags.items


@pytest.mark.parametrize("keep", [False, True])
def test_strip_biases(keep):
    chip = chip_with([[[[0.5]]]], bias=np.array([0.3]), thr=2.0)
    c = ctx(keep_biases=keep)
    out = strip_biases(chip, c)
    assert (out.layers[0].bias is not None) == keep
    (w,) = c.diags.warnings
    assert "0.15" in w.message  # 0.3 / 2.0
    zero = chip_with([[[[0.5]]]], bias=np.array([0.0]))
    c = ctx()
    assert strip_biases(zero, c).layers[0].bias is None and not c.diags.items


# -- passes on DAGs and the DVS layer ------------------------------------------------------------------------------
def _branches(pool_a, pool_b, flatten=False):
    """input -> c0 -> s0 -> (a -> sa -> pool_a | b -> sb -> pool_b) -> Add [-> Flatten each] -> Linear/conv."""
    from snnc.compiler.ir import Add, Graph

    g = Graph()
    g.add(Input("in", shape=(2, 8, 8)))
    g.add(Conv2d("c0", weight=np.ones((2, 2, 1, 1))), ["in"])
    g.add(IAF("s0"), ["c0"])
    ends = []
    for br, pool in (("a", pool_a), ("b", pool_b)):
        g.add(Conv2d(br, weight=np.ones((2, 2, 1, 1))), ["s0"])
        g.add(IAF(f"s{br}"), [br])
        end = f"s{br}"
        if pool is not None:
            g.add(pool, [end])
            end = pool.name
        if flatten:
            g.add(Flatten(f"f{br}"), [end])
            end = f"f{br}"
        ends.append(end)
    g.add(Add("add"), ends)
    if flatten:
        g.add(Linear("fc", weight=np.arange(3 * 32, dtype=float).reshape(3, 32)), ["add"])
    else:
        g.add(Conv2d("fc", weight=np.ones((3, 2, 3, 3))), ["add"])
    g.add(IAF("sfc"), ["fc"])
    g.add(Output("out"), ["sfc"])
    return g


def test_lower_linear_absorbs_the_flatten_of_every_merged_branch():
    g = _branches(SumPool("pa", kernel=2), SumPool("pb", kernel=2), flatten=True)
    out = lower_linear(g, ctx())
    assert "Flatten" not in kinds(out) and "Flatten" in kinds(g)
    fc = out["fc"]
    assert fc.kind == "Conv2d" and fc.weight.shape == (3, 2, 4, 4)
    assert np.array_equal(fc.weight.reshape(3, -1), g["fc"].weight)  # C, H, W order kept
    assert out.infer_shapes()["fc"] == (3, 1, 1)


def test_avgpool_through_a_merge_scales_once_or_names_both_branches():
    same = _branches(AvgPool("pa", kernel=2), AvgPool("pb", kernel=2))
    c = ctx()
    out = avgpool_to_sumpool(same, c)
    assert [out[n].kind for n in ("pa", "pb")] == ["SumPool", "SumPool"]
    assert np.allclose(out["fc"].weight, 0.25) and not c.diags.errors
    mixed = _branches(AvgPool("pa", kernel=2), SumPool("pb", kernel=2))
    c = ctx()
    avgpool_to_sumpool(mixed, c)
    (err,) = c.diags.errors
    assert err.rule == "pooling" and err.layer == "fc" and "sa" in err.message and "sb" in err.message
    untouched = _branches(SumPool("pa", kernel=2), SumPool("pb", kernel=2))
    assert avgpool_to_sumpool(untouched, ctx()) is untouched


def test_drop_identity_pools_removes_1x1_only():
    from snnc.compiler.passes.graph_passes import drop_identity_pools

    g = sequential([Input("in", shape=(2, 4, 4)), Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"),
                    AvgPool("p1", kernel=1), Output("o")])
    out = drop_identity_pools(g, ctx())
    assert kinds(out) == ["Input", "Conv2d", "IAF", "Output"] and "AvgPool" in kinds(g)
    keep = sequential([Input("in", shape=(2, 4, 4)), SumPool("p2", kernel=2), Output("o")])
    assert drop_identity_pools(keep, ctx()) is keep


def test_insert_dvs_and_absorb_its_pooling():
    from snnc.compiler.passes.dvs_passes import absorb_dvs_pooling, insert_dvs

    g = sequential([Input("in", shape=(2, 8, 8)), SumPool("p", kernel=(2, 4)),
                    Conv2d("c", weight=np.ones((2, 2, 1, 1))), IAF("s"), Output("o")])
    assert insert_dvs(g, ctx()) is g  # no DVS option, no DVS node
    with_dvs = insert_dvs(g, ctx(dvs_input=True))
    assert kinds(with_dvs)[:3] == ["Input", "DVS", "SumPool"] and with_dvs["in"].shape == (2, 8, 8)
    out = absorb_dvs_pooling(with_dvs, ctx())
    assert kinds(out)[:3] == ["Input", "DVS", "Conv2d"] and out["dvs"].pooling == (2, 4)
    assert out.infer_shapes()["dvs"] == (2, 4, 2)
    cropped = insert_dvs(g, ctx(dvs_crop=(0, 0, 7, 7)))  # a crop: the pooling after it stays
    assert cropped["in"].shape == (2, 128, 128)
    assert kinds(absorb_dvs_pooling(cropped, ctx()))[2] == "SumPool"
