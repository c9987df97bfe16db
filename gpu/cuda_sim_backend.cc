// The CUDA backend's code on the simulated device.
#include "gpu/device_backend.h"
#include "gpu/runtime_sim.h"

namespace petprep {

std::unique_ptr<Backend> NewCudaSimBackend(size_t memory_limit) {
  return std::make_unique<gpu::DeviceBackend<gpu::SimRuntime>>(
      std::make_shared<gpu::SimRuntime>(memory_limit));
}

}  // namespace petprep
