// The dot and gradient chains one lane at a time: runs on every CPU.
#include "pipeline/train/conv_kernels.h"

namespace petprep::conv_isa {
namespace {

#include "pipeline/train/conv_kernels_impl.h"

struct VScalar : V1 {
  static constexpr int kDotCo = 4;
  static constexpr int kDotXv = 4;
  static constexpr int kGradK = 4;
  static constexpr int kGradCv = 2;
};

}  // namespace

void DotScalar(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1) {
  DotBlock<VScalar>(p, n, co0, co1, y0, y1);
}
void GradScalar(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1, float* part) {
  GradBlock<VScalar>(p, n, c0, c1, k0, k1, part);
}

}  // namespace petprep::conv_isa
