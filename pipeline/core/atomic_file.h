// Files that appear whole or not at all: write to a temp name, flush, fsync, rename.
//
// A crash or error before Commit() leaves any earlier file under the final name intact;
// the temp file (".<name>.tmp-<pid>-<n>" in the same folder) is removed by the destructor,
// or left behind only when the process itself dies. Not thread-safe; one writer per file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pipeline/core/read_file.h"
#include "pipeline/core/status.h"

namespace petprep {

class AtomicFile {
 public:
  // Opens a new temp file next to `path`. The folder must exist.
  static Result<std::unique_ptr<AtomicFile>> Create(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Append(const void* data, size_t size);
  Status Append(std::string_view data) { return Append(data.data(), data.size()); }

  // Flushes and fsyncs the temp file, renames it over the final path and fsyncs the folder.
  // REQUIRES: called at most once; no Append() after it.
  Status Commit();

  // Removes the temp file without touching the final path. Idempotent.
  void Abandon();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  uint64_t bytes_written() const { return bytes_; }

 private:
  AtomicFile(std::string path, std::string temp_path, int fd);
  Status Flush();

  std::string path_;
  std::string temp_path_;
  int fd_;
  bool done_ = false;
  uint64_t bytes_ = 0;
  std::string buffer_;
};

// Writes `data` to `path` atomically.
Status WriteFileAtomic(const std::string& path, std::string_view data);

// Writes `data` to `path` directly, without a temp name or fsync: for files inside a folder
// that is itself synced (syncfs) and renamed into place whole.
Status WriteFileUnsynced(const std::string& path, std::string_view data);

// Creates a folder and any missing parents (mkdir -p). An existing folder is fine; an
// existing file of that name is an error naming it.
Status MakeDirs(const std::string& dir);

// fsyncs a folder so that a rename inside it is durable.
Status SyncDirectory(const std::string& dir);

}  // namespace petprep
