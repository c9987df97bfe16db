#include "pipeline/train/selftest.h"

#include <tbb/parallel_for.h>

#include <cstdio>
#include <functional>
#include <mutex>

#include "pipeline/core/hash.h"
#include "pipeline/core/philox.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/train/conv_kernels.h"
#include "pipeline/train/float_env.h"
#include "pipeline/train/mathfn.h"
#include "pipeline/train/ops.h"
#include "pipeline/train/optim.h"

namespace petprep {

const char kSelftestFingerprint[] =
    "52a89789eb680197cafd7b9d2da4d5510fccab1ccb5dbb39b51feaf37485b7b8";

namespace {

struct OpShape {
  int n, ci, co, h, w;
  std::string Name() const {
    return std::to_string(n) + "x" + std::to_string(ci) + "x" + std::to_string(h) + "x" +
           std::to_string(w) + "->" + std::to_string(co);
  }
};

// Tails on every path (odd widths, channels not multiples of 4, 6, 8 or 16), then a shape
// the vector kernels cover whole.
const OpShape kShapes[] = {{2, 5, 7, 9, 11}, {2, 16, 24, 16, 20}};

Tensor Input(int n, int c, int h, int w, uint32_t id, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(n, c, h, w);
  PhiloxStream s(DeriveKey(2024, RandomPurpose::kInit), id, 0);
  for (size_t i = 0; i < t.size(); ++i) t[i] = s.Uniform(lo, hi);
  return t;
}

std::vector<uint8_t> Labels(size_t n, uint32_t id) {
  PhiloxStream s(DeriveKey(2024, RandomPurpose::kShuffle), id, 0);
  std::vector<uint8_t> out(n);
  for (auto& v : out) v = static_cast<uint8_t>(s.Below(3));
  return out;
}

std::string Digest(std::initializer_list<const Tensor*> ts,
                   std::initializer_list<const std::vector<uint8_t>*> bytes = {}) {
  Sha256 h;
  for (const Tensor* t : ts) HashTensor(*t, &h);
  for (const auto* b : bytes) h.Update(b->data(), b->size());
  return ToHex(h.Finish());
}

Tensor Scalar(float v) {
  Tensor t(1, 1, 1, 1);
  t[0] = v;
  return t;
}

void KnownAnswers(std::vector<std::string>* failures) {
  struct Vec {
    PhiloxCounter c;
    PhiloxKey k;
    PhiloxCounter want;
  };
  const Vec vecs[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       {{0xffffffff, 0xffffffff}},
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       {{0xa4093822, 0x299f31d0}},
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Vec& v : vecs) {
    PhiloxCounter got = Philox4x32_10(v.c, v.k);
    for (int i = 0; i < 4; ++i) {
      if (got.v[i] != v.want.v[i]) {
        char msg[128];
        std::snprintf(msg, sizeof msg, "Philox4x32-10 known answer: word %d is %08x, expected %08x",
                      i, got.v[i], v.want.v[i]);
        failures->push_back(msg);
        break;
      }
    }
  }
  const std::pair<const char*, int> folds[] = {{"Abyssinian_1", 8},
                                               {"Abyssinian_2", 2},
                                               {"Abyssinian_34", 9},
                                               {"Bengal_1", 7},
                                               {"staffordshire_bull_terrier_2", 7},
                                               {"beagle_116", 8},
                                               {"american_bulldog_8", 8}};
  for (const auto& [id, fold] : folds) {
    if (FoldOf(id) != fold) {
      failures->push_back(std::string("MD5 fold known answer: ") + id + " gives fold " +
                          std::to_string(FoldOf(id)) + ", expected " + std::to_string(fold));
    }
  }
}

}  // namespace

std::vector<SelftestLine> SelftestLines() {
  std::vector<SelftestLine> lines;
  auto add = [&](const std::string& op, const std::string& shape, const std::string& digest) {
    lines.push_back({op, shape, digest});
  };
  for (const OpShape& s : kShapes) {
    Tensor x = Input(s.n, s.ci, s.h, s.w, 1);
    Tensor b = Input(s.co, 1, 1, 1, 2);
    Tensor y, dx, dw, db;
    {
      Tensor w = Input(s.co, s.ci, 3, 3, 3);
      Conv3x3Forward(x, w, &b, &y);
      Tensor dy = Input(y.n(), y.c(), y.h(), y.w(), 4);
      Conv3x3Backward(x, w, dy, &dx, &dw, &db);
      add("conv3x3", s.Name(), Digest({&y, &dx, &dw, &db}));
    }
    {
      Tensor w = Input(s.co, s.ci, 1, 1, 5);
      Conv1x1Forward(x, w, &b, &y);
      Tensor dy = Input(y.n(), y.c(), y.h(), y.w(), 6);
      Conv1x1Backward(x, w, dy, &dx, &dw, &db);
      add("conv1x1", s.Name(), Digest({&y, &dx, &dw, &db}));
    }
    {
      Tensor w = Input(s.ci, s.co, 2, 2, 7);
      ConvT2x2Forward(x, w, &b, &y);
      Tensor dy = Input(y.n(), y.c(), y.h(), y.w(), 8);
      ConvT2x2Backward(x, w, dy, &dx, &dw, &db);
      add("convt2x2", s.Name(), Digest({&y, &dx, &dw, &db}));
    }
    const std::string shape = x.ShapeString();
    {
      Tensor gamma = Input(s.ci, 1, 1, 1, 9, 0.5f, 1.5f), beta = Input(s.ci, 1, 1, 1, 10);
      Tensor rm(s.ci, 1, 1, 1), rv(s.ci, 1, 1, 1), dg, dbeta, ye;
      for (size_t i = 0; i < rv.size(); ++i) rv[i] = 1.0f;
      BatchNormCache<float> cache;
      Tensor xs = Input(s.n, s.ci, s.h, s.w, 11, -2.0f, 3.0f);
      BatchNormForwardTrain(xs, gamma, beta, &rm, &rv, &y, &cache);
      Tensor dy = Input(s.n, s.ci, s.h, s.w, 12);
      BatchNormBackward(dy, gamma, cache, &dx, &dg, &dbeta);
      BatchNormForwardEval(xs, gamma, beta, rm, rv, &ye);
      add("batchnorm", shape, Digest({&y, &dx, &dg, &dbeta, &rm, &rv, &ye}));
    }
    {
      Tensor dy = Input(s.n, s.ci, s.h, s.w, 13);
      ReluForward(x, &y);
      ReluBackward(y, dy, &dx);
      add("relu", shape, Digest({&y, &dx}));
    }
    {
      std::vector<uint8_t> am;
      MaxPoolForward(x, &y, &am);
      Tensor dy = Input(y.n(), y.c(), y.h(), y.w(), 14);
      MaxPoolBackward(x, dy, am, &dx);
      add("maxpool", shape, Digest({&y, &dx}, {&am}));
    }
    {
      Tensor other = Input(s.n, s.co, s.h, s.w, 15), da, dother;
      ConcatForward(x, other, &y);
      Tensor dy = Input(y.n(), y.c(), y.h(), y.w(), 16);
      ConcatBackward(dy, s.ci, &da, &dother);
      add("concat", shape + "+" + std::to_string(s.co), Digest({&y, &da, &dother}));
    }
    {
      std::vector<uint8_t> keep;
      DropoutForward(x, 0.3f, 42, 7, 1, &y, &keep);
      Tensor dy = Input(s.n, s.ci, s.h, s.w, 17);
      DropoutBackward(dy, 0.3f, keep, &dx);
      add("dropout", shape, Digest({&y, &dx}, {&keep}));
    }
    {
      Tensor z = Input(s.n, 3, s.h, s.w, 18, -4.0f, 4.0f), dz;
      std::vector<uint8_t> labels = Labels(static_cast<size_t>(s.n) * s.h * s.w, 19);
      const std::string zs = z.ShapeString();
      Tensor loss = Scalar(SoftmaxCrossEntropy(z, labels, &dz));
      add("softmax_ce", zs, Digest({&loss, &dz}));
      loss = Scalar(BceJaccard(z, labels, &dz));
      add("bce_jaccard", zs, Digest({&loss, &dz}));
    }
    {
      Tensor wa = Input(s.co, s.ci, 3, 3, 20), wb = Input(s.co, 1, 1, 1, 21);
      std::vector<AdamSlot> slots;
      for (uint64_t t = 1; t <= 3; ++t) {
        Tensor ga = Input(s.co, s.ci, 3, 3, 22 + static_cast<uint32_t>(t));
        Tensor gb = Input(s.co, 1, 1, 1, 30 + static_cast<uint32_t>(t));
        AdamStep(AdamOptions{}, t, {&wa, &wb}, {&ga, &gb}, &slots);
      }
      add("adam", wa.ShapeString() + "+" + wb.ShapeString(),
          Digest({&wa, &wb, &slots[0].m, &slots[0].v, &slots[1].m, &slots[1].v}));
      std::vector<Tensor> bufs;
      for (uint64_t t = 1; t <= 3; ++t) {
        Tensor ga = Input(s.co, s.ci, 3, 3, 40 + static_cast<uint32_t>(t));
        Tensor gb = Input(s.co, 1, 1, 1, 50 + static_cast<uint32_t>(t));
        SgdStep(SgdOptions{}, t, {&wa, &wb}, {&ga, &gb}, &bufs);
      }
      add("sgd", wa.ShapeString() + "+" + wb.ShapeString(), Digest({&wa, &wb, &bufs[0], &bufs[1]}));
    }
  }
  {
    // The elementwise functions over a sweep.
    Tensor in(1, 1, 1, 4001), e, l, sg, th;
    for (Tensor* t : {&e, &l, &sg, &th}) t->Resize(1, 1, 1, 4001);
    for (int i = 0; i <= 4000; ++i) {
      const float v = -20.0f + 0.01f * static_cast<float>(i);
      in[i] = v;
      e[i] = PetExp(v);
      l[i] = PetLog(v + 20.5f);
      sg[i] = PetSigmoid(v);
      th[i] = PetTanh(v);
    }
    add("mathfn", "4001", Digest({&e, &l, &sg, &th}));
  }
  return lines;
}

namespace {

std::string Fingerprint(const std::vector<SelftestLine>& lines) {
  Sha256 h;
  for (const SelftestLine& l : lines) h.Update(l.op + " " + l.shape + " " + l.digest + "\n");
  return ToHex(h.Finish());
}

// Subnormal results and inputs on the calling thread and on the arena's worker threads.
void SubnormalChecks(std::vector<std::string>* failures) {
  std::string first = SubnormalKnownAnswers();
  const FloatEnv env = ReadFloatEnv();
  std::mutex mu;
  tbb::parallel_for(0, 64, [&](int) {
    std::string s = SubnormalKnownAnswers();
    std::lock_guard<std::mutex> lock(mu);
    if (first.empty() && !s.empty()) first = "on a worker thread: " + s;
  });
  if (first.empty()) return;
  failures->push_back("subnormal known answer: " + first +
                      (env.ok() ? "" : " (the CPU's " + env.Describe() + " mode is on)") +
                      ": this machine flushes subnormal numbers to zero, so petprep's results "
                      "would differ from other machines'");
}

}  // namespace

SelftestReport RunSelftest() {
  SelftestReport r;
  KnownAnswers(&r.failures);
  SubnormalChecks(&r.failures);
  r.lines = SelftestLines();
  r.fingerprint = Fingerprint(r.lines);
  if (r.fingerprint != kSelftestFingerprint) {
    r.failures.push_back("fingerprint " + r.fingerprint + " differs from the published " +
                         kSelftestFingerprint +
                         ": this machine or build computes other bits than petprep's arithmetic");
  }
  Status device = SetChainBackend(ChainBackend::kCuda);
  if (!device.ok()) {
    r.cuda = device.message();
    return r;
  }
  std::vector<SelftestLine> gpu = SelftestLines();
  Status used = SetChainBackend(ChainBackend::kCpu);
  if (!used.ok()) {
    r.cuda = "the device failed: " + used.message();
    r.failures.push_back("CUDA: " + used.message());
    return r;
  }
  std::string differs;
  for (size_t i = 0; i < gpu.size() && i < r.lines.size(); ++i) {
    if (gpu[i].digest != r.lines[i].digest) differs += " " + gpu[i].op + " " + gpu[i].shape;
  }
  if (differs.empty()) {
    r.cuda = "the device's convolution chains give the same bits";
  } else {
    r.cuda = "the device gives other bits for:" + differs;
    r.failures.push_back("CUDA: " + r.cuda);
  }
  return r;
}

}  // namespace petprep
