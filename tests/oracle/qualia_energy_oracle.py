"""Reference figures for tests/test_energy_qualia.py from qualia-plugin-snn 2.6.0 (AGPL-3.0), run as an oracle only.

NOT part of snnc and not imported by it or by the tests.  Run it in a separate virtual environment that has
qualia-plugin-snn 2.6.0 (and qualia-core, qualia-codegen-core/-plugin-snn, spikingjelly, torch 2.13.0 CPU):

    python3 -m venv /tmp/qualia-oracle
    /tmp/qualia-oracle/bin/pip install torch==2.13.0            # the CPU wheel first
    /tmp/qualia-oracle/bin/pip install qualia-plugin-snn==2.6.0 qualia-core==2.6.0 qualia-codegen-core==2.6.0 \
        qualia-codegen-plugin-snn==2.6.0 spikingjelly==2.0.0   # the versions that wrote tests/data/*.json
    /tmp/qualia-oracle/bin/python tests/oracle/qualia_energy_oracle.py oracle.json

For each network it builds Qualia-SNN's own model (``SCNN`` template, IFNode), converts it with Qualia's own graph
converter (``TorchModelGraph`` with the layer table of ``EnergyEstimationMetric._process_model``), moves the IF
neurons' spike counts onto the preceding Conv/Linear node as ``_process_model`` does, and calls
``EnergyEstimationMetric._compute_model_energy_snn`` with per-layer spike counts chosen here (binary spikes), for every
combination of ``op_estimation_type`` (add = mul = ICONIP, saturation, linear, quadratic) and
``sram_estimation_type`` (old, new).  It writes JSON (the file named by its argument): per layer theta_in / theta_out (spikes per inference) and the
six energy terms in pJ (Qualia's unit) for each combination.
"""
import json
import sys
import logging
import math

import torch

logging.disable(logging.CRITICAL)

from qualia_codegen_core.graph.layers import TConvLayer, TDenseLayer, TInputLayer  # noqa: E402
from qualia_codegen_plugin_snn.graph import TorchModelGraph  # noqa: E402
from qualia_codegen_plugin_snn.graph.layers import TIfLayer  # noqa: E402
from qualia_plugin_snn.learningmodel.pytorch.SCNN import SCNN  # noqa: E402
from qualia_plugin_snn.postprocessing.EnergyEstimationMetric import EnergyEstimationMetric  # noqa: E402
import spikingjelly.activation_based.layer as sjl  # noqa: E402
import spikingjelly.activation_based.neuron as sjn  # noqa: E402
import spikingjelly.activation_based.functional as sjf  # noqa: E402

NETWORKS = {
    # the configuration: MNIST 1x28x28, filters [16, 32], kernels 3, paddings 1, pools 2 (Qualia: max), no fc
    "issue_scnn": dict(input_shape=(28, 28, 1), output_shape=(10,), filters=[16, 32], kernel_sizes=[3, 3],
                       paddings=[1, 1], strides=[1, 1], pool_sizes=[2, 2], dropouts=0, fc_units=[], timesteps=4),
    # strided convs, a hidden Linear, biases (batch_norm false: Qualia's convs then carry a bias), T = 8
    "strided_fc": dict(input_shape=(32, 32, 2), output_shape=(11,), filters=[8, 16], kernel_sizes=[5, 3],
                       paddings=[2, 1], strides=[2, 2], pool_sizes=[0, 0], dropouts=0, fc_units=[24], timesteps=8),
}
MEM_WIDTHS = {"issue_scnn": [8, 16], "strided_fc": [12]}
FIFO = 64
NO_BIAS = {"issue_scnn"}


def layer_table():
    m = TorchModelGraph.MODULE_MAPPING
    return {sjl.Conv2d: m[torch.nn.Conv2d], sjl.Linear: m[torch.nn.Linear], sjl.Flatten: m[torch.nn.Flatten],
            sjl.MaxPool2d: m[torch.nn.MaxPool2d], sjl.AvgPool2d: m[torch.nn.AvgPool2d]}


