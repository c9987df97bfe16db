#!/usr/bin/python3
"""petprep's conventions against PyTorch's: the same weights and batch through the peer's U-Net
(../shared/peers/torch_unet_step.py, --up tconv) in training mode, in float64 and float32; the
loss and every parameter's gradient of petprep must be as close to float64 as PyTorch's own float32
is (within 4x): the same conventions, other reduction orders. Reads what `build/bench/train_step_bench --export DIR` wrote.

Usage: /usr/bin/python3 bench/torch_compare.py DIR [--peers ../shared/peers]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--peers", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers"))
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.peers))
    from torch_unet_step import UNet  # the peer's network

    m = json.load(open(os.path.join(args.dir, "manifest.json")))
    n, s = m["batch"], m["size"]
    params = np.fromfile(os.path.join(args.dir, "params.bin"), dtype="<f4")
    grads = np.fromfile(os.path.join(args.dir, "grads.bin"), dtype="<f4")
    x = torch.from_numpy(np.fromfile(os.path.join(args.dir, "x.bin"), dtype="<f4").reshape(n, 3, s, s).copy())
    y = torch.from_numpy(np.fromfile(os.path.join(args.dir, "y.bin"), dtype=np.uint8).reshape(n, s, s).astype(np.int64))

    torch.set_num_threads(1)

    def run(dtype):
        model = UNet(up="tconv").to(dtype)
        model.train()
        ps = list(model.parameters())
        if len(ps) != len(m["params"]):
            sys.exit(f"parameter lists differ: torch {len(ps)}, petprep {len(m['params'])}")
        off = 0
        for p in ps:
            count = p.numel()
            p.data = torch.from_numpy(params[off:off + count].reshape(p.shape).copy()).to(dtype)
            off += count
        loss = F.cross_entropy(model(x.to(dtype)), y)
        loss.backward()
        return loss.item(), [p.grad.detach().double().numpy().reshape(-1) for p in ps]

    # Float32 sums in another order differ most where a sum cancels (a BatchNorm bias gradient,
    # and everything upstream of it), so both float32 results are measured against float64.
    loss64, truth = run(torch.float64)
    loss32, theirs = run(torch.float32)
    print(f"loss: petprep {m['loss']:.9g}  torch float32 {loss32:.9g}  torch float64 {loss64:.9g}")
    off = 0
    worst_ours = worst_theirs = 0.0
    for meta, t, g32 in zip(m["params"], truth, theirs):
        count = t.size
        ours = grads[off:off + count].astype(np.float64)
        off += count
        scale = max(np.abs(t).max(), 1e-30)
        e_ours = float(np.abs(ours - t).max() / scale)
        e_theirs = float(np.abs(g32 - t).max() / scale)
        worst_ours, worst_theirs = max(worst_ours, e_ours), max(worst_theirs, e_theirs)
        if os.environ.get("VERBOSE"):
            print(f"  {meta['name']:28s} petprep {e_ours:.2e}  torch float32 {e_theirs:.2e}")
    print(f"gradients of {len(truth)} tensors against float64, worst max|diff| / max|truth|: "
          f"petprep {worst_ours:.2e}, torch float32 {worst_theirs:.2e}")
    loss_ok = abs(m["loss"] - loss64) <= 4 * abs(loss32 - loss64) + 1e-6 * abs(loss64)
    grads_ok = worst_ours <= 4 * worst_theirs + 1e-6
    print("conventions match (as close to float64 as PyTorch's float32 is, within 4x):", loss_ok and grads_ok)
    return 0 if loss_ok and grads_ok else 1


if __name__ == "__main__":
    sys.exit(main())
