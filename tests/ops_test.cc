#include "pipeline/train/ops.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/core/hash.h"
#include "pipeline/core/philox.h"
#include "pipeline/train/conv_kernels.h"
#include "pipeline/train/kernels.h"
#include "pipeline/train/mathfn.h"
#include "pipeline/train/scratch.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"

namespace petprep {
namespace {

template <typename T>
void Fill(TensorT<T>* t, uint32_t id, double lo, double hi) {
  PhiloxStream s(DeriveKey(99, RandomPurpose::kInit), id, 0);
  for (size_t i = 0; i < t->size(); ++i) (*t)[i] = static_cast<T>(lo + (hi - lo) * s.Uniform());
}

template <typename T>
TensorT<T> Random(int n, int c, int h, int w, uint32_t id, double lo = -1, double hi = 1) {
  TensorT<T> t(n, c, h, w);
  Fill(&t, id, lo, hi);
  return t;
}

std::vector<uint8_t> Labels(size_t n, uint32_t id, int classes = 3) {
  PhiloxStream s(DeriveKey(7, RandomPurpose::kInit), id, 0);
  std::vector<uint8_t> out(n);
  for (auto& v : out) v = static_cast<uint8_t>(s.Below(classes));
  return out;
}

TensorD ToDouble(const Tensor& t) {
  TensorD d(t.n(), t.c(), t.h(), t.w());
  for (size_t i = 0; i < t.size(); ++i) d[i] = t[i];
  return d;
}

double Dot(const TensorD& a, const TensorD& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central finite differences of loss() with respect to up to 48 elements of *x (spread over
// the tensor), against the analytic gradient; returns the worst relative error.
double WorstGradError(TensorD* x, const TensorD& analytic, const std::function<double()>& loss,
                      double h = 1e-6) {
  EXPECT_TRUE(x->SameShape(analytic)) << x->ShapeString() << " vs " << analytic.ShapeString();
  double worst = 0;
  const size_t step = std::max<size_t>(1, x->size() / 48);
  for (size_t i = 0; i < x->size(); i += step) {
    const double keep = (*x)[i];
    (*x)[i] = keep + h;
    const double up = loss();
    (*x)[i] = keep - h;
    const double down = loss();
    (*x)[i] = keep;
    const double num = (up - down) / (2 * h);
    const double err =
        std::fabs(num - analytic[i]) / std::max(1e-4, std::fabs(num) + std::fabs(analytic[i]));
    worst = std::max(worst, err);
  }
  return worst;
}

// ---------------------------------------------------------------- gradient checks (double)

struct ConvCase {
  const char* op;
  int n, ci, co, h, w;
};

void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << c.op << "_" << c.n << "x" << c.ci << "x" << c.h << "x" << c.w << "_to_" << c.co;
}

class ConvGradTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGradTest, MatchesFiniteDifferences) {
  const ConvCase cc = GetParam();
  const std::string op = cc.op;
  const int kk = op == "conv3x3" ? 3 : op == "convt2x2" ? 2 : 1;
  TensorD x = Random<double>(cc.n, cc.ci, cc.h, cc.w, 1);
  TensorD w = op == "convt2x2" ? Random<double>(cc.ci, cc.co, 2, 2, 2)
                               : Random<double>(cc.co, cc.ci, kk, kk, 2);
  TensorD b = Random<double>(cc.co, 1, 1, 1, 3);
  auto forward = [&](TensorD* y) {
    if (op == "conv3x3") Conv3x3Forward(x, w, &b, y);
    if (op == "conv1x1") Conv1x1Forward(x, w, &b, y);
    if (op == "convt2x2") ConvT2x2Forward(x, w, &b, y);
  };
  TensorD y;
  forward(&y);
  TensorD r = Random<double>(y.n(), y.c(), y.h(), y.w(), 4);
  TensorD dx, dw, db;
  if (op == "conv3x3") Conv3x3Backward(x, w, r, &dx, &dw, &db);
  if (op == "conv1x1") Conv1x1Backward(x, w, r, &dx, &dw, &db);
  if (op == "convt2x2") ConvT2x2Backward(x, w, r, &dx, &dw, &db);
  auto loss = [&]() {
    TensorD yy;
    forward(&yy);
    return Dot(yy, r);
  };
  // Linear in each argument: a wide step has no truncation error, only rounding.
  EXPECT_LT(WorstGradError(&x, dx, loss, 1e-3), 1e-9);
  EXPECT_LT(WorstGradError(&w, dw, loss, 1e-3), 1e-9);
  EXPECT_LT(WorstGradError(&b, db, loss, 1e-3), 1e-9);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvGradTest,
                         ::testing::Values(ConvCase{"conv3x3", 2, 3, 5, 7, 9},
                                           ConvCase{"conv3x3", 1, 4, 2, 4, 4},
                                           ConvCase{"conv1x1", 2, 5, 3, 6, 7},
                                           ConvCase{"convt2x2", 2, 4, 3, 3, 5}),
                         [](const ::testing::TestParamInfo<ConvCase>& i) {
                           std::ostringstream os;
                           PrintTo(i.param, &os);
                           return os.str();
                         });

TEST(OpsGradTest, BatchNorm) {
  TensorD x = Random<double>(3, 4, 5, 6, 10, -2, 3);
  TensorD gamma = Random<double>(4, 1, 1, 1, 11, 0.5, 1.5), beta = Random<double>(4, 1, 1, 1, 12);
  TensorD r = Random<double>(3, 4, 5, 6, 13);
  auto loss = [&]() {
    TensorD rm(4, 1, 1, 1), rv(4, 1, 1, 1), y;
    BatchNormCache<double> cache;
    BatchNormForwardTrain(x, gamma, beta, &rm, &rv, &y, &cache);
    return Dot(y, r);
  };
  TensorD rm(4, 1, 1, 1), rv(4, 1, 1, 1), y, dx, dg, dbeta;
  BatchNormCache<double> cache;
  BatchNormForwardTrain(x, gamma, beta, &rm, &rv, &y, &cache);
  BatchNormBackward(r, gamma, cache, &dx, &dg, &dbeta);
  EXPECT_LT(WorstGradError(&x, dx, loss), 1e-6);
  EXPECT_LT(WorstGradError(&gamma, dg, loss), 1e-7);
  EXPECT_LT(WorstGradError(&beta, dbeta, loss), 1e-7);
  // Normalised output: per channel mean 0, variance 1 before the affine step.
  for (int c = 0; c < 4; ++c) {
    double s = 0, s2 = 0;
    for (int n = 0; n < 3; ++n)
      for (int i = 0; i < 30; ++i) {
        double v = cache.xhat[(n * 4 + c) * 30 + i];
        s += v;
        s2 += v * v;
      }
    EXPECT_NEAR(s / 90, 0.0, 1e-12);
    EXPECT_NEAR(s2 / 90, 1.0, 1e-4);  // eps = 1e-5 in the denominator
  }
}

TEST(OpsGradTest, ReluMaxPoolConcatDropout) {
  // Values kept away from the kinks (0 for ReLU, ties for max-pool).
  TensorD x = Random<double>(2, 3, 6, 8, 20, -1, 1);
  for (size_t i = 0; i < x.size(); ++i) x[i] += x[i] > 0 ? 0.1 : -0.1;
  TensorD other = Random<double>(2, 2, 3, 4, 21);
  TensorD r = Random<double>(2, 5, 3, 4, 22);
  auto forward = [&](TensorD* out, std::vector<uint8_t>* am, std::vector<uint8_t>* keep,
                     TensorD* relu, TensorD* pooled, TensorD* dropped) {
    ReluForward(x, relu);
    MaxPoolForward(*relu, pooled, am);
    DropoutForward(*pooled, 0.3f, 5, 9, 2, dropped, keep);
    ConcatForward(*dropped, other, out);
  };
  auto loss = [&]() {
    TensorD out, relu, pooled, dropped;
    std::vector<uint8_t> am, keep;
    forward(&out, &am, &keep, &relu, &pooled, &dropped);
    return Dot(out, r);
  };
  TensorD out, relu, pooled, dropped;
  std::vector<uint8_t> am, keep;
  forward(&out, &am, &keep, &relu, &pooled, &dropped);
  TensorD da, dother, dpooled, drelu, dx;
  ConcatBackward(r, 3, &da, &dother);
  DropoutBackward(da, 0.3f, keep, &dpooled);
  MaxPoolBackward(relu, dpooled, am, &drelu);
  ReluBackward(relu, drelu, &dx);
  EXPECT_LT(WorstGradError(&x, dx, loss), 1e-7);
  EXPECT_LT(WorstGradError(&other, dother, loss), 1e-7);
}

TEST(OpsGradTest, Losses) {
  TensorD z = Random<double>(2, 3, 4, 5, 30, -3, 3);
  std::vector<uint8_t> labels = Labels(2 * 4 * 5, 31);
  for (int which = 0; which < 2; ++which) {
    auto loss = [&]() {
      TensorD d;
      return which == 0 ? SoftmaxCrossEntropy(z, labels, &d) : BceJaccard(z, labels, &d);
    };
    TensorD dz;
    double l = which == 0 ? SoftmaxCrossEntropy(z, labels, &dz) : BceJaccard(z, labels, &dz);
    EXPECT_GT(l, 0.0);
    EXPECT_LT(WorstGradError(&z, dz, loss), 1e-6) << (which == 0 ? "softmax_ce" : "bce_jaccard");
  }
}

// ---------------------------------------------------------------- known answers

TEST(OpsTest, ConvKnownAnswers) {
  // A centre-tap 3x3 kernel copies the image; an all-ones kernel sums the neighbourhood
  // (zero padding at the border).
  Tensor x(1, 1, 3, 4);
  for (int i = 0; i < 12; ++i) x[i] = static_cast<float>(i + 1);
  Tensor w(1, 1, 3, 3), y;
  w[4] = 1.0f;
  Conv3x3Forward<float>(x, w, nullptr, &y);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(y[i], x[i]);
  for (int i = 0; i < 9; ++i) w[i] = 1.0f;
  Conv3x3Forward<float>(x, w, nullptr, &y);
  EXPECT_EQ(y.at(0, 0, 0, 0), 1 + 2 + 5 + 6);
  EXPECT_EQ(y.at(0, 0, 1, 1), 1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11);
  EXPECT_EQ(y.at(0, 0, 2, 3), 7 + 8 + 11 + 12);
  // Transposed 2x2 stride 2: each input pixel becomes a 2x2 block of w * x + b.
  Tensor t(1, 1, 1, 2), wt(1, 1, 2, 2), bias(1, 1, 1, 1), yt;
  t[0] = 2;
  t[1] = 3;
  for (int i = 0; i < 4; ++i) wt[i] = static_cast<float>(i + 1);
  bias[0] = 0.5f;
  ConvT2x2Forward(t, wt, &bias, &yt);
  ASSERT_EQ(yt.ShapeString(), "1x1x2x4");
  const float want[8] = {2.5f, 4.5f, 3.5f, 6.5f, 6.5f, 8.5f, 9.5f, 12.5f};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(yt[i], want[i]) << i;
}

// The winner over every ordering of a window with ties, signed zeros, infinities and NaNs: the
// first maximum (a later value wins only when greater), and the value is that element's bits.
TEST(OpsTest, MaxPoolWinnerIsTheFirstMaximum) {
  const float nan = std::nanf(""), inf = INFINITY;
  const std::vector<float> values = {1.0f, 2.0f, -0.0f, 0.0f, -inf, inf, nan, 2.0f};
  int checked = 0;
  for (float a : values)
    for (float b : values)
      for (float c : values)
        for (float d : values) {
          const float q[4] = {a, b, c, d};
          int want = 0;
          for (int i = 1; i < 4; ++i)
            if (q[i] > q[want]) want = i;
          float v = 0;
          const int win = MaxPoolWinner(a, b, c, d, &v);
          ASSERT_EQ(win, want) << a << " " << b << " " << c << " " << d;
          ASSERT_EQ(FloatToBits(v), FloatToBits(q[want]));
          ASSERT_EQ(MaxPoolWinner(a, b, c, d), want);
          ++checked;
        }
  EXPECT_EQ(checked, 4096);
}

// A temporary given back is taken again (no fresh allocation on the next call of the same size);
// one taken while another is held is a different buffer.
TEST(OpsTest, ScratchIsReusedAndNeverShared) {
  std::thread([] {  // a thread of its own: its pool starts empty
    const float* first = nullptr;
    {
      Scratch<float> a(1000);
      ASSERT_EQ(a.size(), 1000u);
      first = a.data();
      for (size_t i = 0; i < a.size(); ++i) a.data()[i] = 1.0f;
    }
    {
      Scratch<float> b(800);  // fits in the buffer just given back
      EXPECT_EQ(b.data(), first);
      Scratch<float> c(800);  // taken while b is held
      EXPECT_NE(c.data(), b.data());
      for (size_t i = 0; i < c.size(); ++i) c.data()[i] = 2.0f;
      EXPECT_EQ(b.data()[0], 1.0f);  // c's writes are not in b
    }
    Scratch<float> big(1u << 20);  // grown past every pooled buffer
    for (size_t i = 0; i < big.size(); ++i) big.data()[i] = 3.0f;
    EXPECT_EQ(big.data()[big.size() - 1], 3.0f);
  })
      .join();
}

TEST(OpsTest, MaxPoolTiesGoToTheFirstInWindowOrder) {
  Tensor x(1, 1, 2, 4), y;
  const float v[8] = {1, 5, 7, 7, 5, 2, 7, 7};
  for (int i = 0; i < 8; ++i) x[i] = v[i];
  std::vector<uint8_t> am;
  MaxPoolForward(x, &y, &am);
  EXPECT_EQ(y[0], 5);
  EXPECT_EQ(am[0], 1);  // (0,1) before (1,0)
  EXPECT_EQ(y[1], 7);
  EXPECT_EQ(am[1], 0);
}

TEST(OpsTest, DropoutKeepsAboutOneMinusPAndScales) {
  Tensor x(4, 8, 16, 16), y;
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1.0f;
  std::vector<uint8_t> keep, keep2;
  DropoutForward(x, 0.25f, 1, 0, 0, &y, &keep);
  size_t kept = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    kept += keep[i];
    EXPECT_EQ(y[i], keep[i] ? 1.0f / 0.75f : 0.0f);
  }
  EXPECT_NEAR(static_cast<double>(kept) / x.size(), 0.75, 0.02);
  // Another step or layer draws another mask; the same ones draw the same.
  DropoutForward(x, 0.25f, 1, 1, 0, &y, &keep2);
  EXPECT_NE(keep, keep2);
  DropoutForward(x, 0.25f, 1, 0, 0, &y, &keep2);
  EXPECT_EQ(keep, keep2);
}

TEST(OpsTest, SoftmaxOfEqualLogitsIsLogThree) {
  Tensor z(1, 3, 2, 2), d;
  std::vector<uint8_t> labels(4, 1);
  float l = SoftmaxCrossEntropy(z, labels, &d);
  EXPECT_NEAR(l, std::log(3.0), 1e-6);
  EXPECT_NEAR(d[4], (1.0 / 3 - 1) / 4, 1e-7);  // channel 1, pixel 0
}

TEST(OpsTest, StripedSumOrderIsTheDefinition) {
  // Values whose float sum depends on the order: the definition's answer, computed by hand.
  std::vector<float> v = {1e8f, 1.0f, -1e8f, 1.0f, 3.0f, 0.5f, 0.25f, 2.0f, 1e8f, 7.0f};
  float s[8] = {0};
  for (size_t i = 0; i < v.size(); ++i) s[i % 8] = s[i % 8] + v[i];
  float want = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  float got = StripedSum<float>(static_cast<int64_t>(v.size()), [&](int64_t i) { return v[i]; });
  EXPECT_EQ(FloatToBits(got), FloatToBits(want));
}

// ---------------------------------------------------------------- float path = double path

TEST(OpsTest, FloatOpsAgreeWithDouble) {
  Tensor x = Random<float>(2, 16, 12, 20, 40), w = Random<float>(24, 16, 3, 3, 41);
  Tensor b = Random<float>(24, 1, 1, 1, 42), y;
  Conv3x3Forward(x, w, &b, &y);
  TensorD xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(b), yd;
  Conv3x3Forward(xd, wd, &bd, &yd);
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(y[i] - yd[i]));
  EXPECT_LT(worst, 1e-4);
}

