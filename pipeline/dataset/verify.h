// `petprep verify`: does DATA/dataset still match its manifest, byte for byte?
//
// Recomputes every listed file's SHA-256 and size and the fingerprint, and names each
// missing, extra or changed file. Deep mode also reads every record (both CRCs), checks the
// fold and split of each pet, and compares the recorded source hashes with DATA/petset
// (the dataset folder's sibling) when it is there.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep {

struct VerifyResult {
  std::string fingerprint;            // as recomputed
  std::vector<std::string> problems;  // one line each; empty: verified
  int files_checked = 0;
  int records_checked = 0;  // deep only
};

// An error only when the dataset cannot be examined at all (no manifest).
Result<VerifyResult> VerifyDataset(const std::string& dataset_dir, bool deep);

}  // namespace petprep
