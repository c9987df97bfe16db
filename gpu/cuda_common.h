// What every CUDA file of gpu/ shares: a CUDA error as a Status naming the call, and device
// memory that frees itself. Compiled by nvcc only (included from .cu files). The device check
// is RequireCudaDevice (pipeline/device/cuda_info.h), asked before any of this runs.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

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

// Device allocations, freed together when this goes out of scope.
class DeviceBuffers {
 public:
  DeviceBuffers() = default;
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;
  ~DeviceBuffers() {
    for (void* p : ptrs_) cudaFree(p);
  }

  // `count` elements of device memory (at least one, so that a pointer exists).
  template <typename T>
  Status Alloc(size_t count, T** dev) {
    void* p = nullptr;
    const size_t bytes = std::max<size_t>(1, count) * sizeof(T);
    PETPREP_RETURN_IF_ERROR(
        CudaStatus(cudaMalloc(&p, bytes), "cudaMalloc of " + std::to_string(bytes) + " bytes"));
    ptrs_.push_back(p);
    *dev = static_cast<T*>(p);
    return Status::Ok();
  }

  // A device copy of host[0, count); a null host pointer gives a null device pointer.
  template <typename T>
  Status Upload(const T* host, size_t count, const T** dev) {
    if (host == nullptr) {
      *dev = nullptr;
      return Status::Ok();
    }
    T* p = nullptr;
    PETPREP_RETURN_IF_ERROR(Alloc(count, &p));
    PETPREP_RETURN_IF_ERROR(
        CudaStatus(cudaMemcpy(p, host, count * sizeof(T), cudaMemcpyHostToDevice),
                   "cudaMemcpy to the device"));
    *dev = p;
    return Status::Ok();
  }

 private:
  std::vector<void*> ptrs_;
};

// host[0, count) <- dev[0, count).
template <typename T>
Status DownloadTo(const T* dev, size_t count, T* host) {
  return CudaStatus(cudaMemcpy(host, dev, count * sizeof(T), cudaMemcpyDeviceToHost),
                    "cudaMemcpy from the device");
}

}  // namespace petprep::gpu