// ---------------------------------------------------------------- same bits everywhere

// Runs every float op forward and backward on fixed inputs; returns one digest per op.
std::vector<std::string> AllOpDigests() {
  std::vector<std::string> out;
  auto digest = [&](std::initializer_list<const Tensor*> ts) {
    Sha256 h;
    for (const Tensor* t : ts) HashTensor(*t, &h);
    out.push_back(ToHex(h.Finish()));
  };
  // Shapes with tails on every path (odd widths, channel counts not multiples of 6, 8 or 16).
  for (auto [n, ci, co, h, w] :
       {std::array<int, 5>{2, 16, 32, 20, 24}, std::array<int, 5>{3, 5, 11, 7, 13}}) {
    Tensor x = Random<float>(n, ci, h, w, 50), w3 = Random<float>(co, ci, 3, 3, 51);
    Tensor w1 = Random<float>(co, ci, 1, 1, 52), wt = Random<float>(ci, co, 2, 2, 53);
    Tensor b = Random<float>(co, 1, 1, 1, 54);
    Tensor y, dy, dx, dw, db;
    Conv3x3Forward(x, w3, &b, &y);
    dy = Random<float>(y.n(), y.c(), y.h(), y.w(), 55);
    Conv3x3Backward(x, w3, dy, &dx, &dw, &db);
    digest({&y, &dx, &dw, &db});
    Conv1x1Forward(x, w1, &b, &y);
    Conv1x1Backward(x, w1, dy, &dx, &dw, &db);
    digest({&y, &dx, &dw, &db});
    ConvT2x2Forward(x, wt, &b, &y);
    Tensor dy2 = Random<float>(y.n(), y.c(), y.h(), y.w(), 56);
    ConvT2x2Backward(x, wt, dy2, &dx, &dw, &db);
    digest({&y, &dx, &dw, &db});
    Tensor gamma = Random<float>(ci, 1, 1, 1, 57, 0.5, 1.5), beta = Random<float>(ci, 1, 1, 1, 58);
    Tensor rm(ci, 1, 1, 1), rv(ci, 1, 1, 1), dg, dbeta;
    BatchNormCache<float> cache;
    BatchNormForwardTrain(x, gamma, beta, &rm, &rv, &y, &cache);
    Tensor dyx = Random<float>(n, ci, h, w, 59);
    BatchNormBackward(dyx, gamma, cache, &dx, &dg, &dbeta);
    digest({&y, &dx, &dg, &dbeta, &rm, &rv});
    Tensor logits = Random<float>(n, 3, h, w, 60, -4, 4), dl;
    std::vector<uint8_t> labels = Labels(static_cast<size_t>(n) * h * w, 61);
    Tensor loss(1, 1, 1, 1);
    loss[0] = SoftmaxCrossEntropy(logits, labels, &dl);
    digest({&loss, &dl});
    loss[0] = BceJaccard(logits, labels, &dl);
    digest({&loss, &dl});
  }
  return out;
}

