#!/usr/bin/python3
"""Reads a split of a partitioned dataset with Python's standard library and python3-protobuf
only: TFRecord framing (both masked CRC-32C checked), then one petprep.schema.Record per frame,
exactly as schemas/README.md describes the bytes.

  PYTHONPATH=build/python /usr/bin/python3 examples/read_shards.py DATA/dataset [SPLIT]

prints one line per record: pet_id, fold, class_id, species, breed_id, image and mask shapes.
The record_pb2 module is generated at build time into build/python.
"""
import json
import pathlib
import struct
import sys

import record_pb2


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli, reflected 0x82F63B78): "123456789" -> 0xE3069283."""
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_frames(path):
    """Every frame's data in a shard, each CRC checked; an error names the shard and record."""
    data = pathlib.Path(path).read_bytes()
    at, index = 0, 0
    while at < len(data):
        if at + 12 > len(data):
            raise ValueError(f"{path}: record {index}: truncated frame header")
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if masked(crc32c(header)) != length_crc:
            raise ValueError(f"{path}: record {index}: length CRC mismatch")
        body = data[at + 12:at + 12 + length]
        if len(body) != length or at + 16 + length > len(data):
            raise ValueError(f"{path}: record {index}: truncated frame")
        (data_crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        if masked(crc32c(body)) != data_crc:
            raise ValueError(f"{path}: record {index}: data CRC mismatch")
        yield body
        at += 16 + length
        index += 1


def read_split(dataset, split):
    """The split's records in stored order, from the manifest's list of shards."""
    dataset = pathlib.Path(dataset)
    manifest = json.loads((dataset / "manifest.json").read_text())
    for shard in manifest["splits"][split]["shards"]:
        for body in read_frames(dataset / shard["file"]):
            record = record_pb2.Record()
            record.ParseFromString(body)
            yield record


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    split = argv[2] if len(argv) > 2 else "train"
    for r in read_split(argv[1], split):
        print(r.pet_id, r.fold, r.class_id, r.species, r.breed_id,
              f"{r.image.height}x{r.image.width}x{r.image.channels}",
              f"{r.mask.height}x{r.mask.width}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
