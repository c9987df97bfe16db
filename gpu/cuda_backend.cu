// The CUDA backend on a GPU: device_backend.h over the CUDA runtime.
#include "gpu/device_backend.h"
#include "gpu/runtime_cuda.h"

namespace petprep {
namespace gpu {

std::string CudaRuntime::Describe() const {
  int device = 0;
  cudaGetDevice(&device);
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "cuda";
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  return std::string("cuda: ") + prop.name + " (sm_" + std::to_string(prop.major) +
         std::to_string(prop.minor) + ", driver " + CudaVersionString(driver) + ", runtime " +
         CudaVersionString(runtime) + ")";
}

}  // namespace gpu

Result<std::unique_ptr<Backend>> NewCudaBackend() {
  PETPREP_RETURN_IF_ERROR(gpu::RequireCudaDevice());
  return std::unique_ptr<Backend>(std::make_unique<gpu::DeviceBackend<gpu::CudaRuntime>>());
}

}  // namespace petprep
