// `petprep preview`: a picture of what the loader feeds a model — a grid of augmented
// samples with each mask overlaid in colour (pet orange, border yellow), labelled with the
// pet id and the epoch. People would rather look than read hashes.
#pragma once

#include <string>

#include "pipeline/loader/loader.h"

namespace petprep {

struct PreviewOptions {
  int count = 16;
  int columns = 0;  // 0: about square
  uint32_t epoch = 0;
  LoaderOptions loader;  // seed, augmentation, threads; the batch is `count`
};

// Writes a PNG grid of the first `count` samples of the epoch's order to `out_path`.
Status WritePreview(const SplitReader* split, int side, const PreviewOptions& options,
                    const std::string& out_path);

}  // namespace petprep
