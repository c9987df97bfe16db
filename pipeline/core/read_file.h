// The one way petprep reads a file: regular files only, never more than a limit fit for the
// file's kind.
//
// A FIFO, a device such as /dev/zero, a socket or a folder is refused before a byte is read,
// naming the path (a link is followed and its target judged); a file larger than its kind's
// limit is refused from its size, and a file that grows while it is read is cut off at the
// limit with an error, so no input makes petprep read without end or allocate without bound.
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/core/status.h"

namespace petprep {

// What a file is read as, and the most bytes petprep takes of it.
struct FileLimit {
  const char* kind;  // for messages: "checkpoint", "JSON file", ...
  uint64_t max_bytes;
};

inline constexpr FileLimit kJsonFileLimit{"JSON file", uint64_t{64} << 20};
inline constexpr FileLimit kTextFileLimit{"text file", uint64_t{64} << 20};
inline constexpr FileLimit kMetricsLogLimit{"metrics log", uint64_t{1} << 30};
inline constexpr FileLimit kCheckpointLimit{"checkpoint", uint64_t{1} << 30};
inline constexpr FileLimit kPictureFileLimit{"picture", uint64_t{512} << 20};
inline constexpr FileLimit kTraceFileLimit{"trace", uint64_t{1} << 30};
inline constexpr FileLimit kShardFileLimit{"shard", uint64_t{16} << 30};
inline constexpr FileLimit kShardIndexLimit{"shard index", uint64_t{64} << 20};
inline constexpr FileLimit kArchiveFileLimit{"archive", uint64_t{64} << 30};

// An open regular file, closed by the destructor.
class ReadableFile {
 public:
  // Opens `path` for reading. REQUIRES nothing of the path; refuses what is not a regular file
  // or is larger than `limit` (Status names the path, the kind and the size).
  static Result<ReadableFile> Open(const std::string& path, const FileLimit& limit);
  ReadableFile(ReadableFile&& other) noexcept;
  ReadableFile& operator=(ReadableFile&& other) noexcept;
  ReadableFile(const ReadableFile&) = delete;
  ReadableFile& operator=(const ReadableFile&) = delete;
  ~ReadableFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // at open
  const std::string& path() const { return path_; }

  // Reads up to `n` bytes at the current position; 0 at the end. Refuses to go past the limit.
  Result<size_t> Read(void* buf, size_t n);
  // The rest of the file.
  Result<std::string> ReadAll();

 private:
  ReadableFile(std::string path, int fd, uint64_t size, FileLimit limit)
      : path_(std::move(path)), fd_(fd), size_(size), limit_(limit) {}

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t read_ = 0;
  FileLimit limit_{"", 0};
};

// Reads a whole regular file of at most limit.max_bytes.
Result<std::string> ReadFile(const std::string& path, const FileLimit& limit);

}  // namespace petprep
