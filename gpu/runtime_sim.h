// The simulated device: the runtime the CUDA backend's code runs on where no GPU is.
//
// Each device buffer is a separate host allocation (so a sanitizer sees an index out of range
// as the overrun of its own buffer), copies are memcpy, and a launch calls the kernel functor
// once per (block, thread) index of the grid it was given, blocks spread over oneTBB threads
// (the kernels share nothing between threads but exact integer atomics). Only the CUDA runtime
// calls themselves are not exercised here; everything above them — the sequence of kernels,
// their launch geometry, their index arithmetic, the buffer handling — is the CUDA backend's.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <string>
#include <unordered_map>

#include "gpu/launch.h"
#include "pipeline/core/status.h"
#include "pipeline/train/backend.h"

namespace petprep::gpu {

class SimRuntime {
 public:
  static constexpr const char* kName = "cuda-sim";

  // memory_limit: 0 for none; otherwise the simulated device's size, so that an allocation
  // beyond it fails as on a full GPU.
  explicit SimRuntime(size_t memory_limit = 0) : limit_(memory_limit) {}

  Status Malloc(size_t bytes, void** p) {
    *p = nullptr;
    if (limit_ != 0 && in_use_ + bytes > limit_) {
      return Status::Unavailable("out of device memory: " + std::to_string(bytes) +
                                 " bytes needed, " + std::to_string(limit_ - in_use_) + " of " +
                                 std::to_string(limit_) + " free (the simulated device)");
    }
    *p = new (std::nothrow) unsigned char[bytes == 0 ? 1 : bytes];
    if (*p == nullptr) {
      return Status::Unavailable("out of device memory: " + std::to_string(bytes) +
                                 " bytes needed (the simulated device: host memory is full)");
    }
    sizes_[*p] = bytes;
    in_use_ += bytes;
    return Status::Ok();
  }
  void Free(void* p) {
    auto it = sizes_.find(p);
    if (it != sizes_.end()) {
      in_use_ -= it->second;
      sizes_.erase(it);
    }
    delete[] static_cast<unsigned char*>(p);
  }
  Status ToDevice(void* dst, const void* src, size_t bytes) {
    ++counts_.to_device;
    counts_.bytes_to_device += bytes;
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  Status ToHost(void* dst, const void* src, size_t bytes) {
    ++counts_.to_host;
    counts_.bytes_to_host += bytes;
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  Status OnDevice(void* dst, const void* src, size_t bytes) {
    std::memmove(dst, src, bytes);
    return Status::Ok();
  }
  Status Zero(void* p, size_t bytes) {
    std::memset(p, 0, bytes);
    return Status::Ok();
  }
  Status Synchronize() {
    ++counts_.synchronizations;
    return Status::Ok();
  }
  template <typename K>
  Status Launch(Dim3u grid, Dim3u block, const K& kernel) {
    ++counts_.launches;
    const int64_t blocks = static_cast<int64_t>(grid.x) * grid.y * grid.z;
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, blocks, 4), [&](const tbb::blocked_range<int64_t>& r) {
          ThreadPos t;
          t.grid_dim = grid;
          t.block_dim = block;
          for (int64_t b = r.begin(); b < r.end(); ++b) {
            t.block.x = static_cast<unsigned>(b % grid.x);
            t.block.y = static_cast<unsigned>((b / grid.x) % grid.y);
            t.block.z = static_cast<unsigned>(b / (static_cast<int64_t>(grid.x) * grid.y));
            for (unsigned z = 0; z < block.z; ++z) {
              for (unsigned y = 0; y < block.y; ++y) {
                for (unsigned x = 0; x < block.x; ++x) {
                  t.thread = Dim3u{x, y, z};
                  kernel(t);
                }
              }
            }
          }
        });
    return Status::Ok();
  }
  const TransferCounts& counts() const { return counts_; }
  std::string Describe() const {
    return "cuda-sim (the CUDA backend's kernels run on the host, one call per thread index)";
  }

 private:
  TransferCounts counts_;
  size_t limit_ = 0, in_use_ = 0;
  std::unordered_map<void*, size_t> sizes_;
};

}  // namespace petprep::gpu
