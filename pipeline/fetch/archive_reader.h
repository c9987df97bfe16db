// Reads the entries of a tar or tar.gz archive safely, one at a time, into memory.
//
// The format is told by magic bytes, never by the name: gzip (1f 8b) or a plain ustar/GNU
// tar (the 2019 archives are plain tar named .tar.gz). An entry is refused, with the archive
// and entry named, when its path is absolute, has a ".." component or a name over the OS
// limit, when it is a symlink, hardlink, device, FIFO or socket, or when it would take the
// entry past max_entry_bytes or the archive past max_total_bytes (decompression bombs). A
// truncated or corrupt stream is an error naming the archive. Nothing is ever written to
// disk here. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "pipeline/core/read_file.h"
#include "pipeline/core/status.h"

struct archive;

namespace petprep {

struct ExtractLimits {
  uint64_t max_total_bytes = 4ull << 30;   // --max-extract-bytes
  uint64_t max_entry_bytes = 64ull << 20;  // --max-entry-bytes
};

struct ArchiveEntry {
  std::string path;  // as stored, without a leading "./"
  bool is_dir = false;
  std::string data;  // regular files only
};

class ArchiveReader {
 public:
  static Result<std::unique_ptr<ArchiveReader>> Open(const std::string& path,
                                                     const ExtractLimits& limits);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Reads the next entry. Returns false at the end of the archive.
  Result<bool> Next(ArchiveEntry* entry);

  bool gzip() const { return gzip_; }

 private:
  ArchiveReader() = default;
  Status Fail(const std::string& entry, const std::string& why) const;

  std::string path_;
  ExtractLimits limits_;
  std::unique_ptr<ReadableFile> file_;  // outlives a_, which reads its descriptor
  struct archive* a_ = nullptr;
  bool gzip_ = false;
  uint64_t total_ = 0;
};

// The archive kinds told from magic bytes: "gzip", "tar", or an error naming the file.
Result<std::string> DetectArchiveFormat(const std::string& path);

}  // namespace petprep
