"""The numbers the simulator and training compile in (``SPECK_NEURON``) hold for every Speck target."""
from snnc.runtime import neuron
from snnc.targets.speck import SPECK_NEURON, TARGETS


def test_every_speck_target_shares_the_compiled_neuron_numbers():
    for t in TARGETS.values():
        if t.family == "speck":
            assert (t.state_range, t.weight_range, t.decimator_ratios) == (
                SPECK_NEURON.state_range, SPECK_NEURON.weight_range, SPECK_NEURON.decimator_ratios), t.name
    # what the simulator compiles in is the chip (docs/speck.md §4: 16-bit state saturating at its ends, 8-bit weights,
    # decimator intervals 0..7 passing 1 in 2, 4, 8, 16, 32, 128, 256, 512), not merely what the table says
    assert SPECK_NEURON.state_range == (-32768, 32767) and SPECK_NEURON.weight_range == (-128, 127)
    assert neuron.integrate(32700, 127, -32768) == 32767 and neuron.integrate(-32700, -128, -32768) == -32768
    assert neuron.integrate(32700, 127, -32768, saturate=False) == 32827 - 65536
    assert [neuron.decimator_ratio(i) for i in range(8)] == [2, 4, 8, 16, 32, 128, 256, 512]