def main():
    out = {"source": "qualia-plugin-snn 2.6.0 EnergyEstimationMetric._compute_model_energy_snn",
           "fifo_size": FIFO, "networks": {}}
    for name, kw in NETWORKS.items():
        T = kw["timesteps"]
        model = SCNN(neuron={"kind": "IFNode", "params": {"v_threshold": 1.0, "v_reset": False}}, dims=2, **kw)
        if name in NO_BIAS:  # as on Speck (snnc trains without biases): Qualia then skips the bias terms
            for mod in model.modules():
                if isinstance(mod, sjl.Conv2d):  # (Qualia-CodeGen always gives a Linear a bias)
                    mod.bias = None
        sjf.set_step_mode(model, "s")
        graph = TorchModelGraph(model).convert(custom_layers=layer_table())
        # the spike counts per inference, chosen (binary spikes): theta_in of every Conv/Linear, theta_out of every IF
        counts, k = {}, 0
        for node in graph.nodes:
            lay = node.layer
            if isinstance(lay, (TConvLayer, TDenseLayer)):
                n_in = math.prod(lay.input_shape[0][1:])
                n_out = math.prod(lay.output_shape[0][1:])
                counts[lay.name] = {"theta_in": round(n_in * T * (0.11 + 0.05 * k), 3),
                                    "theta_out": round(n_out * T * (0.07 + 0.03 * k), 3),
                                    "n_in": n_in, "n_out": n_out}
                k += 1
        names = {}
        in_rate, out_rate, in_bin, out_bin, in_cnt, out_cnt, is_sj = {}, {}, {}, {}, {}, {}, {}
        for node in graph.nodes:
            lay = node.layer
            if isinstance(lay, TInputLayer):
                continue
            n_in = math.prod(lay.input_shape[0][1:])
            n_out = math.prod(lay.output_shape[0][1:])
            c = counts.get(lay.name)
            in_rate[lay.name] = (c["theta_in"] / (T * n_in)) if c else 0.1
            out_rate[lay.name] = 0.1
            in_bin[lay.name] = out_bin[lay.name] = True
            in_cnt[lay.name] = out_cnt[lay.name] = 0
            is_sj[lay.name] = True
        for node in graph.nodes:  # as _process_model: the IF's output goes to the preceding Conv/Linear, renamed
            if isinstance(node.layer, TIfLayer):
                prev = node.innodes[0].layer
                c = counts[prev.name]
                new = prev.name + node.layer.name
                names[new] = prev.name
                for d in (in_rate, in_bin, in_cnt, is_sj):
                    d[new] = d[prev.name]
                out_rate[new] = c["theta_out"] / (T * c["n_out"])
                out_bin[new] = True
                out_cnt[new] = 0
                prev.name = new
        for d in (in_rate, out_rate, in_cnt, out_cnt):
            d["__TOTAL__"] = 0
        net = {"timesteps": T, "template": {k: v for k, v in kw.items()}, "layers": [], "results": {}}
        for node in graph.nodes:
            lay = node.layer
            if isinstance(lay, (TConvLayer, TDenseLayer)):
                base = names.get(lay.name, lay.name)
                c = counts[base]
                has_if = any(isinstance(o.layer, TIfLayer) for o in node.outnodes)
                ish, osh = lay.input_shape[0], lay.output_shape[0]  # (N, H, W, C) / (N, C) as Qualia-CodeGen has them
                geo = ({"input_shape": [ish[-1], *ish[1:-1]], "output_shape": [osh[-1], *osh[1:-1]],
                        "kernel_size": list(lay.kernel_size), "stride": list(lay.strides)}
                       if isinstance(lay, TConvLayer) else
                       {"in_features": int(ish[-1]), "out_features": int(osh[-1])})
                net["layers"].append({"name": lay.name, "kind": "conv" if isinstance(lay, TConvLayer) else "linear",
                                      **{k: [int(v) for v in val] if isinstance(val, list) else val
                                         for k, val in geo.items()},
                                      "theta_in": c["theta_in"], "theta_out": c["theta_out"] if has_if else 0.0,
                                      "bias": bool(lay.use_bias)})
        for mw in MEM_WIDTHS[name]:
            for op in ("ICONIP", "saturation", "linear", "quadratic"):
                for sram in ("old", "new"):
                    m = EnergyEstimationMetric(mem_width=mw, fifo_size=FIFO,
                                               op_estimation_type={"add": op, "mul": op},
                                               sram_estimation_type=sram)
                    ems = m._compute_model_energy_snn(graph, in_rate, out_rate, in_bin, out_bin, in_cnt, out_cnt,
                                                      is_sj, T, lambda x: m._e_ram(x, mw), lambda x: m._e_ram(x, mw))
                    rows = {e.name: {t: float(getattr(e, t)) for t in
                                     ("mem_pot", "mem_weights", "mem_bias", "mem_io", "ops", "addr", "total")}
                            for e in ems if e.name in {la["name"] for la in net["layers"]} or e.name == "Total"}
                    net["results"][f"{mw}/{op}/{sram}"] = rows
        out["networks"][name] = net
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
