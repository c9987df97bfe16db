#include "pipeline/train/optim.h"

#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/train/threads.h"

namespace petprep {
namespace {

TEST(OptimTest, PowIntIsSquareAndMultiply) {
  EXPECT_EQ(PowInt(0.9, 0), 1.0);
  EXPECT_EQ(PowInt(0.9, 1), 0.9);
  EXPECT_EQ(PowInt(0.9, 3), 0.9 * (0.9 * 0.9));  // bits 11: r = b, then r * b^2
  EXPECT_EQ(PowInt(2.0, 10), 1024.0);
  EXPECT_NEAR(PowInt(0.999, 1000), std::pow(0.999, 1000), 1e-13);  // a few ulp from libm
}

TEST(OptimTest, AdamFirstStepByHand) {
  Tensor w(1, 1, 1, 3), g(1, 1, 1, 3);
  w[0] = 1.0f, w[1] = -2.0f, w[2] = 0.5f;
  g[0] = 0.1f, g[1] = -0.3f, g[2] = 0.0f;
  std::vector<AdamSlot> slots;
  AdamOptions o;
  o.lr = 0.01;
  AdamStep(o, 1, {&w}, {&g}, &slots);
  // Step 1: m = 0.1 g, v = 0.001 g^2, bias corrections 0.1 and 0.001: the update is
  // lr * g / (|g| + eps') — about lr * sign(g).
  const float step = static_cast<float>(0.01 / (1 - 0.9));
  const float bc2 = static_cast<float>(std::sqrt(1 - 0.999));
  for (int i = 0; i < 3; ++i) {
    float gi = i == 0 ? 0.1f : i == 1 ? -0.3f : 0.0f;
    float m = 0.9f * 0.0f + 0.1f * gi;
    float v = 0.999f * 0.0f + static_cast<float>(1 - 0.999) * (gi * gi);
    float want = (i == 0   ? 1.0f
                  : i == 1 ? -2.0f
                           : 0.5f) -
                 step * (m / (std::sqrt(v) / bc2 + 1e-8f));
    EXPECT_EQ(w[i], want) << i;
  }
  EXPECT_NEAR(w[0], 1.0f - 0.01f, 1e-6);
  EXPECT_NEAR(w[1], -2.0f + 0.01f, 1e-6);
  EXPECT_EQ(w[2], 0.5f);
}

TEST(OptimTest, SgdMomentum) {
  Tensor w(1, 1, 1, 1), g(1, 1, 1, 1);
  w[0] = 1.0f;
  g[0] = 0.5f;
  std::vector<Tensor> buf;
  SgdOptions o;
  o.lr = 0.1;
  SgdStep(o, 1, {&w}, {&g}, &buf);
  EXPECT_EQ(w[0], 1.0f - 0.1f * 0.5f);
  SgdStep(o, 2, {&w}, {&g}, &buf);
  EXPECT_EQ(buf[0][0], 0.9f * 0.5f + 0.5f);
  EXPECT_EQ(w[0], (1.0f - 0.1f * 0.5f) - 0.1f * (0.9f * 0.5f + 0.5f));
}

TEST(OptimTest, InitIsSeededBoundedAndThreadInvariant) {
  Tensor a(16, 32, 3, 3), b(16, 32, 3, 3), c(16, 32, 3, 3);
  WithThreads(1, [&] { HeUniform(&a, 32 * 9, 42, 3); });
  WithThreads(2, [&] { HeUniform(&b, 32 * 9, 42, 3); });
  HeUniform(&c, 32 * 9, 43, 3);
  const float bound = static_cast<float>(std::sqrt(6.0 / (32 * 9)));
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i], b[i]);
    EXPECT_LE(std::fabs(a[i]), bound);
    sum += a[i];
  }
  EXPECT_NEAR(sum / a.size(), 0.0, 0.01);
  EXPECT_NE(a[0], c[0]);
  GlorotUniform(&c, 10, 20, 1, 0);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_LE(std::fabs(c[i]), std::sqrt(6.0f / 30.0f));
}

}  // namespace
}  // namespace petprep
