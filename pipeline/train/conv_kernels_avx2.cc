// The dot and gradient chains eight lanes at a time (AVX2 + FMA; compiled with -mavx2 -mfma,
// called only when the CPU has both).
#include "pipeline/train/conv_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace petprep::conv_isa {
namespace {

#include "pipeline/train/conv_kernels_impl.h"

struct VAvx2 {
  using R = __m256;
  static constexpr int kL = 8;
  static R Load(const float* p) { return _mm256_loadu_ps(p); }
  static R Set1(float x) { return _mm256_set1_ps(x); }
  static R Fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static void Store(float* p, R r) { _mm256_storeu_ps(p, r); }
  static constexpr int kDotCo = 6;
  static constexpr int kDotXv = 2;
  static constexpr int kGradK = 6;
  static constexpr int kGradCv = 2;
};

}  // namespace

void DotAvx2(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1) {
  DotBlock<VAvx2>(p, n, co0, co1, y0, y1);
}
void GradAvx2(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1, float* part) {
  GradBlock<VAvx2>(p, n, c0, c1, k0, k1, part);
}

}  // namespace petprep::conv_isa
#endif
