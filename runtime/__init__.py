"""snnc.runtime: event I/O and encoders, the bit-accurate simulator, the chip's integer neuron arithmetic (shared
with training), and hardware I/O when samna is present."""
