#!/usr/bin/python3
"""Writes tests/fixtures/import/: PyTorch exports that rnnx must import as trainable models.

Run with Debian's Python (apt-get install -y python3-torch python3-onnx):
    /usr/bin/python3 scripts/make-import-fixtures.py

For each case NAME it writes NAME.onnx (torch.onnx.export of a tiny module, hidden sizes 3-8)
and adds to reference.json: the module description, the input x and PyTorch's own output y for
it (computed by PyTorch, not by ONNX Runtime), so that the tests compare rnnx against PyTorch.
Cases cover LSTM / GRU / RNN, 1-3 layers, bidirectional, batch_first both ways, with and without
a Linear head, the common ways of reading the last step, opsets 9, 11, 14 and 17, an export
without constant folding (weights reordered by Slice/Concat nodes) and one with fixed shapes.
Cases under `unsupported` are patterns rnnx cannot represent; the tests check the error.
"""
import json
import os

import numpy as np
import onnx
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'import')
os.makedirs(OUT, exist_ok=True)

CELLS = {'lstm': nn.LSTM, 'gru': nn.GRU, 'rnn': nn.RNN}


class Net(nn.Module):
    """A recurrent stack, then one way of reading it (`read`), then an optional Linear head."""

    def __init__(self, cell, inp, hidden, layers=1, bidir=False, batch_first=True, read='seq',
                 head=None, act=None, nonlinearity='tanh', state=False):
        super().__init__()
        self.state = state  # forward takes the initial states h0 (and c0) as inputs
        kw = {'nonlinearity': nonlinearity} if cell == 'rnn' else {}
        self.rec = CELLS[cell](inp, hidden, num_layers=layers, bidirectional=bidir, batch_first=batch_first, **kw)
        self.read, self.batch_first, self.cell = read, batch_first, cell
        d = 2 if bidir else 1
        width = hidden * d if read in ('seq', 'last', 'hn_cat') else hidden
        self.head = nn.Linear(width, head) if head else None
        self.act = {'tanh': torch.tanh, 'sigmoid': torch.sigmoid, 'relu': torch.relu, 'softmax': lambda v: torch.softmax(v, -1), None: None}[act]

    def forward(self, x, h0=None, c0=None):
        if self.state:
            y, state = self.rec(x, (h0, c0) if self.cell == 'lstm' else h0)
        else:
            y, state = self.rec(x)
        h_n = state[0] if self.cell == 'lstm' else state
        if self.read == 'seq':
            out = y
        elif self.read == 'last':  # y[:, -1] (batch first) or y[-1]
            out = y[:, -1, :] if self.batch_first else y[-1]
        elif self.read == 'hn_last':  # last layer, last direction
            out = h_n[-1]
        elif self.read == 'hn_cat':  # last layer, both directions
            out = torch.cat([h_n[-2], h_n[-1]], dim=1)
        else:
            raise ValueError(self.read)
        if self.head is not None:
            out = self.head(out)
        if self.act is not None:
            out = self.act(out)
        return out


