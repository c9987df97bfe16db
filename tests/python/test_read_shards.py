"""examples/read_shards.py reads the shards with only the standard library and python3-protobuf,
and finds what the module finds: the format of schemas/README.md, checked from outside C++."""
import pathlib
import sys

import pytest

import petprep
from conftest import ROOT, run

sys.path.insert(0, str(ROOT / "examples"))
import read_shards  # noqa: E402


def test_crc32c_known_answer():
    assert read_shards.crc32c(b"123456789") == 0xE3069283


@pytest.fixture(scope="module")
def raw_dataset(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("raw") / "dataset"
    run("petprep", "-q", "partition", "--input", dataset.parent / "petset", "--output", out,
        "--size", 32, "--codec", "raw", "--shard-records", 16)
    return out


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_reader_sees_the_modules_records(raw_dataset, split):
    ours = petprep.Dataset(str(raw_dataset)).split(split)
    theirs = list(read_shards.read_split(raw_dataset, split))
    assert len(theirs) == len(ours)
    for i, r in enumerate(theirs):
        m = ours[i]
        assert (r.pet_id, r.fold, r.class_id, r.species, r.breed_id) == (
            m["pet_id"], m["fold"], m["class_id"], m["species"], m["breed_id"])
        assert r.split == split
        assert r.image.codec == "raw" and r.image.data == m["image"].tobytes()
        assert r.mask.data == m["mask"].tobytes()
        assert r.key == r.key.lower() and len(r.key) == 16


def test_a_damaged_frame_is_named(raw_dataset, tmp_path):
    shard = raw_dataset / "train" / "shard-00000.rec"
    data = bytearray(shard.read_bytes())
    data[40] ^= 0x01
    bad = tmp_path / "shard-00000.rec"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError) as e:
        list(read_shards.read_frames(bad))
    assert "shard-00000.rec: record 0: data CRC mismatch" in str(e.value)
