"""Shared fixtures: the built petprep binaries and a small synthetic dataset made with them."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("PETPREP_BUILD_DIR", ROOT / "build"))


def run(*args, **kwargs):
    """Runs a built program (petprep, print_record) and returns its stdout; fails on an error."""
    r = subprocess.run([str(BUILD / args[0]), *map(str, args[1:])], capture_output=True, text=True,
                       **kwargs)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """60 synthetic pets partitioned at 32 px: DIR/data/dataset."""
    d = tmp_path_factory.mktemp("pets")
    run("petprep", "-q", "synth", "--out", d / "synth", "--count", 60, "--seed", 3)
    run("petprep", "-q", "download", "--from", d / "synth", "--checksums",
        d / "synth" / "SHA256SUMS", "--out", d / "data")
    run("petprep", "-q", "partition", "--input", d / "data" / "petset", "--output",
        d / "data" / "dataset", "--size", 32)
    return d / "data" / "dataset"
