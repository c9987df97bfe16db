// The simulated augmentation backend: the CUDA augmentation backend's kernels and buffer
// handling (augment_kernels.h) on the simulated device.
#include <memory>

#include "gpu/augment_kernels.h"
#include "gpu/runtime_sim.h"
#include "pipeline/augment/augment_backend.h"

namespace petprep {

std::unique_ptr<AugmentBackend> NewCudaSimAugmentBackend() {
  return std::make_unique<gpu::DeviceAugmentBackend<gpu::SimRuntime>>();
}

}  // namespace petprep
