#include "pipeline/train/unet.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "pipeline/core/philox.h"
#include "pipeline/train/optim.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"

namespace petprep {
namespace {

TEST(UNetTest, ParameterCountMatchesThePeerNetwork) {
  UNet net(UNetConfig{});
  EXPECT_EQ(net.ParamCount(), 482771u);  // ../shared/peers/torch_unet_step.py, --up tconv
  EXPECT_EQ(net.Params().size(), net.ParamNames().size());
  EXPECT_EQ(net.Params().size(), net.Grads().size());
}

struct Batch {
  Tensor x;
  std::vector<uint8_t> labels;
};

Batch MakeBatch(int n, int side, uint64_t step) {
  Batch b;
  b.x.Resize(n, 3, side, side);
  b.labels.resize(static_cast<size_t>(n) * side * side);
  PhiloxStream s(DeriveKey(5, RandomPurpose::kSynth), step, 0);
  for (size_t i = 0; i < b.x.size(); ++i) b.x[i] = s.Uniform(-1.0f, 1.0f);
  // Labels that depend on the input, so the loss can fall: the class of the red channel.
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < side * side; ++p) {
      float r = b.x[static_cast<size_t>(j) * 3 * side * side + p];
      b.labels[static_cast<size_t>(j) * side * side + p] = r < -0.3f ? 0 : r < 0.3f ? 1 : 2;
    }
  return b;
}

struct RunResult {
  std::vector<std::string> step_digests;
  std::vector<float> losses;
};

// A small U-Net (two levels: convs, BN, ReLU, pool, transposed conv, concat, head, loss),
// trained for `steps` Adam steps with dropout; the weights' digest after each step.
RunResult Train(int steps, const std::string& loss_kind = "ce") {
  UNetConfig c;
  c.widths = {4, 8};
  c.dropout = 0.2f;
  UNet net(c);
  net.Init(42);
  std::vector<AdamSlot> slots;
  AdamOptions o;
  o.lr = 0.01;
  RunResult r;
  for (int s = 0; s < steps; ++s) {
    Batch b = MakeBatch(3, 16, static_cast<uint64_t>(s));
    const Tensor& logits = net.Forward(b.x, true, 42, static_cast<uint64_t>(s));
    Tensor dl;
    float loss = loss_kind == "ce" ? SoftmaxCrossEntropy(logits, b.labels, &dl)
                                   : BceJaccard(logits, b.labels, &dl);
    net.Backward(dl);
    AdamStep(o, static_cast<uint64_t>(s + 1), net.Params(), net.Grads(), &slots);
    r.losses.push_back(loss);
    r.step_digests.push_back(ToHex(net.WeightsDigest()));
  }
  return r;
}

void ExpectSameRun(const RunResult& a, const RunResult& b, const std::string& what) {
  ASSERT_EQ(a.step_digests.size(), b.step_digests.size());
  for (size_t i = 0; i < a.step_digests.size(); ++i) {
    if (a.step_digests[i] != b.step_digests[i]) {
      ADD_FAILURE() << what << ": first differing step " << i + 1 << ": " << a.step_digests[i]
                    << " vs " << b.step_digests[i];
      return;
    }
  }
}

TEST(UNetTest, TenAdamStepsSameWeightsForThreads128) {
  RunResult one = WithThreads(1, [] { return Train(10); });
  std::printf("weights after 10 steps: %s (loss %.4f -> %.4f)\n", one.step_digests.back().c_str(),
              one.losses.front(), one.losses.back());
  EXPECT_LT(one.losses.back(), one.losses.front());
  ExpectSameRun(one, WithThreads(2, [] { return Train(10); }), "2 threads");
  ExpectSameRun(one, WithThreads(8, [] { return Train(10); }), "8 threads");
  ExpectSameRun(one, WithThreads(1, [] { return Train(10); }), "rerun");
}

TEST(UNetTest, TenAdamStepsSameWeightsOnEverySimdPath) {
  const SimdPath was = ActiveSimdPath();
  SetSimdPath(SimdPath::kScalar);
  RunResult scalar = Train(10, "bce");
  for (SimdPath p : SupportedSimdPaths()) {
    SetSimdPath(p);
    ExpectSameRun(scalar, Train(10, "bce"), SimdPathName(p));
  }
  SetSimdPath(was);
}

TEST(UNetTest, EvalModeUsesRunningStatistics) {
  UNetConfig c;
  c.widths = {4, 8};
  UNet net(c);
  net.Init(1);
  Batch b = MakeBatch(2, 8, 0);
  Tensor train = net.Forward(b.x, true);
  Tensor eval1 = net.Forward(b.x, false);
  Tensor eval2 = net.Forward(b.x, false);
  ASSERT_TRUE(train.SameShape(eval1));
  EXPECT_EQ(eval1.ShapeString(), "2x3x8x8");
  bool differ = false;
  for (size_t i = 0; i < train.size(); ++i) {
    differ |= train[i] != eval1[i];
    ASSERT_EQ(eval1[i], eval2[i]);
  }
  EXPECT_TRUE(differ);
}

}  // namespace
}  // namespace petprep
