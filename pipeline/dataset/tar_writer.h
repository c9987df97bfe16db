// Writes reproducible tar archives (optionally gzip-compressed) through libarchive: ustar
// headers, with a pax extended header only where ustar cannot hold an entry (long names).
//
// Every entry gets the same owner (0/0), a fixed mtime and fixed permissions, entries keep
// the order they are added in, and the gzip header carries no time stamp, so the same
// entries always give the same bytes. The archive is written through an AtomicFile: it
// appears under its name only after Finish(). The SHA-256 of the bytes is computed as they
// are written. Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/status.h"

struct archive;

namespace petprep {

class TarWriter {
 public:
  enum class Compression { kGzip, kNone };
  // 2012-06-29 00:00:00 UTC, close to the Oxford-IIIT Pet release.
  static constexpr int64_t kFixedMtime = 1340928000;

  static Result<std::unique_ptr<TarWriter>> Create(const std::string& path,
                                                   Compression compression);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  Status AddDirectory(const std::string& name);
  Status AddFile(const std::string& name, std::string_view data);
  // Entries a hostile archive may hold; used by tests of safe extraction.
  Status AddSymlink(const std::string& name, const std::string& target);
  Status AddHardlink(const std::string& name, const std::string& target);
  Status AddFifo(const std::string& name);
  // A regular-file header announcing `size` bytes followed by `size` bytes of `fill`.
  Status AddFilledFile(const std::string& name, uint64_t size, char fill);

  // Closes the archive, commits the file and returns its SHA-256 (hex).
  Result<std::string> Finish();
  uint64_t bytes_written() const;

 private:
  TarWriter() = default;
  Status Check(int rc, const std::string& what);
  static long long WriteCallback(struct archive*, void* self, const void* data, size_t size);

  struct archive* archive_ = nullptr;
  std::unique_ptr<AtomicFile> file_;
  Sha256 sha_;
  Status write_status_;
  std::string path_;
};

}  // namespace petprep
