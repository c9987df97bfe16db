"""petprep.Loader: exactly the batches of `petprep batches`, for any thread count, and a resume
from state_dict() that continues the uninterrupted run."""
import json

import numpy as np
import pytest

import petprep
from conftest import run

AUGMENT = {"flip_p": 0.5, "crop_scale": [0.5, 1], "rotate_deg": 15, "brightness": 0.2,
           "contrast": 0.2, "saturation": 0.2}


def cli_batches(dataset, *args):
    """(epoch, step, sha256, pet ids) per line of `petprep batches`."""
    out = run("petprep", "-q", "batches", "--data", dataset, *args)
    rows = []
    for line in out.splitlines():
        if line.startswith("batches fingerprint"):
            continue
        f = line.split()
        rows.append((int(f[0]), int(f[1]), f[2], f[3:]))
    return rows


def rows(batches):
    return [(b.epoch, b.step, b.sha256, list(b.pet_ids)) for b in batches]


@pytest.mark.parametrize("threads", [1, 2])
def test_one_epoch_is_petprep_batches(dataset, threads):
    loader = petprep.Loader(str(dataset), seed=7, threads=threads)
    got = rows(loader)
    assert len(got) == len(loader)
    assert got == cli_batches(dataset, "--seed", 7, "--threads", threads)


def test_augmentation_and_epochs(dataset, tmp_path):
    spec = tmp_path / "aug.json"
    spec.write_text(json.dumps(AUGMENT))
    want = cli_batches(dataset, "--seed", 3, "--batch", 5, "--epochs", 2, "--augment", spec)
    loader = petprep.Loader(str(dataset), batch=5, seed=3, augment=AUGMENT)
    first, second = rows(loader), rows(loader)  # the next iter() is the next epoch
    assert first + second == want
    assert {r[0] for r in second} == {1}
    from_file = petprep.Loader(str(dataset), batch=5, seed=3, augment=str(spec))
    assert rows(from_file) == want[: len(first)]
    none = petprep.Loader(str(dataset), seed=3, augment=False, shuffle=False)
    assert rows(none) == cli_batches(dataset, "--seed", 3, "--no-augment", "--no-shuffle")


def test_a_resume_from_state_dict_continues_the_uninterrupted_run(dataset):
    whole = rows(petprep.Loader(str(dataset), batch=4, seed=11, augment=AUGMENT, threads=2))
    loader = petprep.Loader(str(dataset), batch=4, seed=11, augment=AUGMENT, threads=2)
    head = []
    for b in loader:
        head.append(b)
        if len(head) == 3:
            break
    state = loader.state_dict()
    assert state["step"] == 3 and state["epoch"] == 0 and state["position"] == 12
    resumed = petprep.Loader(str(dataset), batch=4, seed=11, augment=AUGMENT, threads=1)
    resumed.load_state_dict(state)
    assert rows(head) + rows(resumed) == whole
    # The loader itself picks up where its abandoned pass stopped, too.
    assert rows(head) + rows(loader) == whole
    started = petprep.Loader(str(dataset), batch=4, seed=11, augment=AUGMENT, start_step=3)
    assert rows(started) == whole[3:]
    with pytest.raises(ValueError):
        petprep.Loader(str(dataset), batch=4, seed=12).load_state_dict(state)


def test_arrays(dataset):
    b = next(iter(petprep.Loader(str(dataset), batch=6, seed=1)))
    assert b.images.dtype == np.float32 and b.images.shape == (6, 3, 32, 32)
    assert b.masks.dtype == np.int64 and b.masks.shape == (6, 32, 32)
    assert not b.images.flags.owndata, "the batch's floats are handed over without a copy"
    assert set(np.unique(b.masks)) <= {0, 1, 2}
    assert len(b.pet_ids) == 6 and b.step == 0 and b.epoch == 0
    # The reference normalisation x / 128 - 1 keeps every value in [-1, 1).
    assert b.images.min() >= -1.0 and b.images.max() < 1.0


def test_the_simulated_device_gives_the_same_batches(dataset):
    cpu = rows(petprep.Loader(str(dataset), seed=5, augment=AUGMENT))
    assert rows(petprep.Loader(str(dataset), seed=5, augment=AUGMENT, device="cuda-sim")) == cpu


def test_bad_input_is_named(dataset, tmp_path):
    with pytest.raises(FileNotFoundError):
        petprep.Loader(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError) as e:
        petprep.Loader(str(dataset), augment={"flip_p": 2})
    assert "flip_p" in str(e.value)
    with pytest.raises(ValueError) as e:
        petprep.Loader(str(dataset), augment={"sharpen": 1})
    assert "sharpen" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        petprep.Loader(str(dataset), augment=str(tmp_path / "missing.json"))
    assert "missing.json" in str(e.value)
    with pytest.raises(ValueError) as e:
        petprep.Loader(str(dataset), split="holdout")
    assert "holdout" in str(e.value)
    with pytest.raises(ValueError):
        petprep.Loader(str(dataset), device="tpu")
    with pytest.raises(ValueError):
        petprep.Loader(str(dataset), batch=10000, drop_last=True)


def test_kept_batches_keep_their_own_masks(dataset):
    # Mask buffers are reused once Python frees a batch: a batch still held keeps its own.
    kept = list(petprep.Loader(str(dataset), batch=4, seed=2))
    fresh = [(b.masks.copy(), b.images.copy()) for b in petprep.Loader(str(dataset), batch=4, seed=2)]
    assert len(kept) == len(fresh) > 4
    for k, (masks, images) in zip(kept, fresh):
        assert np.array_equal(k.masks, masks) and np.array_equal(k.images, images)
    assert len({k.masks.ctypes.data for k in kept}) == len(kept)


def test_epochs_run_on_and_a_loaded_state_moves_the_stream(dataset):
    loader = petprep.Loader(str(dataset), batch=4, seed=4, threads=2)
    whole = cli_batches(dataset, "--seed", 4, "--batch", 4, "--epochs", 3)
    first = rows(loader)
    second = rows(loader)
    loader.load_state_dict({"seed": 4, "epoch": 0, "position": 8, "batch": 4})
    again = rows(loader)  # back to step 2 of epoch 0: the rest of that epoch
    assert first + second == whole[: 2 * len(first)]
    assert again == whole[2 : len(first)]
    assert rows(loader) == whole[len(first) : 2 * len(first)]
