// The dot and gradient chains sixteen lanes at a time (AVX-512F; compiled with -mavx512f -mfma,
// called only when the CPU has it).
#include "pipeline/train/conv_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace petprep::conv_isa {
namespace {

#include "pipeline/train/conv_kernels_impl.h"

struct VAvx512 {
  using R = __m512;
  static constexpr int kL = 16;
  static R Load(const float* p) { return _mm512_loadu_ps(p); }
  static R Set1(float x) { return _mm512_set1_ps(x); }
  static R Fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static void Store(float* p, R r) { _mm512_storeu_ps(p, r); }
  static constexpr int kDotCo = 12;
  static constexpr int kDotXv = 2;
  static constexpr int kGradK = 12;
  static constexpr int kGradCv = 2;
};

}  // namespace

void DotAvx512(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1) {
  DotBlock<VAvx512>(p, n, co0, co1, y0, y1);
}
void GradAvx512(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1, float* part) {
  GradBlock<VAvx512>(p, n, c0, c1, k0, k1, part);
}

}  // namespace petprep::conv_isa
#endif
