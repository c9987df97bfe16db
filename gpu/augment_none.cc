// Build of the CUDA augmentation entry point for a petprep compiled without CUDA.
#include "gpu/augment_cuda.h"

namespace petprep::gpu {

Status AugmentBatchCuda(const std::vector<AugmentParams>&, const uint8_t*, const uint8_t*, int,
                        float*, uint8_t*) {
  return Status::Unavailable("no CUDA device (petprep was built without CUDA)");
}

}  // namespace petprep::gpu
