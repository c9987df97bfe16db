// Seeded augmentation, declared once (AugmentSpec), drawn once per sample (AugmentParams)
// and computed by PETPREP_HD kernels that the CPU loops and the CUDA launchers share.
//
// Draws: stream PhiloxStream(DeriveKey(seed, kAugment), sample key, epoch); draw d is the
// d-th word: 0 flip, 1 crop scale, 2 crop ratio, 3 crop x, 4 crop y, 5 rotation, 6 brightness,
// 7 contrast, 8 saturation. Every word is drawn whether or not its transform is on, so
// turning one transform on never changes another's values.
//
// Geometry (image and mask from the same draw), for output pixel (u, v) of S x S:
//   crop: area fraction a in [scale lo, hi], aspect r in [ratio lo, hi] (uniform), cw =
//     min(W, sqrt(a * r) * W), ch = min(H, sqrt(a / r) * H), corner uniform in the room left;
//     off: the whole image
//   fu = (u + 0.5) * cw / S, mirrored to cw - fu on a flip; fv = (v + 0.5) * ch / S
//   rotation by t about the crop centre: x = cx + cos t * dx - sin t * dy, y = cy + sin t *
//     dx + cos t * dy with dx = fu - cw / 2, dy = fv - ch / 2 (petprep's own sin and cos)
//   image: bilinear at (x - 0.5, y - 0.5) with 11-bit weights, edges replicated;
//   mask: nearest, floor(x), floor(y), clamped: no new class value ever appears.
// Colour, in integer arithmetic on 8-bit values (q = round((1 + j) * 256)):
//   brightness v = clamp((v * qb + 128) >> 8); contrast v = clamp(m + round((v - m) * qc /
//   256)) with m the mean gray (77 R + 150 G + 29 B + 128) >> 8 of the image after brightness
//   (an integer sum: any order gives the same m); saturation per pixel around its own gray.
// Normalize: "reference" x / 128 - 1 (exact in float), or (x / 255 - mean) / std per channel.
// Float operations are IEEE single precision with no contraction on both CPU and GPU.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/core/arithmetic_guard.h"
#include "pipeline/core/hd.h"
#include "pipeline/core/philox.h"
#include "pipeline/core/status.h"

namespace petprep {

struct AugmentSpec {
  float flip_p = 0.5f;
  bool crop = false;
  float crop_scale[2] = {0.08f, 1.0f};
  float crop_ratio[2] = {0.75f, 1.3333334f};
  float rotate_deg = 0.0f;
  float brightness = 0.0f, contrast = 0.0f, saturation = 0.0f;
  bool reference_normalize = true;
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};

  // The spec from JSON text; an unknown key or a value out of range is an error naming the
  // key and the allowed range. `source` names where the text came from.
  static Result<AugmentSpec> FromJson(const std::string& text, const std::string& source);
  static Result<AugmentSpec> FromFile(const std::string& path);
  // No augmentation: no flip, no crop, no jitter; reference normalization.
  static AugmentSpec None();
  std::string ToJson() const;  // canonical, for provenance
};

// Everything one sample's augmentation needs, plain data for a kernel argument.
struct AugmentParams {
  int src_w, src_h, dst;  // source size, output side
  int flip;
  float crop_x, crop_y, crop_w, crop_h;
  float cos_t, sin_t;
  int q_brightness, q_contrast, q_saturation;  // (1 + j) * 256, rounded
  int reference_normalize;
  float mean[3], inv_std[3];
};

// sin and cos for |x| <= pi/4 (Taylor to x^9 / x^8, Horner order); identical on CPU and GPU.
PETPREP_HD_INLINE float PetSin(float x) {
  float x2 = x * x;
  float p = 1.0f / 362880.0f;
  p = p * x2 - 1.0f / 5040.0f;
  p = p * x2 + 1.0f / 120.0f;
  p = p * x2 - 1.0f / 6.0f;
  p = p * x2 + 1.0f;
  return p * x;
}
PETPREP_HD_INLINE float PetCos(float x) {
  float x2 = x * x;
  float p = 1.0f / 40320.0f;
  p = p * x2 - 1.0f / 720.0f;
  p = p * x2 + 1.0f / 24.0f;
  p = p * x2 - 0.5f;
  p = p * x2 + 1.0f;
  return p;
}

PETPREP_HD_INLINE int ClampByte(int v) { return v < 0 ? 0 : (v > 255 ? 255 : v); }

// round(x / 256) for |x| < 2^24, with the same result for negative x on every compiler.
PETPREP_HD_INLINE int RoundDiv256(int x) { return ((x + 128 + (1 << 24)) >> 8) - (1 << 16); }

PETPREP_HD_INLINE int GrayOf(int r, int g, int b) { return (77 * r + 150 * g + 29 * b + 128) >> 8; }

// The crop-relative offsets of output column u and row v from the crop centre.
PETPREP_HD_INLINE float ColumnOffset(const AugmentParams& p, int u) {
  float fu = (static_cast<float>(u) + 0.5f) * p.crop_w / static_cast<float>(p.dst);
  if (p.flip) fu = p.crop_w - fu;
  return fu - p.crop_w * 0.5f;
}
PETPREP_HD_INLINE float RowOffset(const AugmentParams& p, int v) {
  float fv = (static_cast<float>(v) + 0.5f) * p.crop_h / static_cast<float>(p.dst);
  return fv - p.crop_h * 0.5f;
}

