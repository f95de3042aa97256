"""Model frontends: torch (.pt), NIR (.nir), ONNX (.onnx) -> graph IR."""
