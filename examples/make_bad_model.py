"""Write bad_model.pt: a small sinabs model that breaks several Speck rules, to see what `snnc check` says.

    python examples/make_bad_model.py && snnc check bad_model.pt
"""
import sinabs.layers as sl
import torch
import torch.nn as nn

model = nn.Sequential(
    nn.Conv2d(2, 16, 3, stride=3, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),       # stride 3
    nn.Conv2d(16, 1025, 17, padding=8, bias=False), sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),  # kernel 17, 1025 ch.
    sl.SumPool2d(3),                                                                              # pooling 3
)
torch.save({"model": model, "input_shape": [2, 256, 256]}, "bad_model.pt")  # on a 256x256 input
print("wrote bad_model.pt")
