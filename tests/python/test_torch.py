"""The PyTorch examples: a short training run fed by petprep.Loader, and the IterableDataset
wrapper's resume. Skipped, saying why, where Debian's python3-torch is not installed."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, BUILD, run

torch = pytest.importorskip(
    "torch", reason="python3-torch is not installed (scripts/setup.sh --tests installs it where "
    "Debian offers it)")

sys.path.insert(0, str(ROOT / "examples"))
import torch_dataset  # noqa: E402
import torch_train  # noqa: E402


def test_the_network_is_the_b3_unet():
    model = torch_train.UNet()
    assert sum(p.numel() for p in model.parameters()) == 482_771
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32)


def test_a_short_pytorch_run_fed_by_the_loader_repeats(dataset):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(BUILD / "python"),
                                                       os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run(
        ["/usr/bin/python3", str(ROOT / "examples" / "torch_train.py"), "--data", str(dataset),
         "--epochs", "2", "--batch", "4", "--seed", "2", "--threads", "2", "--repeat",
         "--other-threads", "1"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    steps = [line.split() for line in lines if line.startswith("epoch ")]
    # The batches PyTorch trained on are petprep's: the hashes `petprep batches` prints.
    cli = [line.split() for line in run("petprep", "-q", "batches", "--data", dataset, "--seed", 2,
                                        "--batch", 4, "--epochs", 2).splitlines()
           if not line.startswith("batches fingerprint")]
    assert len(steps) == len(cli) > 0
    for got, want in zip(steps, cli):
        assert (got[1], got[3], got[7]) == (want[0], want[1], want[2][:16])
    losses = [float(s[5]) for s in steps]
    assert all(0 < v < 10 for v in losses)
    assert any(line.startswith("repeat on 2 threads: same losses: yes") for line in lines)
    assert any(line.startswith("on 1 thread: same losses: ") for line in lines)
    iou = [line for line in lines if line.startswith("validation mean IoU ")]
    assert len(iou) == 1 and 0 <= float(iou[0].split()[3]) <= 1


def test_the_iterable_dataset_resumes_under_a_dataloader(dataset):
    from torch.utils.data import DataLoader

    options = dict(split="train", batch=3, seed=9, threads=2)
    whole = list(DataLoader(torch_dataset.PetprepBatches(dataset, **options), batch_size=None))
    assert len(whole) == len(torch_dataset.PetprepBatches(dataset, **options)) > 4
    first = whole[0]
    assert first["images"].dtype == torch.float32 and first["images"].shape[1:] == (3, 32, 32)
    assert first["masks"].dtype == torch.int64 and first["images"].shape[0] == 3

    data = torch_dataset.PetprepBatches(dataset, **options)
    head = []
    for b in DataLoader(data, batch_size=None, num_workers=0):
        head.append(b)
        if len(head) == 4:
            break
    resumed = torch_dataset.PetprepBatches(dataset, **dict(options, threads=1))
    resumed.load_state_dict(data.state_dict())
    tail = list(DataLoader(resumed, batch_size=None, num_workers=0))
    assert [b["sha256"] for b in head + tail] == [b["sha256"] for b in whole]
    assert all(torch.equal(a["images"], b["images"]) and torch.equal(a["masks"], b["masks"])
               for a, b in zip(head + tail, whole))
    # The next pass of a DataLoader over the same dataset is the next epoch.
    again = next(iter(DataLoader(resumed, batch_size=None)))
    assert again["epoch"] == 1
