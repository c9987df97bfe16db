// The CUDA runtime under the CUDA backend: device memory, copies on the default stream, and
// launches of launch.h's functors as __global__ kernels. Compiled by nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "gpu/cuda_common.h"
#include "gpu/launch.h"
#include "pipeline/device/cuda_info.h"
#include "pipeline/train/backend.h"

namespace petprep::gpu {

template <typename K>
__global__ void RunKernel(K kernel) {
  ThreadPos t;
  t.block = Dim3u{blockIdx.x, blockIdx.y, blockIdx.z};
  t.thread = Dim3u{threadIdx.x, threadIdx.y, threadIdx.z};
  t.grid_dim = Dim3u{gridDim.x, gridDim.y, gridDim.z};
  t.block_dim = Dim3u{blockDim.x, blockDim.y, blockDim.z};
  kernel(t);
}

class CudaRuntime {
 public:
  static constexpr const char* kName = "cuda";

  Status Malloc(size_t bytes, void** p) {
    const cudaError_t e = cudaMalloc(p, bytes == 0 ? 1 : bytes);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total = 0;
      cudaMemGetInfo(&free_bytes, &total);
      return Status::Unavailable("out of device memory: " + std::to_string(bytes) +
                                 " bytes needed, " + std::to_string(free_bytes) + " of " +
                                 std::to_string(total) + " free");
    }
    return CudaStatus(e, "cudaMalloc of " + std::to_string(bytes) + " bytes");
  }
  void Free(void* p) { cudaFree(p); }
  Status ToDevice(void* dst, const void* src, size_t bytes) {
    ++counts_.to_device;
    counts_.bytes_to_device += bytes;
    return CudaStatus(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to the device");
  }
  Status ToHost(void* dst, const void* src, size_t bytes) {
    ++counts_.to_host;
    counts_.bytes_to_host += bytes;
    return CudaStatus(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy to the host");
  }
  Status OnDevice(void* dst, const void* src, size_t bytes) {
    return CudaStatus(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice),
                      "copy on the device");
  }
  Status Zero(void* p, size_t bytes) { return CudaStatus(cudaMemsetAsync(p, 0, bytes), "memset"); }
  Status Synchronize() {
    ++counts_.synchronizations;
    return CudaStatus(cudaDeviceSynchronize(), "synchronize");
  }
  template <typename K>
  Status Launch(Dim3u grid, Dim3u block, const K& kernel) {
    ++counts_.launches;
    RunKernel<K><<<dim3(grid.x, grid.y, grid.z), dim3(block.x, block.y, block.z)>>>(kernel);
    return CudaStatus(cudaGetLastError(), "kernel launch");
  }
  const TransferCounts& counts() const { return counts_; }
  std::string Describe() const;

 private:
  TransferCounts counts_;
};

}  // namespace petprep::gpu
