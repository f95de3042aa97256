"""The numbers the simulator and training compile in (``SPECK_NEURON``) hold for every Speck target."""
from snnc.runtime import neuron
from snnc.targets.speck import SPECK_NEURON, TARGETS


def test_every_speck_target_shares_the_compiled_neuron_numbers():
    for t in TARGETS.values():
        if t.family == "speck":
            assert (t.state_range, t.weight_range, t.decimator_ratios) == (
                SPECK_NEURON.state_range, SPECK_NEURON.weight_range, SPECK_NEURON.decimator_ratios), t.name
    assert (neuron.INT16_MIN, neuron.INT16_MAX) == SPECK_NEURON.state_range
    assert neuron.decimator_ratio(7) == SPECK_NEURON.decimator_ratios[7]
