// The CUDA augmentation backend: augment_kernels.h over the CUDA runtime.
#include <memory>

#include "gpu/augment_kernels.h"
#include "gpu/runtime_cuda.h"
#include "pipeline/augment/augment_backend.h"
#include "pipeline/device/cuda_info.h"

namespace petprep {

Result<std::unique_ptr<AugmentBackend>> NewCudaAugmentBackend() {
  PETPREP_RETURN_IF_ERROR(gpu::RequireCudaDevice());
  return std::unique_ptr<AugmentBackend>(
      std::make_unique<gpu::DeviceAugmentBackend<gpu::CudaRuntime>>());
}

}  // namespace petprep
