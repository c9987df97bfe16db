// CUDA launchers for augmentation. Each thread computes one output pixel by calling the
// PETPREP_HD kernel bodies the CPU runs. The mean gray a contrast change needs is an integer
// sum (atomicAdd on 64-bit integers is exact, so the order threads add in does not matter).
#include <cuda_runtime.h>

#include <string>

#include "gpu/augment_cuda.h"

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

Status Check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  return Status::Unavailable(std::string(what) + ": " + cudaGetErrorName(e) + ": " +
                             cudaGetErrorString(e));
}

}  // namespace

Status AugmentBatchCuda(const std::vector<AugmentParams>& params, const uint8_t* images,
                        const uint8_t* masks, int side, float* out_images, uint8_t* out_masks) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return Status::Unavailable("no CUDA device");
  }
  const int b = static_cast<int>(params.size());
  if (b == 0) return Status::Ok();
  const int dst = params[0].dst, n = dst * dst;
  const size_t in_px = static_cast<size_t>(b) * side * side;
  struct Buffers {
    AugmentParams* params = nullptr;
    uint8_t *images = nullptr, *masks = nullptr, *rgb = nullptr, *out_masks = nullptr;
    unsigned long long* sums = nullptr;
    float* out = nullptr;
    ~Buffers() {
      cudaFree(params);
      cudaFree(images);
      cudaFree(masks);
      cudaFree(rgb);
      cudaFree(out_masks);
      cudaFree(sums);
      cudaFree(out);
    }
  } d;
  PETPREP_RETURN_IF_ERROR(Check(cudaMalloc(&d.params, sizeof(AugmentParams) * b), "cudaMalloc"));
  PETPREP_RETURN_IF_ERROR(Check(cudaMalloc(&d.images, in_px * 3), "cudaMalloc"));
  PETPREP_RETURN_IF_ERROR(Check(cudaMalloc(&d.masks, in_px), "cudaMalloc"));
  PETPREP_RETURN_IF_ERROR(Check(cudaMalloc(&d.rgb, static_cast<size_t>(b) * n * 3), "cudaMalloc"));
  PETPREP_RETURN_IF_ERROR(
      Check(cudaMalloc(&d.out_masks, static_cast<size_t>(b) * n), "cudaMalloc"));
  PETPREP_RETURN_IF_ERROR(Check(cudaMalloc(&d.sums, sizeof(unsigned long long) * b), "cudaMalloc"));
  PETPREP_RETURN_IF_ERROR(Check(cudaMalloc(&d.out, sizeof(float) * b * 3 * n), "cudaMalloc"));
  PETPREP_RETURN_IF_ERROR(
      Check(cudaMemcpy(d.params, params.data(), sizeof(AugmentParams) * b, cudaMemcpyHostToDevice),
            "copy params"));
  PETPREP_RETURN_IF_ERROR(
      Check(cudaMemcpy(d.images, images, in_px * 3, cudaMemcpyHostToDevice), "copy images"));
  PETPREP_RETURN_IF_ERROR(
      Check(cudaMemcpy(d.masks, masks, in_px, cudaMemcpyHostToDevice), "copy masks"));
  PETPREP_RETURN_IF_ERROR(Check(cudaMemset(d.sums, 0, sizeof(unsigned long long) * b), "memset"));
  dim3 grid((n + 255) / 256, b);
  GeometryKernel<<<grid, 256>>>(d.params, d.images, d.masks, side, d.rgb, d.out_masks, d.sums);
  ColorKernel<<<grid, 256>>>(d.params, d.rgb, d.sums, d.out);
  PETPREP_RETURN_IF_ERROR(Check(cudaGetLastError(), "augment kernels"));
  PETPREP_RETURN_IF_ERROR(
      Check(cudaMemcpy(out_images, d.out, sizeof(float) * b * 3 * n, cudaMemcpyDeviceToHost),
            "copy images back"));
  return Check(
      cudaMemcpy(out_masks, d.out_masks, static_cast<size_t>(b) * n, cudaMemcpyDeviceToHost),
      "copy masks back");
}

}  // namespace petprep::gpu
