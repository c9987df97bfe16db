// `petprep synth`: a synthetic dataset in the exact layout of the Oxford-IIIT Pet archives.
//
// Writes OUT/images.tar.gz (images/<pet_id>.jpg), OUT/annotations.tar.gz (annotations/
// list.txt, trainval.txt, test.txt, trimaps/<pet_id>.png, xmls/<pet_id>.xml), OUT/SHA256SUMS
// and, with defects, OUT/defects.json. The same (count, seed, defects) always gives the same
// bytes, whatever the number of threads: pets are drawn in parallel and written in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/progress.h"
#include "pipeline/core/status.h"

namespace petprep {

struct SynthOptions {
  std::string out_dir;
  int count = 200;  // pets without a defect (ids <breed>_<n>, breeds in turn)
  uint64_t seed = 0;
  bool defects = false;  // also inject every defect kind the real dataset has
  int jobs = 0;          // 0: all cores
};

// One injected defect, as listed in defects.json.
struct SynthDefect {
  std::string file;    // path inside its archive, e.g. "images/Abyssinian_5.jpg"
  std::string pet_id;  // empty for files that belong to no pet
  std::string kind;    // e.g. "png_as_jpg"
  std::string detail;  // one sentence for people
};

struct SynthSummary {
  int pets = 0;                // ids written to list.txt or with an image or a trimap
  int images = 0;              // files under images/
  int trimaps = 0;             // files under annotations/trimaps/ (AppleDouble excluded)
  double mean_jpeg_bytes = 0;  // over the clean JPEGs
  uint64_t images_bytes = 0, annotations_bytes = 0;
  std::string images_sha256, annotations_sha256;
  std::vector<SynthDefect> defects;
};

// The pet ids of a clean dataset of `count` pets, in archive (bytewise) order.
std::vector<std::string> SynthPetIds(int count);

// The defects --defects injects, in archive order of their files.
std::vector<SynthDefect> SynthDefectList();

Result<SynthSummary> WriteSynthDataset(const SynthOptions& options);

}  // namespace petprep
