// Image resizing with integer arithmetic only, so every machine and the GPU get the same
// bytes. Each kernel body is a PETPREP_HD function; the CPU loops below call them.
//
// Bilinear (images), modelled on OpenCV's INTER_LINEAR_EXACT. For an output column x of
// dst_w from src_w, the source position is the pixel-centre mapping
//     sx = ((2x + 1) * src_w - dst_w) / (2 * dst_w)          (exact rational)
// clamped at 0; x0 = floor(sx), x1 = min(x0 + 1, src_w - 1), and the weight of x1 is
//     w1 = round(frac(sx) * 2048) = (2 * rem * 2048 + den) / (2 * den),  w0 = 2048 - w1
// (11-bit weights; rows likewise). A pixel is
//     h(row)  = p[x0] * w0 + p[x1] * w1                       (horizontal, exact in uint32)
//     out     = (h(y0) * v0 + h(y1) * v1 + 2^21) >> 22        (vertical, round half up)
// Like TensorFlow's resize without antialiasing, it samples 4 neighbours whatever the ratio.
//
// Nearest neighbour (masks: no value is ever invented): source pixel floor(x * src_w / dst_w).
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/core/hd.h"
#include "pipeline/core/image.h"

namespace petprep {

struct AxisTap {
  int i0, i1;       // source indices
  uint32_t w0, w1;  // weights, w0 + w1 = 2048
};

PETPREP_HD_INLINE AxisTap BilinearTap(int x, int src, int dst) {
  int64_t num = static_cast<int64_t>(2 * x + 1) * src - dst;
  int64_t den = 2 * static_cast<int64_t>(dst);
  AxisTap t;
  if (num <= 0) {
    t.i0 = 0;
    t.i1 = 0;
    t.w0 = 2048;
    t.w1 = 0;
    return t;
  }
  int64_t i0 = num / den;
  int64_t rem = num - i0 * den;
  uint32_t w1 = static_cast<uint32_t>((2 * rem * 2048 + den) / (2 * den));
  t.i0 = static_cast<int>(i0 < src - 1 ? i0 : src - 1);
  t.i1 = static_cast<int>(i0 + 1 < src - 1 ? i0 + 1 : src - 1);
  t.w0 = 2048 - w1;
  t.w1 = w1;
  return t;
}

// One output value of channel c at (x, y) from an interleaved source (HWC, `channels`).
PETPREP_HD_INLINE uint8_t BilinearPixel(const uint8_t* src, int src_w, int channels, AxisTap tx,
                                        AxisTap ty, int c) {
  const uint8_t* r0 = src + static_cast<int64_t>(ty.i0) * src_w * channels;
  const uint8_t* r1 = src + static_cast<int64_t>(ty.i1) * src_w * channels;
  uint32_t h0 = r0[tx.i0 * channels + c] * tx.w0 + r0[tx.i1 * channels + c] * tx.w1;
  uint32_t h1 = r1[tx.i0 * channels + c] * tx.w0 + r1[tx.i1 * channels + c] * tx.w1;
  return static_cast<uint8_t>((h0 * ty.w0 + h1 * ty.w1 + (1u << 21)) >> 22);
}

PETPREP_HD_INLINE int NearestIndex(int x, int src, int dst) {
  return static_cast<int>(static_cast<int64_t>(x) * src / dst);
}

// CPU loops over the kernels above.
Image ResizeBilinear(const Image& src, int dst_w, int dst_h);
Image ResizeNearest(const Image& src, int dst_w, int dst_h);

}  // namespace petprep
