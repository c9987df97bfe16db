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

// Double precision, for statistics computed on the host in double (calibration's NLL, its
// temperature): the same constructions with more terms.

PETPREP_HD_INLINE double BitsToDouble(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}
PETPREP_HD_INLINE uint64_t DoubleToBits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// 2^k for k in [-1022, 1023], exactly.
PETPREP_HD_INLINE double Pow2D(int k) {
  return BitsToDouble(static_cast<uint64_t>(k + 1023) << 52);
}

// exp(x) in double: k = floor(x log2(e) + 1/2), r = (x - k ln2_hi) - k ln2_lo with fdlibm's
// ln2_hi (32 significant bits: k ln2_hi is exact), exp(r) by its Taylor polynomial to r^13 in
// Horner order, scaled by 2^k in two exact steps. 0 below -708.39, +inf above 709.78.
PETPREP_HD_INLINE double PetExpD(double x) {
  if (!(x == x)) return x;
  if (x > 709.78) return BitsToDouble(0x7ff0000000000000ull);
  if (x < -708.39) return 0.0;
  const double kLog2e = 1.4426950408889634074;
  const double kLn2Hi = 6.93147180369123816490e-01;
  const double kLn2Lo = 1.90821492927058770002e-10;
  const double kf = static_cast<double>(static_cast<int64_t>(x * kLog2e + 0.5 + 2048.0)) - 2048.0;
  const int k = static_cast<int>(kf);
  const double r = (x - kf * kLn2Hi) - kf * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const int half = k / 2;
  return p * Pow2D(half) * Pow2D(k - half);
}

// log(x) in double: fdlibm's e_log.c (x = m 2^k, m in [sqrt(1/2), sqrt(2)), f = m - 1,
// s = f / (2 + f), R = z (Lg1 + z (Lg2 + ... + z Lg7)) with z = s^2 in Horner order,
// log(x) = k ln2_hi - ((f^2/2 - (s (f^2/2 + R) + k ln2_lo)) - f)). -inf at 0 and for
// subnormal inputs, NaN below 0, +inf at +inf.
PETPREP_HD_INLINE double PetLogD(double x) {
  if (!(x == x)) return x;
  if (x < 0.0) return BitsToDouble(0x7ff8000000000000ull);
  const uint64_t bits = DoubleToBits(x);
  const int e = static_cast<int>((bits >> 52) & 0x7ff);
  if (e == 0) return BitsToDouble(0xfff0000000000000ull);
  if (e == 0x7ff) return x;
  int k = e - 1023;
  double m = BitsToDouble((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
  if (m >= 1.41421356237309504880) {
    m *= 0.5;
    k += 1;
  }
  const double kLn2Hi = 6.93147180369123816490e-01;
  const double kLn2Lo = 1.90821492927058770002e-10;
  const double f = m - 1.0;
  const double s = f / (2.0 + f);
  const double z = s * s;
  double r = 1.479819860511658591e-01;
  r = r * z + 1.531383769920937332e-01;
  r = r * z + 1.818357216161805012e-01;
  r = r * z + 2.222219843214978396e-01;
  r = r * z + 2.857142874366239149e-01;
  r = r * z + 3.999999999940941908e-01;
  r = r * z + 6.666666666666735130e-01;
  r = r * z;
  const double hfsq = 0.5 * f * f;
  const double kd = static_cast<double>(k);
  return kd * kLn2Hi - ((hfsq - (s * (hfsq + r) + kd * kLn2Lo)) - f);
}

}  // namespace petprep
