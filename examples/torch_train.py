#!/usr/bin/python3
"""Trains the B3 U-Net in PyTorch on petprep's batches and evaluates mean IoU on validation.

  PYTHONPATH=build/python /usr/bin/python3 examples/torch_train.py --data DATA/dataset \
      [--epochs 2] [--batch 8] [--seed 0] [--threads 2] [--repeat] [--other-threads 1]

petprep.Loader hands PyTorch the same batches on every run, thread count and machine: each
step prints the batch's SHA-256, the one `petprep batches --data DATA/dataset --seed S`
prints. What PyTorch does with those batches is PyTorch's: with
torch.use_deterministic_algorithms(True), the same seed and the same thread count, two runs
give the same losses, and --repeat trains twice and compares them step by step. On another
thread count PyTorch's CPU kernels split their sums another way, so its losses and weights
do not stay the same: --other-threads N trains once more on N threads and says where the
losses part. (petprep's own trainer, `petprep train`, keeps the same bits on any thread
count; this example is for people who train their own model in PyTorch.)

Exit status: 0, or 1 when --repeat finds two runs that differ.
"""
import argparse
import hashlib
import os
import sys

import petprep
import torch
import torch.nn.functional as F
from torch import nn

CLASSES = ("pet", "background", "border")


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Level(nn.Sequential):
    """Two 3x3 convolutions, each followed by batch normalisation and ReLU."""

    def __init__(self, cin, cout):
        super().__init__(*conv_bn_relu(cin, cout), *conv_bn_relu(cout, cout))


class UNet(nn.Module):
    """The B3 U-Net: one Level per width going down (max-pool between), a 2x2 stride-2
    transposed convolution and a Level over [upsampled, skip] per width coming up, and a 1x1
    head to the three trimap classes. Widths 16 32 64 128 give 482,771 parameters."""

    def __init__(self, widths=(16, 32, 64, 128), in_channels=3, classes=3):
        super().__init__()
        ins = (in_channels,) + tuple(widths[:-1])
        self.down = nn.ModuleList(Level(i, o) for i, o in zip(ins, widths))
        pairs = list(zip(widths[:0:-1], widths[-2::-1]))  # (128, 64), (64, 32), (32, 16)
        self.up = nn.ModuleList(nn.ConvTranspose2d(i, o, 2, stride=2) for i, o in pairs)
        self.merge = nn.ModuleList(Level(2 * o, o) for _, o in pairs)
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x):
        skips = []
        for i, level in enumerate(self.down):
            x = level(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def batches(loader):
    """petprep batches as PyTorch tensors, without a copy: torch.from_numpy shares the memory."""
    for b in loader:
        yield b, torch.from_numpy(b.images), torch.from_numpy(b.masks)


def train(args, threads, log):
    """One training run; returns (losses per step, the model)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(threads)
    model = UNet(tuple(args.widths))
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = petprep.Loader(args.data, split="train", batch=args.batch, seed=args.seed,
                            threads=args.loader_threads)
    losses = []
    model.train()
    for _ in range(args.epochs):
        for b, images, masks in batches(loader):
            optimiser.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(images), masks)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            log(f"epoch {b.epoch} step {b.step} loss {losses[-1]:.6f} batch {b.sha256[:16]}")
            if len(losses) == args.max_steps:
                return losses, model
    return losses, model


@torch.no_grad()
def mean_iou(model, data, split, batch, threads):
    """Per-class IoU over every pixel of the split (no augmentation, file order), and their
    mean over the classes present in the labels or the predictions."""
    model.eval()
    confusion = torch.zeros(3, 3, dtype=torch.int64)
    loader = petprep.Loader(data, split=split, batch=batch, augment=False, shuffle=False,
                            threads=threads)
    for _, images, masks in batches(loader):
        predicted = model(images).argmax(dim=1)
        confusion += torch.bincount(masks.flatten() * 3 + predicted.flatten(),
                                    minlength=9).reshape(3, 3)
    true_positive = confusion.diag().double()
    union = confusion.sum(0).double() + confusion.sum(1).double() - true_positive
    iou = [float(t / u) if u > 0 else None for t, u in zip(true_positive, union)]
    present = [v for v in iou if v is not None]
    return (sum(present) / len(present) if present else 0.0), iou


def losses_sha256(losses):
    """SHA-256 of the losses as float32 bytes: two runs with the same hash had the same losses."""
    return hashlib.sha256(torch.tensor(losses, dtype=torch.float32).numpy().tobytes()).hexdigest()


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i + 1
    return None if len(a) == len(b) else min(len(a), len(b)) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a partitioned dataset (petprep partition)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: none)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0, help="the loader's and PyTorch's seed")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch's threads")
    ap.add_argument("--loader-threads", type=int, default=0,
                    help="petprep's decoding threads (0: all cores); the batches do not depend on it")
    ap.add_argument("--repeat", action="store_true",
                    help="train a second time on the same thread count and compare the losses")
    ap.add_argument("--other-threads", type=int, default=0, metavar="N",
                    help="train once more on N PyTorch threads and say where the losses part")
    ap.add_argument("-q", "--quiet", action="store_true", help="no line per step")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.data, "manifest.json")):
        ap.error(f"{args.data}: no manifest.json; not a partitioned dataset (run: petprep partition ...)")

    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, {args.threads} threads, deterministic algorithms on; "
          f"petprep dataset {petprep.Dataset(args.data).fingerprint[:16]}")
    log = (lambda line: None) if args.quiet else print
    losses, model = train(args, args.threads, log)
    print(f"{len(losses)} steps, last loss {losses[-1]:.6f}, losses sha256 {losses_sha256(losses)}")
    miou, iou = mean_iou(model, args.data, "validation", args.batch, args.loader_threads)
    parts = ", ".join(f"{c} {v:.4f}" if v is not None else f"{c} -" for c, v in zip(CLASSES, iou))
    print(f"validation mean IoU {miou:.4f} ({parts})")

    status = 0
    if args.repeat:
        again, _ = train(args, args.threads, lambda line: None)
        step = first_difference(losses, again)
        same = step is None
        print(f"repeat on {args.threads} threads: same losses: {'yes' if same else 'no'}"
              + ("" if same else f" (first difference at step {step})"))
        status = 0 if same else 1
    if args.other_threads:
        other, _ = train(args, args.other_threads, lambda line: None)
        step = first_difference(losses, other)
        on = f"on {args.other_threads} thread{'s' if args.other_threads != 1 else ''}"
        if step is None:
            print(f"{on}: same losses: yes (PyTorch does not promise it)")
        else:
            print(f"{on}: same losses: no, they part at step {step} "
                  f"({losses[step - 1]:.9g} vs {other[step - 1]:.9g}); the batches were the same, "
                  "PyTorch's arithmetic was not")
    return status


if __name__ == "__main__":
    sys.exit(main())
