// The CUDA backend's code on the simulated device.
#include "gpu/device_backend.h"
#include "gpu/runtime_sim.h"

namespace petprep {

std::unique_ptr<Backend> NewCudaSimBackend() {
  return std::make_unique<gpu::DeviceBackend<gpu::SimRuntime>>();
}

}  // namespace petprep
