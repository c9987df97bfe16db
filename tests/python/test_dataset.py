"""petprep.Dataset: the manifest's facts, verify, and records as numpy arrays."""
import json
import shutil

import numpy as np
import pytest

import petprep
from conftest import run


def test_the_manifest_facts(dataset):
    d = petprep.Dataset(str(dataset))
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert d.fingerprint == manifest["fingerprint"]
    assert d.size == 32
    assert d.codec == "png"
    assert d.counts == manifest["counts"]
    assert d.options == manifest["options"]
    assert d.sources == manifest["sources"]
    assert d.splits == ["train", "validation", "calibration", "test"]
    assert sum(d.counts["per_split"].values()) == d.counts["records"]
    assert d.verify() == d.fingerprint
    assert d.verify(deep=True) == d.fingerprint


def test_records_are_what_print_record_prints(dataset):
    d = petprep.Dataset(str(dataset))
    train = d.split("train")
    assert len(train) == d.counts["per_split"]["train"]
    for i in (0, len(train) - 1):
        r = train[i]
        printed = run("print_record", dataset, "train", i)
        assert f"pet_id {r['pet_id']}\n" in printed
        assert f"fold {r['fold']}, split train" in printed
        assert f"class_id {r['class_id']}, species {r['species']}, breed_id {r['breed_id']}" in printed
        assert r["image"].shape == (32, 32, 3) and r["image"].dtype == np.uint8
        assert r["mask"].shape == (32, 32) and r["mask"].dtype == np.uint8
        counts = np.bincount(r["mask"].ravel(), minlength=3)
        assert f"mask pixels: pet {counts[0]}, background {counts[1]}, border {counts[2]}" in printed
        assert r["fold"] == petprep.fold_of(r["pet_id"])
        assert petprep.split_of(r["pet_id"]) == "train"
    assert train[-1]["pet_id"] == train[len(train) - 1]["pet_id"]
    with pytest.raises(IndexError):
        train[len(train)]


def test_a_missing_folder_an_unknown_split_and_a_damaged_shard(dataset, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        petprep.Dataset(str(tmp_path / "nowhere"))
    assert "nowhere" in str(e.value)
    d = petprep.Dataset(str(dataset))
    with pytest.raises(ValueError) as e:
        d.split("holdout")
    assert "holdout" in str(e.value)
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    shard = copy / "train" / "shard-00000.rec"
    data = bytearray(shard.read_bytes())
    data[200] ^= 0x55
    shard.write_bytes(bytes(data))
    damaged = petprep.Dataset(str(copy))
    with pytest.raises(OSError) as e:
        damaged.verify()
    assert "shard-00000.rec" in str(e.value)
    with pytest.raises(OSError) as e:
        for i in range(len(damaged.split("train"))):
            damaged.split("train")[i]
    assert "shard-00000.rec" in str(e.value)


def test_an_edited_manifest_count_fails_verify(dataset, tmp_path):
    copy = tmp_path / "edited"
    shutil.copytree(dataset, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    cls = sorted(manifest["counts"]["per_class"]["train"])[0]
    manifest["counts"]["per_class"]["train"][cls] += 1
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(OSError) as e:
        petprep.Dataset(str(copy)).verify()
    assert f"counts.per_class.train.{cls}" in str(e.value)
