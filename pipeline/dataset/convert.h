// `petprep download`, part 2: the verified archives become DATA/petset, one folder per pet.
//
//   DATA/petset/<pet_id>/image.jpg | image.tiff   the clean JPEG byte for byte, or RGB TIFF
//   DATA/petset/<pet_id>/mask.tiff                class ids 0 pet, 1 background, 2 border
//   DATA/petset/<pet_id>/metadata.json            ids, official split, source hashes, defects
//   DATA/petset/conversion_report.json            archives, counts, every defect and action
//
// Everything is written under DATA/.petset.partial/ and swapped into place only on full
// success, so an error, a refusal or a kill leaves the earlier petset (or none). The output
// is byte-identical for any number of jobs and any source: no file holds a path, a URL, a
// time or the job count. Pets are converted in parallel (oneTBB) as the images archive streams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/fetch/archive_reader.h"

namespace petprep {

enum class DefectPolicy { kRepair, kSkip, kFail };
const char* PolicyName(DefectPolicy p);
Result<DefectPolicy> ParsePolicy(const std::string& name);

struct SourceArchive {
  std::string name;  // "images.tar.gz"
  std::string path;  // where it is on disk (never recorded)
  uint64_t size = 0;
  std::string sha256;
};

struct ConvertOptions {
  std::string data_dir;  // DATA: reads nothing else, writes DATA/petset
  SourceArchive images, annotations;
  DefectPolicy policy = DefectPolicy::kRepair;
  ExtractLimits limits;
  int jobs = 0;                             // 0: all cores
  uint64_t max_pixels = kDefaultMaxPixels;  // larger images and trimaps are refused
  bool force = false;                       // convert again even when the petset verifies
  // Test hook: fail with an I/O error after this many pets were written (0: never).
  int fail_after_pets = 0;
};

struct ConvertSummary {
  bool up_to_date = false;  // the existing petset verified; nothing was done
  int pets = 0;             // folders in the petset
  int images = 0, trimaps = 0;
  int clean = 0, converted = 0, repaired = 0, skipped = 0, orphans = 0, ignored = 0;
  int defects = 0;
  std::string tree_sha256;  // over every file of the petset but the report
};

Result<ConvertSummary> ConvertArchives(const ConvertOptions& options);

// SHA-256 over "<relative path>\t<sha256 of the file>\n" for every file under `dir` except
// conversion_report.json, in bytewise path order.
Result<std::string> PetsetTreeSha256(const std::string& dir);

}  // namespace petprep