TEST(OpsTest, SameBitsForEveryThreadCount) {
  const std::vector<std::string> one = WithThreads(1, AllOpDigests);
  for (int t : {2, 4, 8}) {
    std::vector<std::string> other = WithThreads(t, AllOpDigests);
    ASSERT_EQ(one.size(), other.size());
    for (size_t i = 0; i < one.size(); ++i)
      EXPECT_EQ(one[i], other[i]) << "op " << i << ", " << t << " threads";
  }
}

TEST(OpsTest, SameBitsOnEverySimdPath) {
  const SimdPath was = ActiveSimdPath();
  SetSimdPath(SimdPath::kScalar);
  const std::vector<std::string> scalar = AllOpDigests();
  int compared = 0;
  for (SimdPath p : SupportedSimdPaths()) {
    if (p == SimdPath::kScalar) continue;
    SetSimdPath(p);
    std::vector<std::string> other = AllOpDigests();
    for (size_t i = 0; i < scalar.size(); ++i)
      EXPECT_EQ(scalar[i], other[i]) << "op " << i << " on " << SimdPathName(p);
    ++compared;
  }
  SetSimdPath(was);
  for (SimdPath p : {SimdPath::kAvx2, SimdPath::kAvx512}) {
    if (!SimdPathSupported(p))
      std::printf("[  NOTE    ] %s: not supported by this CPU, not compared\n", SimdPathName(p));
  }
  if (compared == 0) GTEST_SKIP() << "this CPU has only the scalar path";
}

