#!/usr/bin/env python3
"""PyTorch reference for scripts/device-check.sh: one training step (forward, MSE, backward,
clip_grad_norm_(1), Adam) of nn.LSTM(64 -> 256, batch_first) + Linear(256 -> 1) per step, on the
GPU with cuDNN (torch.backends.cudnn.benchmark = True), for N = 64 and N = 16, T = 100.
The same model and step as rnnx's timing. Median of 50 steps after 10 warm-ups, each step
ending with loss.item() (as rnnx's step returns the loss to the host). Writes JSON to argv[1]."""
import json
import sys
import time

import torch

out = {}
if not torch.cuda.is_available():
    print("device-bench-torch: no CUDA device for PyTorch")
    json.dump(out, open(sys.argv[1], "w"))
    sys.exit(0)
torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = False  # plain FP32, as rnnx's cuBLAS products
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")
for n, t, i, h in [(64, 100, 64, 256), (16, 100, 64, 256)]:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(i, h, batch_first=True).to(dev)
    head = torch.nn.Linear(h, 1).to(dev)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.randn(n, t, i, device=dev)
    y = torch.randn(n, t, 1, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        out_, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(head(out_), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(10):
        step()
    times = []
    for _ in range(50):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    label = f"LSTM N={n} T={t} I={i} H={h}"
    out[label] = {"median_ms": times[len(times) // 2], "min_ms": times[0], "device": torch.cuda.get_device_name(0),
                  "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}
    print(f"device-bench-torch: {label}: {out[label]['median_ms']:.2f} ms/step (median of 50)")
json.dump(out, open(sys.argv[1], "w"), indent=2)
