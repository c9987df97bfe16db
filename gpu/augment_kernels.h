// The augmentation kernels of the CUDA and the simulated augmentation backends, written once:
// each functor is one CUDA thread (launch.h), computing one output pixel with augment.h's
// PETPREP_HD bodies, so every backend gives the CPU's bytes. The mean gray a contrast change
// needs is an integer sum: a 64-bit integer atomic add is exact, so the order threads add in
// does not matter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gpu/launch.h"
#include "pipeline/augment/augment.h"
#include "pipeline/augment/augment_backend.h"
#include "pipeline/core/status.h"

namespace petprep::gpu {

// Grid (pixels / 256, batch): the geometry of each sample, and its gray sum.
struct AugmentGeometryK {
  const AugmentParams* params;
  const uint8_t* images;
  const uint8_t* masks;
  int side;
  uint8_t* rgb;
  uint8_t* out_masks;
  unsigned long long* gray_sums;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    const int b = static_cast<int>(t.block.y);
    const AugmentParams p = params[b];
    const int n = p.dst * p.dst;
    const int64_t i = t.x();
    if (i >= n) return;
    const int u = static_cast<int>(i % p.dst), v = static_cast<int>(i / p.dst);
    const uint8_t* src = images + static_cast<size_t>(b) * side * side * 3;
    const uint8_t* src_mask = masks + static_cast<size_t>(b) * side * side;
    uint8_t* px = rgb + (static_cast<size_t>(b) * n + i) * 3;
    AugmentGeometryPixel(p, src, src_mask, u, v, px, out_masks + static_cast<size_t>(b) * n + i);
    AtomicAddU64(gray_sums + b, static_cast<unsigned long long>(GrayOf(px[0], px[1], px[2])));
  }
};

// The colour jitter around each sample's mean gray, then the normalisation into CHW floats.
struct AugmentColorK {
  const AugmentParams* params;
  uint8_t* rgb;
  const unsigned long long* gray_sums;
  float* out;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    const int b = static_cast<int>(t.block.y);
    const AugmentParams p = params[b];
    const int n = p.dst * p.dst;
    const int64_t i = t.x();
    if (i >= n) return;
    const int mean_gray = static_cast<int>(gray_sums[b] / static_cast<unsigned long long>(n));
    uint8_t* px = rgb + (static_cast<size_t>(b) * n + i) * 3;
    AugmentColorPixel(p, mean_gray, px);
    float* o = out + static_cast<size_t>(b) * 3 * n;
    for (int c = 0; c < 3; ++c) o[c * n + i] = NormalizeValue(p, c, px[c]);
  }
};

// A batch through the two kernels on `rt` (CudaRuntime or SimRuntime): one copy in of the
// decoded samples and their parameters, one copy out of the floats and the masks.
template <typename Runtime>
Status AugmentBatchOn(Runtime* rt, const std::vector<AugmentParams>& params, const uint8_t* images,
                      const uint8_t* masks, int side, float* out_images, uint8_t* out_masks) {
  const int b = static_cast<int>(params.size());
  if (b == 0) return Status::Ok();
  const int dst = params[0].dst, n = dst * dst;
  const size_t in_px = static_cast<size_t>(b) * side * side;
  const size_t out_px = static_cast<size_t>(b) * n;
  RuntimeBuffers<Runtime> d(rt);
  AugmentParams* d_params = nullptr;
  uint8_t *d_images = nullptr, *d_masks = nullptr, *d_rgb = nullptr, *d_out_masks = nullptr;
  unsigned long long* d_sums = nullptr;
  float* d_out = nullptr;
  PETPREP_RETURN_IF_ERROR(d.Alloc(params.size(), &d_params));
  PETPREP_RETURN_IF_ERROR(d.Alloc(in_px * 3, &d_images));
  PETPREP_RETURN_IF_ERROR(d.Alloc(in_px, &d_masks));
  PETPREP_RETURN_IF_ERROR(d.Alloc(out_px * 3, &d_rgb));
  PETPREP_RETURN_IF_ERROR(d.Alloc(out_px, &d_out_masks));
  PETPREP_RETURN_IF_ERROR(d.Alloc(static_cast<size_t>(b), &d_sums));
  PETPREP_RETURN_IF_ERROR(d.Alloc(out_px * 3, &d_out));
  PETPREP_RETURN_IF_ERROR(
      rt->ToDevice(d_params, params.data(), params.size() * sizeof(AugmentParams)));
  PETPREP_RETURN_IF_ERROR(rt->ToDevice(d_images, images, in_px * 3));
  PETPREP_RETURN_IF_ERROR(rt->ToDevice(d_masks, masks, in_px));
  PETPREP_RETURN_IF_ERROR(rt->Zero(d_sums, sizeof(unsigned long long) * b));
  Dim3u grid = GridFor(n);
  grid.y = static_cast<unsigned>(b);
  PETPREP_RETURN_IF_ERROR(
      rt->Launch(grid, BlockDim(),
                 AugmentGeometryK{d_params, d_images, d_masks, side, d_rgb, d_out_masks, d_sums}));
  PETPREP_RETURN_IF_ERROR(
      rt->Launch(grid, BlockDim(), AugmentColorK{d_params, d_rgb, d_sums, d_out}));
  PETPREP_RETURN_IF_ERROR(rt->ToHost(out_images, d_out, out_px * 3 * sizeof(float)));
  return rt->ToHost(out_masks, d_out_masks, out_px);
}

// The augmentation backend over a runtime: a batch at a time, as AugmentBatchOn does it.
template <typename Runtime>
class DeviceAugmentBackend final : public AugmentBackend {
 public:
  std::string name() const override { return Runtime::kName; }
  bool per_sample() const override { return false; }
  Status AugmentBatch(const std::vector<AugmentParams>& params, const uint8_t* images,
                      const uint8_t* masks, int side, float* out_images,
                      uint8_t* out_masks) override {
    return AugmentBatchOn(&rt_, params, images, masks, side, out_images, out_masks);
  }

 private:
  Runtime rt_;
};

}  // namespace petprep::gpu
