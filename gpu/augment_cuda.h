// Augmentation of a batch on a CUDA device, with the kernel bodies of
// pipeline/augment/augment.h: the same bytes as the CPU path.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/augment/augment.h"
#include "pipeline/core/status.h"

namespace petprep::gpu {

// images: B samples of side x side x 3 uint8 (HWC), masks: B x side x side, all from the
// same-size records; params: one per sample (params[i].src_w == src_h == side).
// Writes out_images (B x 3 x dst x dst float) and out_masks (B x dst x dst) in host memory.
// kUnavailable when petprep was built without CUDA or there is no device.
Status AugmentBatchCuda(const std::vector<AugmentParams>& params, const uint8_t* images,
                        const uint8_t* masks, int side, float* out_images, uint8_t* out_masks);

}  // namespace petprep::gpu
