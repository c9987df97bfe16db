#include "pipeline/train/unet.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/philox.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/optim.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"

namespace petprep {
namespace {

TEST(UNetTest, ParameterCountMatchesThePeerNetwork) {
  UNet net(UNetConfig{}, nullptr);
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
RunResult Train(int steps, const std::string& loss_kind = "ce", const std::string& device = "cpu") {
  UNetConfig c;
  c.widths = {4, 8};
  c.dropout = 0.2f;
  auto made = MakeBackend(device);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  if (!made.ok()) return {};
  std::unique_ptr<Backend> backend = std::move(*made);
  UNet net(c, backend.get());
  EXPECT_TRUE(net.Init(42).ok());
  std::vector<DeviceAdamSlot> slots;
  AdamOptions o;
  o.lr = 0.01;
  RunResult r;
  DeviceTensor x, labels, dl, loss;
  for (int s = 0; s < steps; ++s) {
    Batch b = MakeBatch(3, 16, static_cast<uint64_t>(s));
    EXPECT_TRUE(backend->Upload(b.x, &x).ok());
    EXPECT_TRUE(backend->UploadBytes(b.labels.data(), {3, 1, 16, 16}, &labels).ok());
    const DeviceTensor* logits = nullptr;
    Status st = net.Forward(x, true, 42, static_cast<uint64_t>(s), &logits);
    if (st.ok()) {
      st = loss_kind == "ce" ? backend->SoftmaxCrossEntropy(*logits, labels, &loss, &dl)
                             : backend->BceJaccard(*logits, labels, &loss, &dl);
    }
    if (st.ok()) st = net.Backward(dl);
    if (st.ok())
      st = AdamStep(backend.get(), o, static_cast<uint64_t>(s + 1), net.Params(), net.Grads(),
                    &slots);
    EXPECT_TRUE(st.ok()) << st.ToString();
    r.losses.push_back(*backend->ReadScalar(loss));
    r.step_digests.push_back(ToHex(*net.WeightsDigest()));
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

// The CUDA backend's code (on the simulated device) gives the CPU's weights after every step,
// with dropout, for both losses.
TEST(UNetTest, CudaSimGivesTheCpuWeightsEveryStep) {
  for (const char* loss : {"ce", "bce-jaccard"}) {
    RunResult cpu = Train(6, loss, "cpu");
    RunResult sim = Train(6, loss, "cuda-sim");
    ASSERT_EQ(sim.step_digests.size(), 6u);
    ExpectSameRun(cpu, sim, std::string("cuda-sim, loss ") + loss);
    EXPECT_EQ(cpu.losses, sim.losses) << loss;
  }
}

// On a real GPU: the CPU's weights after every step.
TEST(UNetTest, CudaGivesTheCpuWeightsEveryStep) {
  auto cuda = NewCudaBackend();
  if (!cuda.ok()) GTEST_SKIP() << cuda.status().message();
  for (const char* loss : {"ce", "bce-jaccard"}) {
    ExpectSameRun(Train(6, loss, "cpu"), Train(6, loss, "cuda"), std::string("cuda, loss ") + loss);
  }
}

// Section 1 of the CUDA backend's budget: a step copies the batch in (images and labels in one
// copy) and the loss out, and waits for nothing else; offset tables are uploaded once, at the
// first step.
TEST(UNetTest, ADeviceStepCopiesTheBatchInAndTheLossOutOnly) {
  std::unique_ptr<Backend> backend = NewCudaSimBackend();
  UNetConfig c;
  c.widths = {4, 8, 16};
  c.dropout = 0.1f;
  UNet net(c, backend.get());
  ASSERT_TRUE(net.Init(3).ok());
  std::vector<DeviceAdamSlot> slots;
  DeviceTensor x, labels, dl, loss;
  std::vector<TransferCounts> after;
  for (int s = 0; s < 4; ++s) {
    Batch b = MakeBatch(2, 16, static_cast<uint64_t>(s));
    ASSERT_TRUE(backend
                    ->UploadImagesAndLabels(b.x.data(), {2, 3, 16, 16}, b.labels.data(),
                                            {2, 1, 16, 16}, &x, &labels)
                    .ok());
    const DeviceTensor* logits = nullptr;
    ASSERT_TRUE(net.Forward(x, true, 3, static_cast<uint64_t>(s), &logits).ok());
    ASSERT_TRUE(backend->SoftmaxCrossEntropy(*logits, labels, &loss, &dl).ok());
    ASSERT_TRUE(backend->ReadScalar(loss).ok());
    ASSERT_TRUE(net.Backward(dl).ok());
    ASSERT_TRUE(AdamStep(backend.get(), AdamOptions{}, static_cast<uint64_t>(s + 1), net.Params(),
                         net.Grads(), &slots)
                    .ok());
    after.push_back(backend->Transfers());
  }
  for (int s = 2; s < 4; ++s) {
    EXPECT_EQ(after[s].to_device - after[s - 1].to_device, 1u) << "step " << s + 1;
    EXPECT_EQ(after[s].bytes_to_device - after[s - 1].bytes_to_device,
              2u * 16 * 16 * (3 * sizeof(float) + 1));
    EXPECT_EQ(after[s].to_host - after[s - 1].to_host, 1u) << "step " << s + 1;
    EXPECT_EQ(after[s].bytes_to_host - after[s - 1].bytes_to_host, sizeof(float));
    EXPECT_EQ(after[s].synchronizations - after[s - 1].synchronizations, 0u);
    EXPECT_GT(after[s].launches - after[s - 1].launches, 50u) << "every op ran on the device";
  }
  EXPECT_EQ(NewCpuBackend()->Transfers().to_device, 0u) << "the CPU counts nothing";
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
  std::unique_ptr<Backend> backend = NewCpuBackend();
  UNet net(c, backend.get());
  ASSERT_TRUE(net.Init(1).ok());
  Batch b = MakeBatch(2, 8, 0);
  DeviceTensor x;
  ASSERT_TRUE(backend->Upload(b.x, &x).ok());
  auto run = [&](bool training) {
    const DeviceTensor* logits = nullptr;
    Tensor out;
    EXPECT_TRUE(net.Forward(x, training, 0, 0, &logits).ok());
    EXPECT_TRUE(backend->Download(*logits, &out).ok());
    return out;
  };
  Tensor train = run(true);
  Tensor eval1 = run(false);
  Tensor eval2 = run(false);
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
