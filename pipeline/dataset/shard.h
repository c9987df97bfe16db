// Shard files: records framed as TFRecord does, and an index to seek to record i.
//
// A shard (.rec) is a sequence of frames, each
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes |
//   length bytes of data (a serialized petprep.schema.Record) | uint32 masked CRC-32C of data
// and its index (.idx) a serialized petprep.schema.ShardIndex holding every frame's offset.
// A reader checks both CRCs of every frame it reads and names the shard and the record on a
// mismatch. ShardReader::Read is thread-safe (pread); the builder is not.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep {

class ShardBuilder {
 public:
  void Add(const std::string& record);
  size_t count() const { return offsets_.size(); }
  const std::string& bytes() const { return bytes_; }
  // The serialized ShardIndex for the frames added so far.
  std::string IndexBytes() const;
  void Clear();

 private:
  std::string bytes_;
  std::vector<uint64_t> offsets_;
};

class ShardReader {
 public:
  // Opens `rec_path` and its index `idx_path`; checks the index matches the shard's size.
  static Result<std::unique_ptr<ShardReader>> Open(const std::string& rec_path,
                                                   const std::string& idx_path);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  size_t count() const { return offsets_.size(); }
  // The data of record i, both CRCs checked. REQUIRES: i < count().
  Result<std::string> Read(size_t i) const;
  const std::string& path() const { return path_; }

 private:
  ShardReader() = default;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::vector<uint64_t> offsets_;
};

// Reads every frame of a shard in order without its index (for verify --deep).
Result<std::vector<std::string>> ReadAllFrames(const std::string& rec_path);

}  // namespace petprep