// Each output of the blocked kernels is the HD chain of kernels.h, bit for bit.
TEST(OpsTest, KernelsEqualTheChainDefinition) {
  Tensor src = Random<float>(1, 7, 9, 21, 70), w = Random<float>(13, 7 * 9, 1, 1, 71);
  Tensor init = Random<float>(13, 1, 1, 1, 72);
  std::vector<int64_t> off(7 * 9);
  for (int k = 0; k < 63; ++k) off[k] = (k / 9) * 9 * 21 + ((k % 9) / 3) * 21 + k % 3;
  DotPlan<float> p;
  p.src = src.data();
  p.off = off.data();
  p.k_count = 63;
  p.rs = 21;
  p.w = w.data();
  p.init = init.data();
  p.n = 1;
  p.co = 13;
  p.h = 7;
  p.w_out = 19;
  Tensor out(1, 13, 7, 19);
  p.out = out.data();
  p.out_n = out.size();
  for (SimdPath path : SupportedSimdPaths()) {
    SetSimdPath(path);
    RunDot(p);
    for (int co = 0; co < 13; ++co)
      for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 19; ++x) {
          float want =
              ChainDot(src.data() + y * 21 + x, off.data(), 63, w.data() + co * 63, init[co]);
          ASSERT_EQ(FloatToBits(out.at(0, co, y, x)), FloatToBits(want))
              << SimdPathName(path) << " " << co << "," << y << "," << x;
        }
  }
  SetSimdPath(SupportedSimdPaths().back());
}

}  // namespace
}  // namespace petprep
