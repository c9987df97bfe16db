#!/usr/bin/python3
"""petprep's loader as a torch.utils.data.IterableDataset, with state_dict() / load_state_dict().

  from torch_dataset import PetprepBatches
  data = PetprepBatches("DATA/dataset", split="train", batch=8, seed=0)
  for batch in torch.utils.data.DataLoader(data, batch_size=None, num_workers=0):
      images, masks = batch["images"], batch["masks"]   # float32 N,3,H,W and int64 N,H,W
      ...
  state = data.state_dict()          # between batches: where the next batch comes from
  ...
  data = PetprepBatches("DATA/dataset", split="train", batch=8, seed=0)
  data.load_state_dict(state)        # its next pass resumes exactly there

Each item is already a whole batch, so the DataLoader gets batch_size=None, and
num_workers=0 because petprep decodes and augments in parallel itself (its `threads` option);
worker processes would each replay the whole split. Iterating gives the rest of the current
epoch (all of it when fresh); the next iteration is the next epoch.

Run as a script it shows a resume:
  PYTHONPATH=build/python /usr/bin/python3 examples/torch_dataset.py DATA/dataset [STOP_AFTER]
"""
import sys

import petprep
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info


class PetprepBatches(IterableDataset):
    """Batches of petprep.Loader(path, **options) as dicts of tensors: images, masks (shared
    with petprep's arrays, no copy), pet_ids, step, epoch and sha256 (the hash `petprep
    batches` prints for that step)."""

    def __init__(self, path, **options):
        super().__init__()
        self.loader = petprep.Loader(str(path), **options)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        if get_worker_info() is not None:
            raise RuntimeError("PetprepBatches: use DataLoader(num_workers=0); petprep decodes "
                               "in parallel itself (its threads option)")
        for b in self.loader:
            yield {"images": torch.from_numpy(b.images), "masks": torch.from_numpy(b.masks),
                   "pet_ids": list(b.pet_ids), "step": b.step, "epoch": b.epoch,
                   "sha256": b.sha256}

    def state_dict(self):
        return self.loader.state_dict()

    def load_state_dict(self, state):
        self.loader.load_state_dict(state)


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path, stop_after = argv[1], int(argv[2]) if len(argv) == 3 else 3
    options = dict(split="train", batch=4, seed=5)

    whole = [b["sha256"] for b in DataLoader(PetprepBatches(path, **options), batch_size=None)]
    data = PetprepBatches(path, **options)
    head = []
    for b in DataLoader(data, batch_size=None, num_workers=0):
        head.append(b["sha256"])
        if len(head) == stop_after:
            break
    state = data.state_dict()
    resumed = PetprepBatches(path, **options)
    resumed.load_state_dict(state)
    tail = [b["sha256"] for b in DataLoader(resumed, batch_size=None, num_workers=0)]
    same = head + tail == whole
    print(f"{len(whole)} batches in the epoch; stopped after {len(head)}, state {state}")
    print(f"resumed for {len(tail)} more: the epoch equals the uninterrupted one: "
          f"{'yes' if same else 'no'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