CASES = [
    # name, module arguments, export arguments
    ('lstm1_bf_last_head_o14', dict(cell='lstm', inp=3, hidden=5, read='last', head=2), dict(opset=14)),
    ('lstm2_tm_bidir_seq_o17', dict(cell='lstm', inp=3, hidden=4, layers=2, bidir=True, batch_first=False), dict(opset=17)),
    ('lstm3_bf_seq_head_o11', dict(cell='lstm', inp=2, hidden=3, layers=3, head=2, act='tanh'), dict(opset=11)),
    ('lstm2_bf_bidir_hncat_head_o17', dict(cell='lstm', inp=4, hidden=5, layers=2, bidir=True, read='hn_cat', head=3, act='softmax'), dict(opset=17)),
    ('lstm1_bf_last_head_o11_nofold', dict(cell='lstm', inp=3, hidden=4, read='last', head=1), dict(opset=11, fold=False)),
    ('lstm1_bf_seq_head_o14_fixed', dict(cell='lstm', inp=3, hidden=4, head=2), dict(opset=14, dynamic=False)),
    ('gru1_bf_last_head_o14', dict(cell='gru', inp=3, hidden=6, read='last', head=1), dict(opset=14)),
    ('gru2_tm_seq_o11', dict(cell='gru', inp=2, hidden=4, layers=2, batch_first=False), dict(opset=11)),
    ('gru2_bf_bidir_seq_head_o14', dict(cell='gru', inp=3, hidden=4, layers=2, bidir=True, head=2, act='sigmoid'), dict(opset=14)),
    ('gru1_bf_bidir_hnlast_head_o17', dict(cell='gru', inp=3, hidden=5, bidir=True, read='hn_last', head=2), dict(opset=17)),
    ('rnn1_bf_seq_o14', dict(cell='rnn', inp=3, hidden=5), dict(opset=14)),
    ('rnn3_tm_last_head_o17', dict(cell='rnn', inp=2, hidden=3, layers=3, batch_first=False, read='last', head=2), dict(opset=17)),
    ('rnn2_bf_bidir_relu_seq_head_o11', dict(cell='rnn', inp=3, hidden=4, layers=2, bidir=True, head=2, act='relu', nonlinearity='relu'), dict(opset=11)),
    ('lstm1_bf_last_head_o9', dict(cell='lstm', inp=3, hidden=4, read='last', head=2), dict(opset=9)),
    ('gru1_tm_seq_o9', dict(cell='gru', inp=2, hidden=3, batch_first=False), dict(opset=9)),
    # One input feature, one output: the shape of a univariate forecaster; the README fine-tunes
    # it on models/data/airline-passengers.csv (tests/fixtures/import/finetune-airline.json).
    ('lstm1_bf_last_head_o17_uni', dict(cell='lstm', inp=1, hidden=8, read='last', head=1), dict(opset=17)),
    # Initial states as graph inputs (h0, c0: [layers*directions, batch, hidden]).
    ('lstm2_bf_state_last_head_o14', dict(cell='lstm', inp=3, hidden=4, layers=2, read='last', head=2, state=True), dict(opset=14)),
    ('gru1_tm_bidir_state_seq_o17', dict(cell='gru', inp=2, hidden=3, bidir=True, batch_first=False, state=True), dict(opset=17)),
]

UNSUPPORTED = [
    # y[:, -1] of a bidirectional layer: the reverse direction's value at the last step is its
    # first step, not its final state, and rnnx's last-step output is the final state.
    ('unsupported_bidir_last_step', dict(cell='lstm', inp=3, hidden=4, bidir=True, read='last', head=2), dict(opset=14)),
]


def export(module, path, args, opset, fold=True, dynamic=True):
    module.eval()
    names = ['x', 'h0', 'c0'][:len(args)]
    axes = {}
    if dynamic:
        batch, time = (0, 1) if getattr(module, 'batch_first', True) else (1, 0)
        axes = {'x': {batch: 'batch', time: 'time'}}
        for n in names[1:]:
            axes[n] = {1: 'batch'}
    torch.onnx.export(module, args, path, input_names=names, output_names=['y'], opset_version=opset,
                      do_constant_folding=fold, dynamic_axes=axes or None)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def main():
    reference = {'torch': torch.__version__, 'cases': {}, 'unsupported': {}}
    for group, cases in (('cases', CASES), ('unsupported', UNSUPPORTED)):
        for i, (name, margs, eargs) in enumerate(cases):
            torch.manual_seed(100 + i)
            module = Net(**margs)
            N, T = 2, 5
            shape = (N, T, margs['inp']) if module.batch_first else (T, N, margs['inp'])
            x = torch.randn(*shape)
            args = (x,)
            if module.state:
                rows = margs.get('layers', 1) * (2 if margs.get('bidir') else 1)
                args = (x,) + tuple(torch.randn(rows, N, margs['hidden']) for _ in range(2 if margs['cell'] == 'lstm' else 1))
            path = os.path.join(OUT, name + '.onnx')
            export(module, path, args, **eargs)
            with torch.no_grad():
                y = module(*args)
            reference[group][name] = {
                'module': margs, 'export': eargs, 'file': name + '.onnx',
                'xShape': list(x.shape), 'x': x.flatten().tolist(),
                'yShape': list(y.shape), 'y': y.flatten().tolist(),
            }
            for n, t in zip(['h0', 'c0'], args[1:]):
                reference[group][name][n + 'Shape'] = list(t.shape)
                reference[group][name][n] = t.flatten().tolist()
            print(name, list(x.shape), '->', list(y.shape), os.path.getsize(path), 'bytes')
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(reference, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
