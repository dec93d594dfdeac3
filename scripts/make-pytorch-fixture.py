#!/usr/bin/python3
"""Writes the foreign-ONNX and NumPy fixtures of tests/cli*.test.ts and tests/data.test.ts.

Run with Debian's Python (apt-get install -y python3-torch python3-onnx):
    /usr/bin/python3 scripts/make-pytorch-fixture.py

Outputs (tests/fixtures/):
  pytorch_lstm.onnx       torch.onnx.export of nn.LSTM(5, 8, num_layers=2, batch_first=True) + nn.Linear(8, 3) on the last step
  pytorch_gru.onnx        torch.onnx.export of nn.GRU(4, 6, bidirectional=True, batch_first=True), output = full sequence
  pytorch_expected.json   what `rnnx inspect` must report, read from the PyTorch modules themselves
  pytorch_lstm_x.npy / pytorch_lstm_y.npy   an input [2, 7, 5] and PyTorch's output [2, 3] for it
  npy/arange_{f4,f8,i4}.npy   NumPy-written tensors for the NPY reader
"""
import json
import os

import numpy as np
import onnx
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures')
os.makedirs(os.path.join(OUT, 'npy'), exist_ok=True)
torch.manual_seed(0)


class LstmHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=5, hidden_size=8, num_layers=2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y[:, -1, :])


class Gru(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(input_size=4, hidden_size=6, bidirectional=True, batch_first=True)

    def forward(self, x):
        y, _ = self.gru(x)
        return y


def export(module, path, x):
    module.eval()
    torch.onnx.export(
        module, (x,), path, input_names=['x'], output_names=['y'], opset_version=14,
        dynamic_axes={'x': {0: 'batch', 1: 'time'}, 'y': {0: 'batch'}},
    )
    onnx.checker.check_model(onnx.load(path), full_check=True)


lstm = LstmHead()
x = torch.randn(2, 7, 5)
export(lstm, os.path.join(OUT, 'pytorch_lstm.onnx'), x)
with torch.no_grad():
    y = lstm(x)
np.save(os.path.join(OUT, 'pytorch_lstm_x.npy'), x.numpy().astype(np.float32))
np.save(os.path.join(OUT, 'pytorch_lstm_y.npy'), y.numpy().astype(np.float32))

gru = Gru()
export(gru, os.path.join(OUT, 'pytorch_gru.onnx'), torch.randn(3, 9, 4))


def count(m):
    return int(sum(p.numel() for p in m.parameters()))


expected = {
    'pytorch_lstm.onnx': {
        'recurrent': [
            {'op': 'LSTM', 'hiddenSize': 8, 'inputSize': 5, 'directions': 1, 'parameters': count(lstm.lstm) // 2},
            {'op': 'LSTM', 'hiddenSize': 8, 'inputSize': 8, 'directions': 1},
        ],
        'lstmParameters': count(lstm.lstm),
        'parameters': count(lstm),
        'opset': 14,
    },
    'pytorch_gru.onnx': {
        'recurrent': [{'op': 'GRU', 'hiddenSize': 6, 'inputSize': 4, 'directions': 2, 'parameters': count(gru.gru)}],
        'parameters': count(gru),
        'opset': 14,
    },
}


def io(values):
    # Read back by the onnx library (an independent parser) from the file torch wrote.
    return [{'name': v.name, 'shape': [d.dim_param if d.HasField('dim_param') else d.dim_value for d in v.type.tensor_type.shape.dim]}
            for v in values]


for name, desc in expected.items():
    m = onnx.load(os.path.join(OUT, name))
    desc['inputs'] = io(m.graph.input)
    desc['outputs'] = io(m.graph.output)
    desc['producer'] = m.producer_name

# Layer 0 and 1 of the LSTM differ in input size (5 vs 8): per-layer counts from PyTorch's own tensors.
l0 = sum(p.numel() for n, p in lstm.lstm.named_parameters() if n.endswith('_l0'))
l1 = sum(p.numel() for n, p in lstm.lstm.named_parameters() if n.endswith('_l1'))
expected['pytorch_lstm.onnx']['recurrent'][0]['parameters'] = int(l0)
expected['pytorch_lstm.onnx']['recurrent'][1]['parameters'] = int(l1)
with open(os.path.join(OUT, 'pytorch_expected.json'), 'w') as f:
    json.dump(expected, f, indent=2)
    f.write('\n')

a = np.arange(24).reshape(2, 3, 4)
np.save(os.path.join(OUT, 'npy', 'arange_f4.npy'), (a * 0.5 - 3).astype('<f4'))
np.save(os.path.join(OUT, 'npy', 'arange_f8.npy'), (a * 0.5 - 3).astype('<f8'))
np.save(os.path.join(OUT, 'npy', 'arange_i4.npy'), (a - 7).astype('<i4'))
print('wrote fixtures to', os.path.normpath(OUT))
