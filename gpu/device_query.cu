// CUDA build of the device query.
#include <cuda_runtime.h>

#include <string>

#include "pipeline/device/cuda_info.h"

namespace petprep::gpu {

CudaInfo QueryCuda() {
  CudaInfo info;
  info.built = true;
  cudaRuntimeGetVersion(&info.runtime_version);
  if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    const std::string what = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    if (info.driver_version == 0) {
      info.error = "no CUDA driver is installed (" + what + ")";
    } else if (err == cudaErrorInsufficientDriver) {
      info.error = "the CUDA driver (" + CudaVersionString(info.driver_version) +
                   ") is older than the runtime petprep was built with (" +
                   CudaVersionString(info.runtime_version) + ")";
    } else {
      info.error = what;
    }
    cudaGetLastError();  // clear the sticky error state for later callers
    return info;
  }
  if (count == 0) info.error = "the driver reports 0 devices";
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDevice d;
    d.index = i;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    d.multiprocessors = prop.multiProcessorCount;
    if (cudaDeviceGetAttribute(&d.clock_khz, cudaDevAttrClockRate, i) != cudaSuccess) {
      d.clock_khz = 0;
      cudaGetLastError();
    }
    info.devices.push_back(d);
  }
  return info;
}

}  // namespace petprep::gpu
