// Reading a partitioned dataset: open DATA/dataset, pick a split, count its records, read
// record i (through the shard indexes) or iterate in order. Every read checks the frame's
// CRCs and names the shard and record on a mismatch. Reads are thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/core/image.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/shard.h"
#include "schemas/record.pb.h"

namespace petprep {

// What manifest.json says a dataset is made of, every field checked for type and range once, here,
// before anything is opened or allocated from it: the image size, the options that name the
// split map and codec, each split's shards, and the other files. Paths are relative and stay
// inside the dataset (no "/" at the start, no "." or ".." component, no control character).
struct ManifestShard {
  std::string file, index_file, sha256, index_sha256;
  uint64_t records = 0, bytes = 0;
};
struct ManifestSplit {
  std::string name;
  std::vector<ManifestShard> shards;
};
struct ManifestFile {
  std::string name, sha256;
  uint64_t bytes = 0;
};
struct ManifestLayout {
  int image_size = 0;
  std::string split_map, codec, fingerprint;
  std::vector<ManifestSplit> splits;  // in the manifest's order
  std::vector<ManifestFile> files;
};
// `path` names the file in errors ("<path>: at /splits/train/shards/0/bytes: ...").
Result<ManifestLayout> ReadManifestLayout(const nlohmann::ordered_json& manifest,
                                          const std::string& path);
// The largest image side a dataset may declare.
constexpr int kMaxDatasetImageSize = 8192;

class SplitReader {
 public:
  const std::string& name() const { return name_; }
  size_t size() const { return total_; }
  // Record i of the split in its stored order (pet id order). REQUIRES: i < size().
  Result<schema::Record> Read(size_t i) const;
  // The pet id of record i, from splits.csv (no shard read). REQUIRES: i < size().
  const std::string& pet_id(size_t i) const { return pet_ids_[i]; }

 private:
  friend class DatasetReader;
  std::string name_;
  size_t total_ = 0;
  std::vector<std::unique_ptr<ShardReader>> shards_;
  std::vector<size_t> first_;  // index of each shard's first record
  std::vector<std::string> pet_ids_;
};

class DatasetReader {
 public:
  static Result<std::unique_ptr<DatasetReader>> Open(const std::string& dataset_dir);

  const nlohmann::ordered_json& manifest() const { return manifest_; }
  const std::string& fingerprint() const { return fingerprint_; }
  int image_size() const { return layout_.image_size; }
  const ManifestLayout& layout() const { return layout_; }
  std::vector<std::string> splits() const;
  // The split of that name, or kNotFound naming the splits there are.
  Result<const SplitReader*> Split(const std::string& name) const;

 private:
  std::string dir_;
  nlohmann::ordered_json manifest_;  // keeps the split order
  ManifestLayout layout_;
  std::string fingerprint_;
  std::vector<std::unique_ptr<SplitReader>> splits_;
};

// Decodes an EncodedImage (png, raw or jpeg) into pixels; checks the recorded shape.
Result<Image> DecodeRecordImage(const schema::EncodedImage& image);

}  // namespace petprep
