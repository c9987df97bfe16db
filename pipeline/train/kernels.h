// The kernel bodies of the training ops, written once as PETPREP_HD code: each function
// computes one output exactly as pipeline/train/ARITHMETIC.md defines it. The CUDA backend
// calls them per output; the CPU's blocked SIMD kernels (conv_kernels.h) compute the same
// chains many outputs at a time and are tested bit for bit against these.
#pragma once

#include <cmath>
#include <cstdint>

#include "pipeline/core/arithmetic_guard.h"
#include "pipeline/core/hd.h"

namespace petprep {

// An explicit fused multiply-add: a * b + c rounded once.
PETPREP_HD_INLINE float Fma(float a, float b, float c) { return fmaf(a, b, c); }
PETPREP_HD_INLINE double Fma(double a, double b, double c) { return fma(a, b, c); }

// The dot chain: acc = init; for k in [0, K): acc = fma(w[k], src[off[k]], acc).
// Every convolution's forward pass and input gradient is this chain over a fixed k order.
template <typename T>
PETPREP_HD_INLINE T ChainDot(const T* src, const int64_t* off, int k_count, const T* w, T init) {
  T acc = init;
  for (int k = 0; k < k_count; ++k) acc = Fma(w[k], src[off[k]], acc);
  return acc;
}

// The gradient chain over one image: acc = 0; for y, for x (row-major):
// acc = fma(g[(y * W + x) * gs], src[y * rs + x], acc).
template <typename T>
PETPREP_HD_INLINE T ChainGrad(const T* g, int64_t gs, const T* src, int64_t rs, int h, int w) {
  T acc = T(0);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      acc = Fma(g[(static_cast<int64_t>(y) * w + x) * gs], src[y * rs + x], acc);
    }
  }
  return acc;
}

// The striped sum of f(0..n-1): eight partial sums, s[j] adds f(i) for i = j mod 8 in
// increasing i, combined as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)).
template <typename T, typename F>
PETPREP_HD_INLINE T StripedSum(int64_t n, F f) {
  T s[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) s[j] = s[j] + f(i + j);
  }
  for (int j = 0; i < n; ++i, ++j) s[j] = s[j] + f(i);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// StripedSum split for a device, one thread per stripe: stripe j of f(0..n-1), the partial
// s[j] exactly as StripedSum forms it (from 0, adding f(i) for i = j mod 8 in increasing i) ...
template <typename T, typename F>
PETPREP_HD_INLINE T StripeSum(int64_t n, int j, F f) {
  T s = T(0);
  for (int64_t i = j; i < n; i += 8) s = s + f(i);
  return s;
}
// ... and the eight partials combined as StripedSum combines them.
template <typename T>
PETPREP_HD_INLINE T CombineStripes(const T* s) {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

}  // namespace petprep

namespace petprep {

// ---- per-element bodies of the other ops (ARITHMETIC.md gives each formula)

// BatchNorm: y = gamma * ((x - mean) * inv) + beta.
template <typename T>
PETPREP_HD_INLINE T BatchNormApply(T x, T mean, T inv, T gamma, T beta) {
  return gamma * ((x - mean) * inv) + beta;
}
// BatchNorm input gradient: g * ((dy - k1) - xhat * k2), g = gamma * inv, k1 = dbeta / M,
// k2 = dgamma / M.
template <typename T>
PETPREP_HD_INLINE T BatchNormGradInput(T dy, T xhat, T k1, T k2, T g) {
  return g * ((dy - k1) - xhat * k2);
}

template <typename T>
PETPREP_HD_INLINE T ReluApply(T x) {
  return x > T(0) ? x : T(0);
}
template <typename T>
PETPREP_HD_INLINE T ReluGrad(T y, T dy) {
  return y > T(0) ? dy : T(0);
}

// The winner of a 2x2 window q0 (0,0), q1 (0,1), q2 (1,0), q3 (1,1): the first maximum (a
// later value wins only when greater, so ties and NaNs keep the earlier); *value is its value.
// Written as selects, without branches, so that a loop over windows vectorises.
template <typename T>
PETPREP_HD_INLINE int MaxPoolWinner(T q0, T q1, T q2, T q3, T* value) {
  const bool m1 = q1 > q0;
  const T b1 = m1 ? q1 : q0;
  const bool m2 = q2 > b1;
  const T b2 = m2 ? q2 : b1;
  const bool m3 = q3 > b2;
  *value = m3 ? q3 : b2;
  return m3 ? 3 : m2 ? 2 : m1 ? 1 : 0;
}
template <typename T>
PETPREP_HD_INLINE int MaxPoolWinner(T q0, T q1, T q2, T q3) {
  T value;
  return MaxPoolWinner(q0, q1, q2, q3, &value);
}

// The predicted class at one pixel: the first maximum over c channels, z[k * plane].
template <typename T>
PETPREP_HD_INLINE int ArgmaxChannel(const T* z, int64_t plane, int c) {
  int best = 0;
  for (int k = 1; k < c; ++k) {
    if (z[k * plane] > z[best * plane]) best = k;
  }
  return best;
}

// Adam's update of one element (ARITHMETIC.md): returns the new weight, updates m and v.
PETPREP_HD_INLINE float AdamUpdate(float w, float g, float* m, float* v, float b1, float c1,
                                   float b2, float c2, float step, float bc2_sqrt, float eps) {
  const float mm = b1 * *m + c1 * g;
  const float vv = b2 * *v + c2 * (g * g);
  *m = mm;
  *v = vv;
  return w - step * (mm / (sqrtf(vv) / bc2_sqrt + eps));
}

// SGD with momentum: returns the new weight, updates buf.
PETPREP_HD_INLINE float SgdUpdate(float w, float g, float* buf, bool first, float mu, float lr) {
  const float b = first ? g : mu * *buf + g;
  *buf = b;
  return w - lr * b;
}

}  // namespace petprep
