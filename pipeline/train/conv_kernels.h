// The two chains every convolution reduces to, run over many outputs at once: the dot
// (forward and input gradient) and the gradient (weight gradient). Each output is exactly
// ChainDot or ChainGrad of kernels.h, whatever the SIMD path or the thread count: the CPU
// vectorises across independent outputs only (output pixels for the dot, output channels for
// the gradient) and parallelises over blocks of outputs (oneTBB).
#pragma once

#include <cstdint>

#include "pipeline/core/status.h"

namespace petprep {

// out[n][co][y][x] = ChainDot(src + n * src_n + y * rs + x, off, K, w + co * K, init[co])
// for n < N, co < Co, y < H, x < W; init null means 0. out is (N, Co, H, W) at out + n * out_n.
template <typename T>
struct DotPlan {
  const T* src = nullptr;
  int64_t src_n = 0;
  const int64_t* off = nullptr;
  int k_count = 0;
  int64_t rs = 0;
  const T* w = nullptr;
  const T* init = nullptr;
  int n = 0, co = 0, h = 0, w_out = 0;
  T* out = nullptr;
  int64_t out_n = 0;
};

// A dot plan over images of src_n values each, writing (n, co, h, w) outputs contiguously.
template <typename T>
DotPlan<T> DotPlanOf(const T* src, int64_t src_n, const int64_t* off, int k_count, int64_t rs,
                     const T* w, const T* init, int n, int co, int h, int wd, T* out) {
  DotPlan<T> p;
  p.src = src;
  p.src_n = src_n;
  p.off = off;
  p.k_count = k_count;
  p.rs = rs;
  p.w = w;
  p.init = init;
  p.n = n;
  p.co = co;
  p.h = h;
  p.w_out = wd;
  p.out = out;
  p.out_n = static_cast<int64_t>(co) * h * wd;
  return p;
}

// P_n[c][k] = ChainGrad(g + n * g_n + c, gs, src + n * src_n + off[k], rs, H, W), and
// out[c][k] = ((P_0 + P_1) + P_2) + ... over n in order. g holds, per position (y * W + x),
// gs >= C values (positions' channels contiguous); REQUIRES: gs is a multiple of 16 and
// the values from C to gs are readable (zeros).
template <typename T>
struct GradPlan {
  const T* g = nullptr;
  int64_t g_n = 0;
  int64_t gs = 0;
  int c_count = 0;
  const T* src = nullptr;
  int64_t src_n = 0;
  const int64_t* off = nullptr;
  int k_count = 0;
  int64_t rs = 0;
  int n = 0, h = 0, w = 0;
  T* out = nullptr;  // C x K
};

// Run the plan on the active SIMD path (float) or the scalar chains (double), in parallel.
void RunDot(const DotPlan<float>& p);
void RunDot(const DotPlan<double>& p);
void RunGrad(const GradPlan<float>& p);
void RunGrad(const GradPlan<double>& p);

// The blocks the parallel loops hand to one ISA's kernels; exposed for the ISA files.
namespace conv_isa {
// Outputs co in [co0, co1), rows y in [y0, y1) of image n.
using DotFn = void (*)(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1);
// The partial P_n for channels [c0, c1) and k in [k0, k1), written to part (C x K).
using GradFn = void (*)(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1,
                        float* part);
void DotScalar(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1);
void GradScalar(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1, float* part);
void DotAvx2(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1);
void GradAvx2(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1, float* part);
void DotAvx512(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1);
void GradAvx512(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1, float* part);
}  // namespace conv_isa

}  // namespace petprep
