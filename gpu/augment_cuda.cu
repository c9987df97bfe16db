// CUDA launchers for augmentation. Each thread computes one output pixel by calling the
// PETPREP_HD kernel bodies the CPU runs. The mean gray a contrast change needs is an integer
// sum (atomicAdd on 64-bit integers is exact, so the order threads add in does not matter).
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "gpu/cuda_common.h"
#include "pipeline/augment/augment_backend.h"
#include "pipeline/device/cuda_info.h"

namespace petprep::gpu {
namespace {

__global__ void GeometryKernel(const AugmentParams* params, const uint8_t* images,
                               const uint8_t* masks, int side, uint8_t* rgb, uint8_t* out_masks,
                               unsigned long long* gray_sums) {
  int b = blockIdx.y;
  const AugmentParams p = params[b];
  int n = p.dst * p.dst;
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int u = i % p.dst, v = i / p.dst;
  const uint8_t* src = images + static_cast<size_t>(b) * side * side * 3;
  const uint8_t* src_mask = masks + static_cast<size_t>(b) * side * side;
  uint8_t* px = rgb + (static_cast<size_t>(b) * n + i) * 3;
  AugmentGeometryPixel(p, src, src_mask, u, v, px, out_masks + static_cast<size_t>(b) * n + i);
  atomicAdd(gray_sums + b, static_cast<unsigned long long>(GrayOf(px[0], px[1], px[2])));
}

__global__ void ColorKernel(const AugmentParams* params, uint8_t* rgb,
                            const unsigned long long* gray_sums, float* out) {
  int b = blockIdx.y;
  const AugmentParams p = params[b];
  int n = p.dst * p.dst;
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int mean_gray = static_cast<int>(gray_sums[b] / static_cast<unsigned long long>(n));
  uint8_t* px = rgb + (static_cast<size_t>(b) * n + i) * 3;
  AugmentColorPixel(p, mean_gray, px);
  float* o = out + static_cast<size_t>(b) * 3 * n;
  for (int c = 0; c < 3; ++c) o[c * n + i] = NormalizeValue(p, c, px[c]);
}

Status AugmentBatchOnDevice(const std::vector<AugmentParams>& params, const uint8_t* images,
                           const uint8_t* masks, int side, float* out_images, uint8_t* out_masks) {
  const int b = static_cast<int>(params.size());
  if (b == 0) return Status::Ok();
  const int dst = params[0].dst, n = dst * dst;
  const size_t in_px = static_cast<size_t>(b) * side * side;
  const size_t out_px = static_cast<size_t>(b) * n;
  DeviceBuffers d;
  const AugmentParams* d_params = nullptr;
  const uint8_t *d_images = nullptr, *d_masks = nullptr;
  uint8_t *d_rgb = nullptr, *d_out_masks = nullptr;
  unsigned long long* d_sums = nullptr;
  float* d_out = nullptr;
  PETPREP_RETURN_IF_ERROR(d.Upload(params.data(), params.size(), &d_params));
  PETPREP_RETURN_IF_ERROR(d.Upload(images, in_px * 3, &d_images));
  PETPREP_RETURN_IF_ERROR(d.Upload(masks, in_px, &d_masks));
  PETPREP_RETURN_IF_ERROR(d.Alloc(out_px * 3, &d_rgb));
  PETPREP_RETURN_IF_ERROR(d.Alloc(out_px, &d_out_masks));
  PETPREP_RETURN_IF_ERROR(d.Alloc(static_cast<size_t>(b), &d_sums));
  PETPREP_RETURN_IF_ERROR(d.Alloc(out_px * 3, &d_out));
  PETPREP_RETURN_IF_ERROR(
      CudaStatus(cudaMemset(d_sums, 0, sizeof(unsigned long long) * b), "cudaMemset"));
  dim3 grid((n + 255) / 256, b);
  GeometryKernel<<<grid, 256>>>(d_params, d_images, d_masks, side, d_rgb, d_out_masks, d_sums);
  ColorKernel<<<grid, 256>>>(d_params, d_rgb, d_sums, d_out);
  PETPREP_RETURN_IF_ERROR(LaunchStatus("augment kernels"));
  PETPREP_RETURN_IF_ERROR(DownloadTo(d_out, out_px * 3, out_images));
  return DownloadTo(d_out_masks, out_px, out_masks);
}

class CudaAugmentBackend final : public AugmentBackend {
 public:
  std::string name() const override { return "cuda"; }
  bool per_sample() const override { return false; }
  Status AugmentBatch(const std::vector<AugmentParams>& params, const uint8_t* images,
                      const uint8_t* masks, int side, float* out_images,
                      uint8_t* out_masks) override {
    return AugmentBatchOnDevice(params, images, masks, side, out_images, out_masks);
  }
};

}  // namespace
}  // namespace petprep::gpu

namespace petprep {

Result<std::unique_ptr<AugmentBackend>> NewCudaAugmentBackend() {
  PETPREP_RETURN_IF_ERROR(gpu::RequireCudaDevice());
  return std::unique_ptr<AugmentBackend>(std::make_unique<gpu::CudaAugmentBackend>());
}

}  // namespace petprep
