// `petprep partition`: the petset becomes sharded records per split, with a manifest whose
// fingerprint proves that a regeneration is identical.
//
//   fold(pet_id) = int(md5(pet_id).hexdigest(), 16) % 10     over the id's UTF-8 bytes
//   DATA/dataset/<split>/shard-NNNNN.rec + .idx                records sorted by pet id bytes
//   DATA/dataset/splits.csv                                    pet_id,fold,split per record
//   DATA/dataset/manifest.json                                 hashes, counts, options, sources
//
// Work is parallel (oneTBB) and the output byte-identical for any --jobs; it is written in a
// temp folder beside the output and swapped into place only when complete.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/dataset/codec.h"

namespace petprep {

// int(md5(pet_id).hexdigest(), 16) % 10, exactly as the reference Python computes it.
int FoldOf(const std::string& pet_id);

// Whether `pet_id` may name a pet: any non-empty UTF-8 text (case kept: Café_1, 日本猫_1,
// Abyssinian-1) without a control character (U+0000-U+001F, U+007F), '/', '\', ',' or '"',
// which would break the folder, the CSV or the JSON files it reaches. The error says which
// character, as U+XXXX.
Status CheckPetId(const std::string& pet_id);

// Whether `dir` is a dataset partition wrote: its manifest.json is petprep's, of a format it
// knows. Only such a folder is ever replaced (--force).
bool IsPetprepDataset(const std::string& dir);
// The dataset folder that is `path` or holds it, or "" (outputs are never written inside one:
// verify would reject the dataset).
std::string DatasetHolding(const std::string& path);

// Which split each fold 0-9 belongs to; splits keep the order of their first fold.
class SplitMap {
 public:
  // "blog" (0-6 train, 7 validation, 8 calibration, 9 test), "e2e" (the reference code:
  // 8 test, 9 calibration) or a spec "train=0-6,validation=7,calibration=8,test=9" where a
  // split may list folds as a-b ranges joined by '+'; every fold exactly once.
  static Result<SplitMap> Parse(const std::string& text);

  const std::string& SplitOf(int fold) const { return split_of_[fold]; }
  const std::vector<std::string>& splits() const { return splits_; }
  // The canonical spec, e.g. "train=0-6,validation=7,calibration=8,test=9".
  std::string Canonical() const;

 private:
  std::string split_of_[10];
  std::vector<std::string> splits_;
};

struct Codec {
  std::string name = "png";                             // "png", "raw" or "jpeg"
  int quality = 0;                                      // jpeg only
  static Result<Codec> Parse(const std::string& text);  // "png", "raw", "jpeg:Q"
  std::string ToString() const;
};

struct PartitionOptions {
  std::string input;   // DATA/petset
  std::string output;  // DATA/dataset
  int size = 128;
  std::string split_map = "blog";
  std::string codec = "png";
  int shard_records = 1024;
  int jobs = 0;  // 0: all cores
  bool force = false;
  uint64_t max_pixels = kDefaultMaxPixels;  // a petset picture larger is refused
  int fail_after_records = 0;               // test hook: fail after this many records (0: never)
};

struct PartitionSummary {
  std::string fingerprint;
  std::vector<std::pair<std::string, int>> split_counts;  // in split order
  int records = 0;
};

Result<PartitionSummary> Partition(const PartitionOptions& options);

// The dataset fingerprint: SHA-256 of the canonical JSON (sorted keys, no spaces) of the
// manifest's format, options, source archives and per-split shard lists.
std::string DatasetFingerprint(const nlohmann::json& manifest);

}  // namespace petprep
