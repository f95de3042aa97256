"""ANN -> SNN conversion with calibration data (``snnc convert``) and evaluation on labelled data
(``snnc evaluate --data``).  See docs/conversion.md."""
