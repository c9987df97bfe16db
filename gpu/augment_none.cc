// The CUDA augmentation backend's factory in a petprep built without CUDA.
#include "pipeline/augment/augment_backend.h"
#include "pipeline/device/cuda_info.h"

namespace petprep {

Result<std::unique_ptr<AugmentBackend>> NewCudaAugmentBackend() {
  PETPREP_RETURN_IF_ERROR(gpu::RequireCudaDevice());
  return Status::Internal("a CUDA device was found in a build without CUDA");
}

}  // namespace petprep
