// petprep's own exp, log, sigmoid and tanh in single precision, written once as PETPREP_HD
// code, because libm's and CUDA's results differ in the last bits and the contract is the
// same bits on every machine and device. Only +, -, *, / (IEEE, correctly rounded, no
// contraction), floor and exact bit manipulation are used. pipeline/train/ARITHMETIC.md
// gives the definitions and the measured accuracy.
#pragma once

#include <cstdint>
#include <cstring>

#include "pipeline/core/arithmetic_guard.h"
#include "pipeline/core/hd.h"

namespace petprep {

PETPREP_HD_INLINE float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
PETPREP_HD_INLINE uint32_t FloatToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// 2^k for k in [-126, 127], exactly.
PETPREP_HD_INLINE float Pow2(int k) { return BitsToFloat(static_cast<uint32_t>(k + 127) << 23); }

// exp(x): k = floor(x * log2(e) + 1/2), r = (x - k * ln2_hi) - k * ln2_lo (|r| <= 0.35),
// exp(r) by its Taylor polynomial to r^7 in Horner order, scaled by 2^k in two exact steps.
// Below -87.33 the result is 0 (no subnormals); above 88.72, +inf; NaN stays NaN.
PETPREP_HD_INLINE float PetExp(float x) {
  if (!(x == x)) return x;
  if (x > 88.72283f) return BitsToFloat(0x7f800000u);
  if (x < -87.33654f) return 0.0f;
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693145751953125f;  // 12 significant bits: k * kLn2Hi is exact
  const float kLn2Lo = 1.42860682030941723e-6f;
  float kf = static_cast<float>(static_cast<int>(x * kLog2e + 0.5f + 128.0f)) - 128.0f;
  int k = static_cast<int>(kf);
  float r = (x - kf * kLn2Hi) - kf * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int half = k / 2;
  return p * Pow2(half) * Pow2(k - half);
}

// log(x): x = m * 2^k with m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact), s = f / (2 + f),
// z = s^2, R = z (2/3 + z (2/5 + ... + z 2/13)) in Horner order, hfsq = f^2 / 2, and
// log(x) = k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f)  (fdlibm's arrangement).
// log(0) = -inf, log(negative) = NaN, log(+inf) = +inf; subnormal inputs count as 0.
PETPREP_HD_INLINE float PetLog(float x) {
  if (!(x == x)) return x;
  if (x < 0.0f) return BitsToFloat(0x7fc00000u);
  if (x < 1.17549435e-38f) return BitsToFloat(0xff800000u);
  if (x > 3.40282347e38f) return x;
  uint32_t bits = FloatToBits(x);
  int k = static_cast<int>(bits >> 23) - 127;
  float m = BitsToFloat((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  if (m > 1.41421356f) {
    m = m * 0.5f;
    k += 1;
  }
  float f = m - 1.0f;
  float s = f / (2.0f + f);
  float z = s * s;
  float r = 2.0f / 13.0f;
  r = r * z + 2.0f / 11.0f;
  r = r * z + 2.0f / 9.0f;
  r = r * z + 2.0f / 7.0f;
  r = r * z + 2.0f / 5.0f;
  r = r * z + 2.0f / 3.0f;
  r = r * z;
  float hfsq = 0.5f * f * f;
  float kf = static_cast<float>(k);
  return kf * 0.693145751953125f - ((hfsq - (s * (hfsq + r) + kf * 1.42860682030941723e-6f)) - f);
}

// sigmoid(x) = 1 / (1 + exp(-x)).
PETPREP_HD_INLINE float PetSigmoid(float x) { return 1.0f / (1.0f + PetExp(-x)); }

// tanh(x): for |x| < 0.25 its odd Taylor polynomial to x^11 in Horner order; otherwise
// sign(x) (1 - e) / (1 + e) with e = exp(-2 |x|).
PETPREP_HD_INLINE float PetTanh(float x) {
  float a = x < 0.0f ? -x : x;
  if (a < 0.25f) {
    float x2 = x * x;
    float p = -1382.0f / 155925.0f;
    p = p * x2 + 62.0f / 2835.0f;
    p = p * x2 - 17.0f / 315.0f;
    p = p * x2 + 2.0f / 15.0f;
    p = p * x2 - 1.0f / 3.0f;
    return x + x * (p * x2);
  }
  float e = PetExp(-2.0f * a);
  float t = (1.0f - e) / (1.0f + e);
  return x < 0.0f ? -t : t;
}

}  // namespace petprep
