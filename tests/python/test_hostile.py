"""The module against careless or hostile use: threads before numpy, positions that do not fit."""
import os
import subprocess
import sys

import pytest

import petprep


def test_two_threads_take_their_first_batches_before_numpy_is_imported(dataset):
    # A fresh interpreter, so that nothing has imported numpy before petprep's loaders run.
    code = f"""
import sys, threading
assert "numpy" not in sys.modules
import petprep
out = []
def take():
    out.append(next(iter(petprep.Loader({str(dataset)!r}, batch=2, seed=1, threads=1))).sha256)
ts = [threading.Thread(target=take) for _ in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
assert len(out) == 2 and out[0] == out[1], out
print("ok")
"""
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_a_start_step_past_the_last_epoch_is_refused(dataset):
    with pytest.raises(ValueError, match="start_step 1099511627776 is past the last epoch"):
        petprep.Loader(str(dataset), batch=4, start_step=2**40)


@pytest.mark.parametrize("edit,field", [
    ({"position": 10**6}, "'position'"),       # past the epoch
    ({"position": 5}, "'position'"),           # not on a batch boundary
    ({"batch": 8}, "'batch'"),                 # taken from a loader of another batch size
    ({"seed": 5}, "'seed'"),
    ({"epoch": 2**33}, "'epoch'"),
    ({"epoch": -1}, "'epoch'"),
    ({"position": True}, "'position'"),
    ({"step": 99}, "'step'"),
    ({"position": None}, "'position'"),
])
def test_a_state_that_does_not_fit_is_a_value_error_naming_the_field(dataset, edit, field):
    loader = petprep.Loader(str(dataset), batch=4, seed=4)
    state = loader.state_dict()
    state.update(edit)
    with pytest.raises(ValueError, match=field):
        loader.load_state_dict(state)


def test_a_state_without_a_field_is_refused(dataset):
    loader = petprep.Loader(str(dataset), batch=4, seed=4)
    for key in ("seed", "epoch", "position", "batch"):
        state = loader.state_dict()
        del state[key]
        with pytest.raises(ValueError, match=f"no '{key}'"):
            loader.load_state_dict(state)
    good = loader.state_dict()
    loader.load_state_dict(good)
    assert loader.step == good["step"]
