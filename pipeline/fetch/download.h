// `petprep download`, part 1: two verified archives in DATA/raw/, from mirrors, the official
// locations or a folder on disk.
//
// Each archive is fetched into DATA/raw/<name>.part, verified on size and SHA-256 against
// the expected versions, and renamed to DATA/raw/<name> only then. An archive already
// verified on disk is not fetched again (unless force). Nothing is written outside out_dir.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/fetch/http_fetch.h"

namespace petprep {

// The official locations, tried in this order when neither mirrors nor a folder is given.
extern const char* const kOfficialBases[2];

struct DownloadOptions {
  std::string out_dir;               // DATA
  std::vector<std::string> mirrors;  // base URLs holding images.tar.gz and annotations.tar.gz
  std::string from_dir;              // a folder holding the two archives
  std::string checksums_file;        // replaces the built-in table when set
  bool force = false;                // fetch again even when a verified copy exists
  FetchOptions fetch;
};

struct ArchiveOutcome {
  std::string name;  // "images.tar.gz"
  std::string path;  // DATA/raw/images.tar.gz
  std::string sha256;
  uint64_t size = 0;
  std::string version;  // the matching version's label
  std::string source;   // the URL or file it came from, or "already verified"
};

Result<std::vector<ArchiveOutcome>> DownloadArchives(const DownloadOptions& options);

// Joins a base URL and a file name with exactly one '/'.
std::string JoinUrl(const std::string& base, const std::string& name);

}  // namespace petprep
