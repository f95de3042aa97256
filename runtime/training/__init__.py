"""Training frontend: the chip's integer neurons made differentiable, TOML configs, train / evaluate."""
