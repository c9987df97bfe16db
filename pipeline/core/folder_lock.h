// Folders petprep writes: one writer at a time (an advisory lock), staging folders that carry
// petprep's mark, and the path checks that keep an output out of the inputs.
//
// A FolderLock is taken before anything in the folder is read and held for the command's life;
// a second writer (another process, or another FolderLock in this one) is refused at once with
// "<folder> is in use by another petprep (pid N on HOST)". The lock is flock(2) on a lock file,
// released by the kernel when the process ends, however it ends: a kill -9 leaves no stale lock.
// Thread-safe: no shared state.
#pragma once

#include <memory>
#include <string>

#include "pipeline/core/status.h"

namespace petprep {

class FolderLock {
 public:
  // Locks `folder` through `lock_path` (created if absent; it holds the holder's pid and host).
  static Result<std::unique_ptr<FolderLock>> Acquire(const std::string& folder,
                                                     const std::string& lock_path);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  explicit FolderLock(int fd) : fd_(fd) {}
  int fd_;
};

// The file inside a staging folder that says petprep made it (so a later run may remove it).
inline constexpr char kStagingMark[] = ".petprep-staging";

// Makes `dir` a fresh, marked staging folder: an earlier one of petprep's (it has the mark) is
// removed first; anything else of that name is refused (InvalidArgument naming it), never
// deleted.
Status MakeStagingFolder(const std::string& dir);
// Removes the mark, for a staging folder about to become the output (whose files are the
// contract: nothing else may land in them).
Status UnmarkStagingFolder(const std::string& dir);

// Whether `path` is `folder` or inside it, by their real paths (links and ".." resolved; a
// path not yet made is resolved through its nearest existing parent).
bool IsInsideFolder(const std::string& path, const std::string& folder);

// Removes the files of `dir` (not below) named as AtomicFile names its temporary files,
// ".<name>.tmp-<pid>-<n>", whose process no longer runs. Returns how many were removed.
int RemoveStaleTempFiles(const std::string& dir);

}  // namespace petprep
