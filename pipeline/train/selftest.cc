#include "pipeline/train/selftest.h"

#include <tbb/parallel_for.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>

#include "pipeline/core/hash.h"
#include "pipeline/core/philox.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/device/cuda_info.h"
#include "pipeline/train/backend.h"
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

std::string Digest(std::initializer_list<const Tensor*> ts) {
  Sha256 h;
  for (const Tensor* t : ts) HashTensor(*t, &h);
  return ToHex(h.Finish());
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

namespace {

// Inputs to the backend and outputs back, keeping the first error.
class Dev {
 public:
  explicit Dev(Backend* b) : b_(b) {}
  DeviceTensor Up(const Tensor& t) {
    DeviceTensor d;
    Keep(b_->Upload(t, &d));
    return d;
  }
  DeviceTensor UpBytes(const std::vector<uint8_t>& v, const Shape& s) {
    DeviceTensor d;
    Keep(b_->UploadBytes(v.data(), s, &d));
    return d;
  }
  // Hashes each tensor's bytes, in order, as the host ops' lines hash them.
  std::string Digest(std::initializer_list<const DeviceTensor*> ts) {
    Sha256 h;
    for (const DeviceTensor* t : ts) {
      std::vector<uint8_t> bytes(t->bytes());
      if (status_.ok()) Keep(b_->CopyToHost(*t, bytes.data(), bytes.size()));
      h.Update(bytes.data(), bytes.size());
    }
    return ToHex(h.Finish());
  }
  void Keep(const Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }
  const Status& status() const { return status_; }

 private:
  Backend* b_;
  Status status_;
};

}  // namespace

Status SelftestLines(Backend* backend, std::vector<SelftestLine>* lines) {
  auto add = [&](const std::string& op, const std::string& shape, const std::string& digest) {
    lines->push_back({op, shape, digest});
  };
  Dev d(backend);
  Backend& be = *backend;
  for (const OpShape& s : kShapes) {
    DeviceTensor x = d.Up(Input(s.n, s.ci, s.h, s.w, 1));
    DeviceTensor b = d.Up(Input(s.co, 1, 1, 1, 2));
    DeviceTensor y, dx, dw, db;
    {
      DeviceTensor w = d.Up(Input(s.co, s.ci, 3, 3, 3));
      d.Keep(be.Conv3x3Forward(x, w, &b, &y));
      DeviceTensor dy = d.Up(Input(y.n(), y.c(), y.h(), y.w(), 4));
      d.Keep(be.Conv3x3Backward(x, w, dy, &dx, &dw, &db));
      add("conv3x3", s.Name(), d.Digest({&y, &dx, &dw, &db}));
    }
    {
      DeviceTensor w = d.Up(Input(s.co, s.ci, 1, 1, 5));
      d.Keep(be.Conv1x1Forward(x, w, &b, &y));
      DeviceTensor dy = d.Up(Input(y.n(), y.c(), y.h(), y.w(), 6));
      d.Keep(be.Conv1x1Backward(x, w, dy, &dx, &dw, &db));
      add("conv1x1", s.Name(), d.Digest({&y, &dx, &dw, &db}));
    }
    {
      DeviceTensor w = d.Up(Input(s.ci, s.co, 2, 2, 7));
      d.Keep(be.ConvT2x2Forward(x, w, &b, &y));
      DeviceTensor dy = d.Up(Input(y.n(), y.c(), y.h(), y.w(), 8));
      d.Keep(be.ConvT2x2Backward(x, w, dy, &dx, &dw, &db));
      add("convt2x2", s.Name(), d.Digest({&y, &dx, &dw, &db}));
    }
    const std::string shape = x.shape().ToString();
    {
      DeviceTensor gamma = d.Up(Input(s.ci, 1, 1, 1, 9, 0.5f, 1.5f));
      DeviceTensor beta = d.Up(Input(s.ci, 1, 1, 1, 10));
      Tensor var(s.ci, 1, 1, 1);
      for (size_t i = 0; i < var.size(); ++i) var[i] = 1.0f;
      DeviceTensor rm = d.Up(Tensor(s.ci, 1, 1, 1)), rv = d.Up(var), dg, dbeta, ye;
      BatchNormSaved saved;
      DeviceTensor xs = d.Up(Input(s.n, s.ci, s.h, s.w, 11, -2.0f, 3.0f));
      d.Keep(be.BatchNormForwardTrain(xs, gamma, beta, &rm, &rv, &y, &saved));
      DeviceTensor dy = d.Up(Input(s.n, s.ci, s.h, s.w, 12));
      d.Keep(be.BatchNormBackward(dy, gamma, saved, &dx, &dg, &dbeta));
      d.Keep(be.BatchNormForwardEval(xs, gamma, beta, rm, rv, &ye));
      add("batchnorm", shape, d.Digest({&y, &dx, &dg, &dbeta, &rm, &rv, &ye}));
    }
    {
      DeviceTensor dy = d.Up(Input(s.n, s.ci, s.h, s.w, 13));
      d.Keep(be.ReluForward(x, &y));
      d.Keep(be.ReluBackward(y, dy, &dx));
      add("relu", shape, d.Digest({&y, &dx}));
    }
    {
      DeviceTensor am;
      d.Keep(be.MaxPoolForward(x, &y, &am));
      DeviceTensor dy = d.Up(Input(y.n(), y.c(), y.h(), y.w(), 14));
      d.Keep(be.MaxPoolBackward(x.shape(), dy, am, &dx));
      add("maxpool", shape, d.Digest({&y, &dx, &am}));
    }
    {
      DeviceTensor other = d.Up(Input(s.n, s.co, s.h, s.w, 15)), da, dother;
      d.Keep(be.ConcatForward(x, other, &y));
      DeviceTensor dy = d.Up(Input(y.n(), y.c(), y.h(), y.w(), 16));
      d.Keep(be.ConcatBackward(dy, s.ci, &da, &dother));
      add("concat", shape + "+" + std::to_string(s.co), d.Digest({&y, &da, &dother}));
    }
    {
      DeviceTensor keep;
      d.Keep(be.DropoutForward(x, 0.3f, 42, 7, 1, &y, &keep));
      DeviceTensor dy = d.Up(Input(s.n, s.ci, s.h, s.w, 17));
      d.Keep(be.DropoutBackward(dy, 0.3f, keep, &dx));
      add("dropout", shape, d.Digest({&y, &dx, &keep}));
    }
    {
      DeviceTensor z = d.Up(Input(s.n, 3, s.h, s.w, 18, -4.0f, 4.0f)), dz, loss;
      DeviceTensor labels =
          d.UpBytes(Labels(static_cast<size_t>(s.n) * s.h * s.w, 19), {s.n, 1, s.h, s.w});
      const std::string zs = z.shape().ToString();
      d.Keep(be.SoftmaxCrossEntropy(z, labels, &loss, &dz));
      add("softmax_ce", zs, d.Digest({&loss, &dz}));
      d.Keep(be.BceJaccard(z, labels, &loss, &dz));
      add("bce_jaccard", zs, d.Digest({&loss, &dz}));
    }
    {
      DeviceTensor wa = d.Up(Input(s.co, s.ci, 3, 3, 20)), wb = d.Up(Input(s.co, 1, 1, 1, 21));
      const std::string ws = wa.shape().ToString() + "+" + wb.shape().ToString();
      std::vector<DeviceAdamSlot> slots;
      for (uint64_t t = 1; t <= 3 && d.status().ok(); ++t) {
        DeviceTensor ga = d.Up(Input(s.co, s.ci, 3, 3, 22 + static_cast<uint32_t>(t)));
        DeviceTensor gb = d.Up(Input(s.co, 1, 1, 1, 30 + static_cast<uint32_t>(t)));
        if (d.status().ok())
          d.Keep(AdamStep(backend, AdamOptions{}, t, {&wa, &wb}, {&ga, &gb}, &slots));
      }
      if (!d.status().ok()) return d.status();
      add("adam", ws, d.Digest({&wa, &wb, &slots[0].m, &slots[0].v, &slots[1].m, &slots[1].v}));
      std::vector<DeviceTensor> bufs;
      for (uint64_t t = 1; t <= 3 && d.status().ok(); ++t) {
        DeviceTensor ga = d.Up(Input(s.co, s.ci, 3, 3, 40 + static_cast<uint32_t>(t)));
        DeviceTensor gb = d.Up(Input(s.co, 1, 1, 1, 50 + static_cast<uint32_t>(t)));
        if (d.status().ok())
          d.Keep(SgdStep(backend, SgdOptions{}, t, {&wa, &wb}, {&ga, &gb}, &bufs));
      }
      if (!d.status().ok()) return d.status();
      add("sgd", ws, d.Digest({&wa, &wb, &bufs[0], &bufs[1]}));
    }
    if (!d.status().ok()) return d.status();
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
  return Status::Ok();
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

SelftestReport RunSelftest(Backend* backend) {
  SelftestReport r;
  KnownAnswers(&r.failures);
  SubnormalChecks(&r.failures);
  std::unique_ptr<Backend> cpu;
  if (backend == nullptr) {
    cpu = NewCpuBackend();
    backend = cpu.get();
  }
  r.backend = backend->Describe();
  Status lines = SelftestLines(backend, &r.lines);
  if (!lines.ok()) r.failures.push_back(lines.ToString());
  r.fingerprint = Fingerprint(r.lines);
  if (r.fingerprint != kSelftestFingerprint) {
    r.failures.push_back("fingerprint " + r.fingerprint + " differs from the published " +
                         kSelftestFingerprint +
                         ": this machine or build computes other bits than petprep's arithmetic");
  }
  if (std::string(backend->name()) == "cuda") {
    r.cuda = "the ops ran on the CUDA device";
  } else {
    const Status device = gpu::RequireCudaDevice();
    r.cuda = device.ok() ? "a CUDA device is here: petprep selftest --device cuda checks it"
                         : device.message();
  }
  return r;
}

}  // namespace petprep
