#include "pipeline/train/mathfn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "gpu/mathfn_cuda.h"

namespace petprep {
namespace {

// Distance in units in the last place between two finite floats of the same sign.
int64_t Ulps(float a, float b) {
  int64_t ia = static_cast<int32_t>(FloatToBits(a)), ib = static_cast<int32_t>(FloatToBits(b));
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return ia > ib ? ia - ib : ib - ia;
}

template <typename Ours, typename Ref>
int64_t WorstUlps(float lo, float hi, int steps, Ours ours, Ref ref, float* at) {
  int64_t worst = 0;
  for (int i = 0; i <= steps; ++i) {
    float x = lo + (hi - lo) * (static_cast<float>(i) / static_cast<float>(steps));
    float want = static_cast<float>(ref(static_cast<double>(x)));
    int64_t u = Ulps(ours(x), want);
    if (u > worst) {
      worst = u;
      *at = x;
    }
  }
  return worst;
}

// The bounds asserted here are the accuracy ARITHMETIC.md states, measured over sweeps
// against the correctly rounded double-precision result.
TEST(MathFnTest, ExpWithinOneUlp) {
  float at = 0;
  int64_t w = WorstUlps(
      -87.0f, 88.0f, 2000000, PetExp, [](double x) { return std::exp(x); }, &at);
  std::printf("exp: worst %lld ulp at %.9g\n", static_cast<long long>(w), at);
  EXPECT_LE(w, 1);
  EXPECT_EQ(PetExp(0.0f), 1.0f);
  EXPECT_EQ(PetExp(-100.0f), 0.0f);
  EXPECT_TRUE(std::isinf(PetExp(100.0f)));
  EXPECT_TRUE(std::isnan(PetExp(std::numeric_limits<float>::quiet_NaN())));
}

TEST(MathFnTest, LogWithinOneUlp) {
  float at = 0;
  int64_t w = WorstUlps(
      1e-30f, 10.0f, 2000000, PetLog, [](double x) { return std::log(x); }, &at);
  std::printf("log: worst %lld ulp at %.9g\n", static_cast<long long>(w), at);
  EXPECT_LE(w, 1);
  int64_t big = WorstUlps(
      10.0f, 3e38f, 1000000, PetLog, [](double x) { return std::log(x); }, &at);
  EXPECT_LE(big, 1);
  EXPECT_EQ(PetLog(1.0f), 0.0f);
  EXPECT_TRUE(std::isinf(PetLog(0.0f)) && PetLog(0.0f) < 0);
  EXPECT_TRUE(std::isnan(PetLog(-1.0f)));
}

// Doubles: ulps against glibc's exp and log (correctly rounded in nearly all cases).
int64_t UlpsD(double a, double b) {
  int64_t ia = static_cast<int64_t>(DoubleToBits(a)), ib = static_cast<int64_t>(DoubleToBits(b));
  if (ia < 0) ia = INT64_MIN - ia;
  if (ib < 0) ib = INT64_MIN - ib;
  return ia > ib ? ia - ib : ib - ia;
}

TEST(MathFnTest, DoubleExpAndLogWithinOneUlp) {
  int64_t worst_exp = 0, worst_log = 0;
  double exp_at = 0, log_at = 0;
  for (int i = 0; i <= 1000000; ++i) {
    const double x = -700.0 + 1400.0 * (i / 1000000.0);
    const int64_t u = UlpsD(PetExpD(x), std::exp(x));
    if (u > worst_exp) worst_exp = u, exp_at = x;
    const double y = std::exp(-690.0 + 1400.0 * (i / 1000000.0));  // 1e-300 .. 1e308
    const int64_t v = UlpsD(PetLogD(y), std::log(y));
    if (v > worst_log) worst_log = v, log_at = y;
  }
  for (int i = 0; i <= 1000000; ++i) {  // near 1, where log is small
    const double y = 0.5 + i / 1000000.0;
    const int64_t v = UlpsD(PetLogD(y), std::log(y));
    if (v > worst_log && y != 1.0) worst_log = v, log_at = y;
  }
  std::printf("double exp: worst %lld ulp at %.17g; log: worst %lld ulp at %.17g\n",
              static_cast<long long>(worst_exp), exp_at, static_cast<long long>(worst_log), log_at);
  EXPECT_LE(worst_exp, 1);
  EXPECT_LE(worst_log, 1);
  EXPECT_EQ(PetExpD(0.0), 1.0);
  EXPECT_EQ(PetLogD(1.0), 0.0);
  EXPECT_EQ(PetExpD(-800.0), 0.0);
  EXPECT_TRUE(std::isinf(PetExpD(800.0)));
  EXPECT_TRUE(std::isinf(PetLogD(0.0)) && PetLogD(0.0) < 0);
  EXPECT_TRUE(std::isnan(PetLogD(-1.0)));
}

TEST(MathFnTest, SigmoidAndTanhWithinTwoUlps) {
  float at = 0;
  int64_t s = WorstUlps(
      -80.0f, 80.0f, 2000000, PetSigmoid, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, &at);
  std::printf("sigmoid: worst %lld ulp at %.9g\n", static_cast<long long>(s), at);
  EXPECT_LE(s, 2);
  int64_t t = WorstUlps(
      -10.0f, 10.0f, 2000000, PetTanh, [](double x) { return std::tanh(x); }, &at);
  std::printf("tanh: worst %lld ulp at %.9g\n", static_cast<long long>(t), at);
  EXPECT_LE(t, 2);
  EXPECT_EQ(PetTanh(0.0f), 0.0f);
  EXPECT_EQ(PetTanh(-0.5f), -PetTanh(0.5f));
  EXPECT_EQ(PetSigmoid(0.0f), 0.5f);
}

// The device computes the very same bits (skipped without a CUDA device).
TEST(MathFnTest, CudaGivesTheSameBits) {
  std::vector<float> in;
  for (int i = -4000; i <= 4000; ++i) in.push_back(static_cast<float>(i) * 0.02137f);
  const gpu::MathFn fns[] = {gpu::MathFn::kExp, gpu::MathFn::kLog, gpu::MathFn::kSigmoid,
                             gpu::MathFn::kTanh};
  float (*cpu[])(float) = {PetExp, PetLog, PetSigmoid, PetTanh};
  for (int f = 0; f < 4; ++f) {
    std::vector<float> out;
    Status s = gpu::EvaluateOnDevice(fns[f], in, &out);
    if (s.code() == Status::Code::kUnavailable) GTEST_SKIP() << s.message();
    ASSERT_TRUE(s.ok());
    for (size_t i = 0; i < in.size(); ++i) {
      float want = cpu[f](in[i]);
      ASSERT_EQ(FloatToBits(out[i]), FloatToBits(want)) << "function " << f << " at " << in[i];
    }
  }
}

}  // namespace
}  // namespace petprep
