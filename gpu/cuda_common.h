// What every CUDA file of gpu/ shares: a CUDA error as a Status naming the call. Compiled by
// nvcc only (included from .cu files). Device memory goes through CudaRuntime
// (runtime_cuda.h) and RuntimeBuffers (launch.h); the device check is RequireCudaDevice
// (pipeline/device/cuda_info.h), asked before any of this runs.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "pipeline/core/status.h"

namespace petprep::gpu {

// OK for cudaSuccess; otherwise kUnavailable "<what>: <error name> (<description>)". A
// failed allocation says how many bytes were asked for.
inline Status CudaStatus(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  return Status::Unavailable(what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                             ")");
}

// The launch error of the kernels just queued, if any.
inline Status LaunchStatus(const std::string& what) {
  return CudaStatus(cudaGetLastError(), what + " (kernel launch)");
}

}  // namespace petprep::gpu
