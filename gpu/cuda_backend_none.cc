// The CUDA backend's factory in a petprep built without CUDA.
#include "pipeline/device/cuda_info.h"
#include "pipeline/train/backend.h"

namespace petprep {

Result<std::unique_ptr<Backend>> NewCudaBackend() {
  PETPREP_RETURN_IF_ERROR(gpu::RequireCudaDevice());
  return Status::Internal("a CUDA device was found in a build without CUDA");
}

}  // namespace petprep