// Where one source coordinate (continuous, pixel centres at i + 0.5) samples along an axis
// of `size` pixels: the mask's nearest index and the image's two bilinear taps.
struct AxisSample {
  int nearest, i0, i1;
  uint32_t w1;  // weight of i1 in 1/2048
};

PETPREP_HD_INLINE AxisSample SampleAxis(float coord, int size) {
  AxisSample a;
  int m = static_cast<int>(coord >= 0.0f ? coord : 0.0f);
  a.nearest = m < size - 1 ? m : size - 1;
  float s = coord - 0.5f, max = static_cast<float>(size - 1);
  s = s < 0.0f ? 0.0f : (s > max ? max : s);  // edges replicated
  a.i0 = static_cast<int>(s);
  a.i1 = a.i0 + 1 < size ? a.i0 + 1 : a.i0;
  a.w1 = static_cast<uint32_t>((s - static_cast<float>(a.i0)) * 2048.0f + 0.5f);
  return a;
}

// The output pixel sampled at (ax, ay): RGB after brightness, and the mask class.
PETPREP_HD_INLINE void SampleAt(const AugmentParams& p, const uint8_t* src, const uint8_t* src_mask,
                                const AxisSample& ax, const AxisSample& ay, uint8_t* rgb,
                                uint8_t* cls) {
  *cls = src_mask[ay.nearest * p.src_w + ax.nearest];
  const uint8_t* r0 = src + (ay.i0 * p.src_w) * 3;
  const uint8_t* r1 = src + (ay.i1 * p.src_w) * 3;
  for (int c = 0; c < 3; ++c) {
    // Every partial sum fits in 32 bits: 255 * 2048 * 2048 < 2^31.
    uint32_t top = r0[ax.i0 * 3 + c] * (2048 - ax.w1) + r0[ax.i1 * 3 + c] * ax.w1;
    uint32_t bottom = r1[ax.i0 * 3 + c] * (2048 - ax.w1) + r1[ax.i1 * 3 + c] * ax.w1;
    int val = static_cast<int>((top * (2048 - ay.w1) + bottom * ay.w1 + (1u << 21)) >> 22);
    rgb[c] = static_cast<uint8_t>(ClampByte((val * p.q_brightness + 128) >> 8));
  }
}

// One output pixel from its rotated offsets (cos t * dx, sin t * dx for its column; sin t * dy,
// cos t * dy for its row). Without rotation (sin t = 0) x depends on the column alone and y on
// the row alone (adding a zero changes nothing), so a CPU loop may sample each axis once.
PETPREP_HD_INLINE void AugmentGeometryTerms(const AugmentParams& p, const uint8_t* src,
                                            const uint8_t* src_mask, float cdx, float sdx,
                                            float sdy, float cdy, uint8_t* rgb, uint8_t* cls) {
  float x = (p.crop_x + p.crop_w * 0.5f) + (cdx - sdy);
  float y = (p.crop_y + p.crop_h * 0.5f) + (sdx + cdy);
  SampleAt(p, src, src_mask, SampleAxis(x, p.src_w), SampleAxis(y, p.src_h), rgb, cls);
}

// Output pixel (u, v), its terms computed on the spot (what a GPU thread does).
PETPREP_HD_INLINE void AugmentGeometryPixel(const AugmentParams& p, const uint8_t* src,
                                            const uint8_t* src_mask, int u, int v, uint8_t* rgb,
                                            uint8_t* cls) {
  float dx = ColumnOffset(p, u), dy = RowOffset(p, v);
  AugmentGeometryTerms(p, src, src_mask, p.cos_t * dx, p.sin_t * dx, p.sin_t * dy, p.cos_t * dy,
                       rgb, cls);
}

// Contrast around the image's mean gray, then saturation around the pixel's gray.
PETPREP_HD_INLINE void AugmentColorPixel(const AugmentParams& p, int mean_gray, uint8_t* rgb) {
  int v[3];
  for (int c = 0; c < 3; ++c)
    v[c] = ClampByte(mean_gray + RoundDiv256((rgb[c] - mean_gray) * p.q_contrast));
  int g = GrayOf(v[0], v[1], v[2]);
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<uint8_t>(ClampByte(g + RoundDiv256((v[c] - g) * p.q_saturation)));
}

PETPREP_HD_INLINE float NormalizeValue(const AugmentParams& p, int c, uint8_t v) {
  if (p.reference_normalize) return static_cast<float>(v) / 128.0f - 1.0f;
  return (static_cast<float>(v) / 255.0f - p.mean[c]) * p.inv_std[c];
}

// The parameters of one sample: the draws documented above.
AugmentParams DrawAugmentParams(const AugmentSpec& spec, uint64_t seed, uint64_t sample_key,
                                uint32_t epoch, int src_w, int src_h, int dst);

// CPU: one sample. image is HWC uint8 (src_h x src_w x 3), mask HW; out_image is CHW float
// (3 x dst x dst), out_mask HW uint8.
void AugmentSampleCpu(const AugmentParams& p, const uint8_t* image, const uint8_t* mask,
                      float* out_image, uint8_t* out_mask);

}  // namespace petprep
