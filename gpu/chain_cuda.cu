// The dot and gradient chains on the device: the same PETPREP_HD bodies as the CPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gpu/cuda_common.h"
#include "pipeline/device/cuda_info.h"
#include "pipeline/train/chain_device.h"
#include "pipeline/train/kernels.h"

namespace petprep::gpu {
namespace {

// Outputs (n, co, y, x) flattened; every pointer in p is a device pointer.
__global__ void DotKernel(DotPlan<float> p, int64_t total) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int x = static_cast<int>(i % p.w_out);
  const int y = static_cast<int>((i / p.w_out) % p.h);
  const int co = static_cast<int>((i / (static_cast<int64_t>(p.w_out) * p.h)) % p.co);
  const int n = static_cast<int>(i / (static_cast<int64_t>(p.w_out) * p.h * p.co));
  const float init = p.init != nullptr ? p.init[co] : 0.0f;
  const float v = ChainDot(p.src + n * p.src_n + y * p.rs + x, p.off, p.k_count,
                           p.w + static_cast<int64_t>(co) * p.k_count, init);
  p.out[n * p.out_n + (static_cast<int64_t>(co) * p.h + y) * p.w_out + x] = v;
}

// Outputs (c, k); the images' partials combine in order, ((P_0 + P_1) + P_2) + ...
__global__ void GradKernel(GradPlan<float> p) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<int64_t>(p.c_count) * p.k_count) return;
  const int c = static_cast<int>(i / p.k_count), k = static_cast<int>(i % p.k_count);
  float acc = 0.0f;
  for (int n = 0; n < p.n; ++n) {
    const float part =
        ChainGrad(p.g + n * p.g_n + c, p.gs, p.src + n * p.src_n + p.off[k], p.rs, p.h, p.w);
    acc = n == 0 ? part : acc + part;
  }
  p.out[i] = acc;
}

int64_t MaxOffset(const int64_t* off, int count) {
  int64_t m = 0;
  for (int k = 0; k < count; ++k) m = std::max(m, off[k]);
  return m;
}

Status Finish(float* dev, float* host, size_t count) {
  PETPREP_RETURN_IF_ERROR(LaunchStatus("chain kernel"));
  return DownloadTo(dev, count, host);
}

}  // namespace

Status ChainDeviceAvailable() { return RequireCudaDevice(); }

Status RunDotOnDevice(const DotPlan<float>& p) {
  if (p.n == 0 || p.co == 0 || p.h == 0 || p.w_out == 0) return Status::Ok();
  DeviceBuffers b;
  DotPlan<float> d = p;
  const size_t src = (p.n - 1) * p.src_n + MaxOffset(p.off, p.k_count) + (p.h - 1) * p.rs + p.w_out;
  const size_t out = (p.n - 1) * p.out_n + static_cast<size_t>(p.co) * p.h * p.w_out;
  PETPREP_RETURN_IF_ERROR(b.Upload(p.src, src, &d.src));
  PETPREP_RETURN_IF_ERROR(b.Upload(p.off, p.k_count, &d.off));
  PETPREP_RETURN_IF_ERROR(b.Upload(p.w, static_cast<size_t>(p.co) * p.k_count, &d.w));
  PETPREP_RETURN_IF_ERROR(b.Upload(p.init, p.co, &d.init));
  PETPREP_RETURN_IF_ERROR(b.Alloc(out, &d.out));
  const int64_t total = static_cast<int64_t>(p.n) * p.co * p.h * p.w_out;
  DotKernel<<<static_cast<unsigned>((total + 255) / 256), 256>>>(d, total);
  // Only the outputs' own elements come back (out_n may leave gaps between images).
  PETPREP_RETURN_IF_ERROR(LaunchStatus("chain kernel"));
  for (int n = 0; n < p.n; ++n) {
    const size_t count = static_cast<size_t>(p.co) * p.h * p.w_out;
    PETPREP_RETURN_IF_ERROR(DownloadTo(d.out + n * p.out_n, count, p.out + n * p.out_n));
  }
  return Status::Ok();
}

Status RunGradOnDevice(const GradPlan<float>& p) {
  if (p.c_count == 0 || p.k_count == 0) return Status::Ok();
  DeviceBuffers b;
  GradPlan<float> d = p;
  const size_t g = (p.n - 1) * p.g_n + static_cast<size_t>(p.h) * p.w * p.gs;
  const size_t src = (p.n - 1) * p.src_n + MaxOffset(p.off, p.k_count) + (p.h - 1) * p.rs + p.w;
  const size_t out = static_cast<size_t>(p.c_count) * p.k_count;
  PETPREP_RETURN_IF_ERROR(b.Upload(p.g, g, &d.g));
  PETPREP_RETURN_IF_ERROR(b.Upload(p.src, src, &d.src));
  PETPREP_RETURN_IF_ERROR(b.Upload(p.off, p.k_count, &d.off));
  PETPREP_RETURN_IF_ERROR(b.Alloc(out, &d.out));
  GradKernel<<<static_cast<unsigned>((out + 255) / 256), 256>>>(d);
  return Finish(d.out, p.out, out);
}

}  // namespace petprep::gpu
