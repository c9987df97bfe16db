// The archives petprep accepts: the built-in table of known Oxford-IIIT Pet versions, or
// the checksums a user passes (`--checksums FILE`, as sha256sum writes them).
//
// An archive is accepted when its SHA-256 (and, where the table knows it, its size) matches
// one expected version. Thread-safe: everything here is immutable after construction.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep {

// The two archive names a source must hold.
extern const char* const kArchiveNames[2];  // "images.tar.gz", "annotations.tar.gz"

struct ArchiveVersion {
  std::string name;    // "images.tar.gz"
  std::string label;   // "gzip (2020 on)", "plain tar (2019)", "--checksums FILE"
  uint64_t size = 0;   // bytes; 0 when unknown (checksums given by the user)
  std::string sha256;  // 64 lower-case hex digits
  std::string md5;     // shown in messages when known; may be empty
};

class ExpectedArchives {
 public:
  // The built-in table of known versions.
  static ExpectedArchives BuiltIn();
  // Parses a sha256sum-style file: "<64 hex>  <name>" or "<64 hex> *<name>" per line; blank
  // lines and names other than the two archives are ignored. A malformed line or a file that
  // names neither archive is an error naming the file and the line.
  static Result<ExpectedArchives> FromChecksumsFile(const std::string& path);
  static Result<ExpectedArchives> FromChecksumsText(const std::string& text,
                                                    const std::string& source);

  // The versions `name` may have; empty when nothing is expected of it.
  std::vector<ArchiveVersion> VersionsOf(const std::string& name) const;
  // The largest size any version of `name` has; 0 when unknown.
  uint64_t MaxSizeOf(const std::string& name) const;

  // The version with this size and SHA-256, or nullptr.
  const ArchiveVersion* Match(const std::string& name, uint64_t size,
                              const std::string& sha256) const;

  // "images.tar.gz: 123 bytes, sha256 ab.. (md5 cd..) matches no expected version: 791,918,971
  // bytes sha256 6719.. (gzip (2020 on)) or ...".
  std::string MismatchMessage(const std::string& path, const std::string& name, uint64_t size,
                              const std::string& sha256, const std::string& md5) const;

 private:
  std::vector<ArchiveVersion> versions_;
};

// "791,918,971".
std::string WithThousands(uint64_t n);

}  // namespace petprep
