// Launch geometry shared by the CUDA device and the simulated one: a kernel is a functor whose
// PETPREP_HD operator()(const ThreadPos&) computes what one CUDA thread computes. On a device
// it runs as a __global__ launch (runtime_cuda.h); on the simulated device (runtime_sim.h)
// the host calls it once per (block, thread) index of the same grid. The kernels use no shared
// memory and no barriers, and only integer atomics (exact in any order): a thread's result
// depends on its index alone, so the order the simulator visits them in cannot matter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pipeline/core/hd.h"
#include "pipeline/core/status.h"

namespace petprep::gpu {

struct Dim3u {
  unsigned x = 1, y = 1, z = 1;
};

struct ThreadPos {
  Dim3u block, thread, grid_dim, block_dim;
  // The flat x index of the thread in the grid.
  PETPREP_HD_INLINE int64_t x() const {
    return static_cast<int64_t>(block.x) * block_dim.x + thread.x;
  }
};

// Threads per block of every kernel: 256 in x.
constexpr unsigned kBlockThreads = 256;

// A 1-D grid covering n threads.
inline Dim3u GridFor(int64_t n) {
  Dim3u g;
  g.x = static_cast<unsigned>((n + kBlockThreads - 1) / kBlockThreads);
  if (g.x == 0) g.x = 1;
  return g;
}
inline Dim3u BlockDim() {
  Dim3u b;
  b.x = kBlockThreads;
  return b;
}

// An exact integer atomic add (the confusion counts, augmentation's gray sums).
PETPREP_HD_INLINE void AtomicAddU32(uint32_t* p, uint32_t v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(reinterpret_cast<unsigned int*>(p), v);
#else
  __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
#endif
}
PETPREP_HD_INLINE void AtomicAddU64(unsigned long long* p, unsigned long long v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
#endif
}

// Allocations on a runtime (CudaRuntime, SimRuntime), freed together when this goes out of scope.
template <typename Runtime>
class RuntimeBuffers {
 public:
  explicit RuntimeBuffers(Runtime* rt) : rt_(rt) {}
  RuntimeBuffers(const RuntimeBuffers&) = delete;
  RuntimeBuffers& operator=(const RuntimeBuffers&) = delete;
  ~RuntimeBuffers() {
    for (void* p : ptrs_) rt_->Free(p);
  }
  template <typename T>
  Status Alloc(size_t count, T** p) {
    void* raw = nullptr;
    PETPREP_RETURN_IF_ERROR(rt_->Malloc(count * sizeof(T), &raw));
    ptrs_.push_back(raw);
    *p = static_cast<T*>(raw);
    return Status::Ok();
  }

 private:
  Runtime* rt_;
  std::vector<void*> ptrs_;
};

}  // namespace petprep::gpu
