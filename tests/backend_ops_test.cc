// Every op of the ops backend interface, on every backend this build has, against the CPU
// reference (ops.h's host functions), bit for bit: one table of ops x shapes, the op and the
// shape in the test's name (after ggml's test-backend-ops). Shapes reach the real network's
// extremes: 130x130 images with tails for every vector width, 8 images, K = 128 * 9 = 1,152.
// A backend this build lacks or whose device is missing is reported as skipped, with the reason.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/philox.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/ops.h"
#include "pipeline/train/optim.h"

namespace petprep {
namespace {

using Bytes = std::vector<uint8_t>;

template <typename T>
Bytes BytesOf(const T* p, size_t n) {
  Bytes b(n * sizeof(T));
  if (n > 0) std::memcpy(b.data(), p, b.size());
  return b;
}
Bytes BytesOf(const Tensor& t) { return BytesOf(t.data(), t.size()); }
Bytes BytesOf(float v) { return BytesOf(&v, 1); }

Tensor Rand(int n, int c, int h, int w, uint32_t id, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(n, c, h, w);
  PhiloxStream s(DeriveKey(77, RandomPurpose::kInit), id, 0);
  for (size_t i = 0; i < t.size(); ++i) t[i] = s.Uniform(lo, hi);
  return t;
}

std::vector<uint8_t> Labels(size_t n, uint32_t id, int classes = 3) {
  PhiloxStream s(DeriveKey(77, RandomPurpose::kShuffle), id, 0);
  std::vector<uint8_t> out(n);
  for (auto& v : out) v = static_cast<uint8_t>(s.Below(classes));
  return out;
}

// Uploads host inputs and downloads outputs as bytes, stopping at the first error.
class On {
 public:
  explicit On(Backend* b) : b_(b) {}
  DeviceTensor& In(const Tensor& t) {
    tensors_.emplace_back(std::make_unique<DeviceTensor>());
    Keep(b_->Upload(t, tensors_.back().get()));
    return *tensors_.back();
  }
  DeviceTensor& InBytes(const std::vector<uint8_t>& v, const Shape& s) {
    tensors_.emplace_back(std::make_unique<DeviceTensor>());
    Keep(b_->UploadBytes(v.data(), s, tensors_.back().get()));
    return *tensors_.back();
  }
  DeviceTensor& Out() {
    tensors_.emplace_back(std::make_unique<DeviceTensor>());
    return *tensors_.back();
  }
  void Keep(const Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }
  // Appends t's bytes to out.
  void Read(const DeviceTensor& t, std::vector<Bytes>* out) {
    if (!status_.ok()) return;
    Bytes b(t.bytes());
    Keep(b_->CopyToHost(t, b.data(), b.size()));
    out->push_back(std::move(b));
  }
  Backend* operator->() { return b_; }
  const Status& status() const { return status_; }

 private:
  Backend* b_;
  std::vector<std::unique_ptr<DeviceTensor>> tensors_;
  Status status_;
};

struct OpCase {
  std::string name;  // op_shape, a valid test name
  Op op;
  Shape shape;  // the op's first input
  std::function<std::vector<Bytes>()> reference;
  std::function<Status(Backend*, std::vector<Bytes>*)> run;
};

std::string Name(const char* op, const Shape& s, const std::string& extra = "") {
  return std::string(op) + "_" + s.ToString() + (extra.empty() ? "" : "_" + extra);
}

// ---- convolutions: forward with bias, backward with dx, dw and db.
enum class ConvKind { k3x3, k1x1, kT2x2 };

void AddConv(std::vector<OpCase>* cases, ConvKind kind, int n, int ci, int co, int height,
             int width) {
  const Shape xs{n, ci, height, width};
  const bool t = kind == ConvKind::kT2x2;
  const int k = kind == ConvKind::k3x3 ? 3 : kind == ConvKind::k1x1 ? 1 : 2;
  const Shape ws = t ? Shape{ci, co, 2, 2} : Shape{co, ci, k, k};
  const Shape ys = t ? Shape{n, co, 2 * height, 2 * width} : Shape{n, co, height, width};
  const char* fname = kind == ConvKind::k3x3   ? "conv3x3_forward"
                      : kind == ConvKind::k1x1 ? "conv1x1_forward"
                                               : "convt2x2_forward";
  const char* bname = kind == ConvKind::k3x3   ? "conv3x3_backward"
                      : kind == ConvKind::k1x1 ? "conv1x1_backward"
                                               : "convt2x2_backward";
  const Op fop = kind == ConvKind::k3x3   ? Op::kConv3x3Forward
                 : kind == ConvKind::k1x1 ? Op::kConv1x1Forward
                                          : Op::kConvT2x2Forward;
  const Op bop = kind == ConvKind::k3x3   ? Op::kConv3x3Backward
                 : kind == ConvKind::k1x1 ? Op::kConv1x1Backward
                                          : Op::kConvT2x2Backward;
  auto inputs = [=](Tensor* x, Tensor* wt, Tensor* b, Tensor* dy) {
    *x = Rand(xs.n, xs.c, xs.h, xs.w, 1);
    *wt = Rand(ws.n, ws.c, ws.h, ws.w, 2, -0.2f, 0.2f);
    *b = Rand(co, 1, 1, 1, 3);
    *dy = Rand(ys.n, ys.c, ys.h, ys.w, 4);
  };
  auto host_fwd = [kind](const Tensor& x, const Tensor& w, const Tensor* b, Tensor* y) {
    if (kind == ConvKind::k3x3) Conv3x3Forward(x, w, b, y);
    if (kind == ConvKind::k1x1) Conv1x1Forward(x, w, b, y);
    if (kind == ConvKind::kT2x2) ConvT2x2Forward(x, w, b, y);
  };
  auto host_bwd = [kind](const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw,
                         Tensor* db) {
    if (kind == ConvKind::k3x3) Conv3x3Backward(x, w, dy, dx, dw, db);
    if (kind == ConvKind::k1x1) Conv1x1Backward(x, w, dy, dx, dw, db);
    if (kind == ConvKind::kT2x2) ConvT2x2Backward(x, w, dy, dx, dw, db);
  };
  auto dev_fwd = [kind](Backend* be, const DeviceTensor& x, const DeviceTensor& w,
                        const DeviceTensor* b, DeviceTensor* y) {
    if (kind == ConvKind::k3x3) return be->Conv3x3Forward(x, w, b, y);
    if (kind == ConvKind::k1x1) return be->Conv1x1Forward(x, w, b, y);
    return be->ConvT2x2Forward(x, w, b, y);
  };
  auto dev_bwd = [kind](Backend* be, const DeviceTensor& x, const DeviceTensor& w,
                        const DeviceTensor& dy, DeviceTensor* dx, DeviceTensor* dw,
                        DeviceTensor* db) {
    if (kind == ConvKind::k3x3) return be->Conv3x3Backward(x, w, dy, dx, dw, db);
    if (kind == ConvKind::k1x1) return be->Conv1x1Backward(x, w, dy, dx, dw, db);
    return be->ConvT2x2Backward(x, w, dy, dx, dw, db);
  };
  const std::string to = "to" + std::to_string(co);
  cases->push_back({Name(fname, xs, to), fop, xs,
                    [=] {
                      Tensor x, w, b, dy, y;
                      inputs(&x, &w, &b, &dy);
                      host_fwd(x, w, &b, &y);
                      Tensor y2;
                      host_fwd(x, w, nullptr, &y2);
                      return std::vector<Bytes>{BytesOf(y), BytesOf(y2)};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      Tensor x, w, b, dy;
                      inputs(&x, &w, &b, &dy);
                      On d(be);
                      DeviceTensor &dx_ = d.In(x), &dw_ = d.In(w), &db_ = d.In(b), &y = d.Out(),
                                   &y2 = d.Out();
                      if (d.status().ok()) d.Keep(dev_fwd(be, dx_, dw_, &db_, &y));
                      if (d.status().ok()) d.Keep(dev_fwd(be, dx_, dw_, nullptr, &y2));
                      d.Read(y, out);
                      d.Read(y2, out);
                      return d.status();
                    }});
  cases->push_back({Name(bname, xs, to), bop, xs,
                    [=] {
                      Tensor x, w, b, dy, dx, dw, db;
                      inputs(&x, &w, &b, &dy);
                      host_bwd(x, w, dy, &dx, &dw, &db);
                      return std::vector<Bytes>{BytesOf(dx), BytesOf(dw), BytesOf(db)};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      Tensor x, w, b, dy;
                      inputs(&x, &w, &b, &dy);
                      On d(be);
                      DeviceTensor &vx = d.In(x), &vw = d.In(w), &vdy = d.In(dy), &dx = d.Out(),
                                   &dw = d.Out(), &db = d.Out();
                      if (d.status().ok()) d.Keep(dev_bwd(be, vx, vw, vdy, &dx, &dw, &db));
                      d.Read(dx, out);
                      d.Read(dw, out);
                      d.Read(db, out);
                      return d.status();
                    }});
}

// ---- BatchNorm: training forward (with the running statistics), eval forward, backward.
void AddBatchNorm(std::vector<OpCase>* cases, const Shape& s) {
  auto inputs = [=](Tensor* x, Tensor* g, Tensor* b, Tensor* rm, Tensor* rv, Tensor* dy) {
    *x = Rand(s.n, s.c, s.h, s.w, 11, -2.0f, 3.0f);
    *g = Rand(s.c, 1, 1, 1, 12, 0.5f, 1.5f);
    *b = Rand(s.c, 1, 1, 1, 13);
    *rm = Rand(s.c, 1, 1, 1, 14);
    *rv = Rand(s.c, 1, 1, 1, 15, 0.5f, 2.0f);
    *dy = Rand(s.n, s.c, s.h, s.w, 16);
  };
  cases->push_back(
      {Name("batchnorm", s), Op::kBatchNormForwardTrain, s,
       [=] {
         Tensor x, g, b, rm, rv, dy, y, ye, dx, dg, db;
         inputs(&x, &g, &b, &rm, &rv, &dy);
         BatchNormCache<float> cache;
         BatchNormForwardTrain(x, g, b, &rm, &rv, &y, &cache);
         BatchNormForwardEval(x, g, b, rm, rv, &ye);
         BatchNormBackward(dy, g, cache, &dx, &dg, &db);
         return std::vector<Bytes>{BytesOf(y),  BytesOf(rm), BytesOf(rv), BytesOf(cache.xhat),
                                   BytesOf(ye), BytesOf(dx), BytesOf(dg), BytesOf(db)};
       },
       [=](Backend* be, std::vector<Bytes>* out) {
         Tensor x, g, b, rm, rv, dy;
         inputs(&x, &g, &b, &rm, &rv, &dy);
         On d(be);
         DeviceTensor &vx = d.In(x), &vg = d.In(g), &vb = d.In(b), &vrm = d.In(rm), &vrv = d.In(rv),
                      &vdy = d.In(dy), &y = d.Out(), &ye = d.Out(), &dx = d.Out(), &dg = d.Out(),
                      &db = d.Out();
         BatchNormSaved saved;
         if (d.status().ok()) d.Keep(be->BatchNormForwardTrain(vx, vg, vb, &vrm, &vrv, &y, &saved));
         if (d.status().ok()) d.Keep(be->BatchNormForwardEval(vx, vg, vb, vrm, vrv, &ye));
         if (d.status().ok()) d.Keep(be->BatchNormBackward(vdy, vg, saved, &dx, &dg, &db));
         for (const DeviceTensor* t : {&y, &vrm, &vrv, &saved.xhat, &ye, &dx, &dg, &db}) {
           d.Read(*t, out);
         }
         return d.status();
       }});
}

// ---- element-wise and shape ops.
void AddElementwise(std::vector<OpCase>* cases, const Shape& s) {
  cases->push_back({Name("relu", s), Op::kReluForward, s,
                    [=] {
                      Tensor x = Rand(s.n, s.c, s.h, s.w, 21), dy = Rand(s.n, s.c, s.h, s.w, 22);
                      Tensor y, dx;
                      ReluForward(x, &y);
                      ReluBackward(y, dy, &dx);
                      ReluBackward(y, dy, &dy);  // in place
                      return std::vector<Bytes>{BytesOf(y), BytesOf(dx), BytesOf(dy)};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      On d(be);
                      DeviceTensor &x = d.In(Rand(s.n, s.c, s.h, s.w, 21)),
                                   &dy = d.In(Rand(s.n, s.c, s.h, s.w, 22)), &y = d.Out(),
                                   &dx = d.Out();
                      if (d.status().ok()) d.Keep(be->ReluForward(x, &y));
                      if (d.status().ok()) d.Keep(be->ReluBackward(y, dy, &dx));
                      if (d.status().ok()) d.Keep(be->ReluBackward(y, dy, &dy));
                      d.Read(y, out);
                      d.Read(dx, out);
                      d.Read(dy, out);
                      return d.status();
                    }});
  cases->push_back({Name("maxpool", s), Op::kMaxPoolForward, s,
                    [=] {
                      // Ties on purpose: values on a coarse grid.
                      Tensor x = Rand(s.n, s.c, s.h, s.w, 23);
                      for (size_t i = 0; i < x.size(); ++i)
                        x[i] = static_cast<float>(static_cast<int>(x[i] * 4));
                      Tensor y, dx;
                      std::vector<uint8_t> am;
                      MaxPoolForward(x, &y, &am);
                      Tensor dy = Rand(y.n(), y.c(), y.h(), y.w(), 24);
                      MaxPoolBackward(x, dy, am, &dx);
                      return std::vector<Bytes>{BytesOf(y), am, BytesOf(dx)};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      Tensor x = Rand(s.n, s.c, s.h, s.w, 23);
                      for (size_t i = 0; i < x.size(); ++i)
                        x[i] = static_cast<float>(static_cast<int>(x[i] * 4));
                      On d(be);
                      DeviceTensor &vx = d.In(x), &y = d.Out(), &am = d.Out(), &dx = d.Out();
                      if (d.status().ok()) d.Keep(be->MaxPoolForward(vx, &y, &am));
                      DeviceTensor& dy = d.In(Rand(s.n, s.c, s.h / 2, s.w / 2, 24));
                      if (d.status().ok()) d.Keep(be->MaxPoolBackward(s, dy, am, &dx));
                      d.Read(y, out);
                      d.Read(am, out);
                      d.Read(dx, out);
                      return d.status();
                    }});
  const int extra = s.c + 3;
  cases->push_back({Name("concat", s, "plus" + std::to_string(extra)), Op::kConcatForward, s,
                    [=] {
                      Tensor a = Rand(s.n, s.c, s.h, s.w, 25), b = Rand(s.n, extra, s.h, s.w, 26),
                             y, da, db;
                      ConcatForward(a, b, &y);
                      Tensor dy = Rand(y.n(), y.c(), y.h(), y.w(), 27);
                      ConcatBackward(dy, s.c, &da, &db);
                      return std::vector<Bytes>{BytesOf(y), BytesOf(da), BytesOf(db)};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      On d(be);
                      DeviceTensor &a = d.In(Rand(s.n, s.c, s.h, s.w, 25)),
                                   &b = d.In(Rand(s.n, extra, s.h, s.w, 26)),
                                   &dy = d.In(Rand(s.n, s.c + extra, s.h, s.w, 27)), &y = d.Out(),
                                   &da = d.Out(), &db = d.Out();
                      if (d.status().ok()) d.Keep(be->ConcatForward(a, b, &y));
                      if (d.status().ok()) d.Keep(be->ConcatBackward(dy, s.c, &da, &db));
                      d.Read(y, out);
                      d.Read(da, out);
                      d.Read(db, out);
                      return d.status();
                    }});
  cases->push_back({Name("add", s), Op::kAdd, s,
                    [=] {
                      Tensor a = Rand(s.n, s.c, s.h, s.w, 28), b = Rand(s.n, s.c, s.h, s.w, 29);
                      Tensor y = a;
                      for (size_t i = 0; i < y.size(); ++i) y[i] = a[i] + b[i];
                      return std::vector<Bytes>{BytesOf(y), BytesOf(y)};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      On d(be);
                      DeviceTensor &a = d.In(Rand(s.n, s.c, s.h, s.w, 28)),
                                   &b = d.In(Rand(s.n, s.c, s.h, s.w, 29)), &y = d.Out();
                      if (d.status().ok()) d.Keep(be->Add(a, b, &y));
                      if (d.status().ok())
                        d.Keep(be->Add(a, b, &b));  // in place, as the U-Net adds
                      d.Read(y, out);
                      d.Read(b, out);
                      return d.status();
                    }});
  cases->push_back({Name("dropout", s), Op::kDropoutForward, s,
                    [=] {
                      Tensor x = Rand(s.n, s.c, s.h, s.w, 30), dy = Rand(s.n, s.c, s.h, s.w, 31), y,
                             dx;
                      std::vector<uint8_t> keep;
                      DropoutForward(x, 0.3f, 42, 7, 2, &y, &keep);
                      DropoutBackward(dy, 0.3f, keep, &dx);
                      return std::vector<Bytes>{BytesOf(y), keep, BytesOf(dx)};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      On d(be);
                      DeviceTensor &x = d.In(Rand(s.n, s.c, s.h, s.w, 30)),
                                   &dy = d.In(Rand(s.n, s.c, s.h, s.w, 31)), &y = d.Out(),
                                   &keep = d.Out();
                      if (d.status().ok()) d.Keep(be->DropoutForward(x, 0.3f, 42, 7, 2, &y, &keep));
                      if (d.status().ok())
                        d.Keep(be->DropoutBackward(dy, 0.3f, keep, &dy));  // in place
                      d.Read(y, out);
                      d.Read(keep, out);
                      d.Read(dy, out);
                      return d.status();
                    }});
}

// ---- losses, argmax and confusion counts over 3 classes.
void AddLosses(std::vector<OpCase>* cases, int n, int h, int w) {
  const Shape s{n, 3, h, w};
  const size_t pixels = static_cast<size_t>(n) * h * w;
  for (bool ce : {true, false}) {
    cases->push_back({Name(ce ? "softmax_ce" : "bce_jaccard", s),
                      ce ? Op::kSoftmaxCrossEntropy : Op::kBceJaccard, s,
                      [=] {
                        Tensor z = Rand(n, 3, h, w, 40, -4.0f, 4.0f), dz;
                        std::vector<uint8_t> labels = Labels(pixels, 41);
                        const float loss =
                            ce ? SoftmaxCrossEntropy(z, labels, &dz) : BceJaccard(z, labels, &dz);
                        return std::vector<Bytes>{BytesOf(loss), BytesOf(dz)};
                      },
                      [=](Backend* be, std::vector<Bytes>* out) {
                        On d(be);
                        DeviceTensor &z = d.In(Rand(n, 3, h, w, 40, -4.0f, 4.0f)),
                                     &labels = d.InBytes(Labels(pixels, 41), {n, 1, h, w}),
                                     &loss = d.Out(), &dz = d.Out();
                        if (d.status().ok()) {
                          d.Keep(ce ? be->SoftmaxCrossEntropy(z, labels, &loss, &dz)
                                    : be->BceJaccard(z, labels, &loss, &dz));
                        }
                        d.Read(loss, out);
                        d.Read(dz, out);
                        return d.status();
                      }});
  }
  cases->push_back({Name("argmax_confusion", s), Op::kArgmax, s,
                    [=] {
                      // Ties between channels on purpose: the first maximum wins.
                      Tensor z = Rand(n, 3, h, w, 42);
                      for (size_t i = 0; i < z.size(); ++i)
                        z[i] = static_cast<float>(static_cast<int>(z[i] * 2));
                      std::vector<uint8_t> pred(pixels),
                          truth = Labels(pixels, 43, 4);  // 3: not a class
                      const int64_t plane = static_cast<int64_t>(h) * w;
                      for (int j = 0; j < n; ++j) {
                        for (int64_t i = 0; i < plane; ++i) {
                          int best = 0;
                          for (int c = 1; c < 3; ++c) {
                            if (z[(j * 3 + c) * plane + i] > z[(j * 3 + best) * plane + i])
                              best = c;
                          }
                          pred[j * plane + i] = static_cast<uint8_t>(best);
                        }
                      }
                      std::vector<uint32_t> counts(9, 0);
                      for (size_t i = 0; i < pixels; ++i) {
                        if (truth[i] < 3) ++counts[truth[i] * 3 + pred[i]];
                      }
                      return std::vector<Bytes>{pred, BytesOf(counts.data(), counts.size())};
                    },
                    [=](Backend* be, std::vector<Bytes>* out) {
                      Tensor z = Rand(n, 3, h, w, 42);
                      for (size_t i = 0; i < z.size(); ++i)
                        z[i] = static_cast<float>(static_cast<int>(z[i] * 2));
                      On d(be);
                      DeviceTensor &vz = d.In(z),
                                   &truth = d.InBytes(Labels(pixels, 43, 4), {n, 1, h, w}),
                                   &pred = d.Out(), &counts = d.Out();
                      if (d.status().ok()) d.Keep(be->Argmax(vz, &pred));
                      if (d.status().ok()) d.Keep(be->Confusion(truth, pred, 3, &counts));
                      d.Read(pred, out);
                      d.Read(counts, out);
                      return d.status();
                    }});
}

// ---- optimisers: three steps over a conv weight and a bias.
void AddOptimisers(std::vector<OpCase>* cases, const Shape& ws) {
  const Shape bs{ws.n, 1, 1, 1};
  auto grad = [=](int step, bool bias) {
    const Shape& s = bias ? bs : ws;
    return Rand(s.n, s.c, s.h, s.w, static_cast<uint32_t>(60 + 2 * step + (bias ? 1 : 0)));
  };
  for (bool adam : {true, false}) {
    cases->push_back(
        {Name(adam ? "adam" : "sgd", ws), adam ? Op::kAdamUpdate : Op::kSgdUpdate, ws,
         [=] {
           Tensor w = Rand(ws.n, ws.c, ws.h, ws.w, 50), b = Rand(bs.n, 1, 1, 1, 51);
           std::vector<AdamSlot> slots;
           std::vector<Tensor> bufs;
           for (int t = 1; t <= 3; ++t) {
             Tensor gw = grad(t, false), gb = grad(t, true);
             if (adam) {
               AdamStep(AdamOptions{}, static_cast<uint64_t>(t), {&w, &b}, {&gw, &gb}, &slots);
             } else {
               SgdStep(SgdOptions{}, static_cast<uint64_t>(t), {&w, &b}, {&gw, &gb}, &bufs);
             }
           }
           std::vector<Bytes> r{BytesOf(w), BytesOf(b)};
           if (adam) {
             for (const AdamSlot& s : slots) r.push_back(BytesOf(s.m)), r.push_back(BytesOf(s.v));
           } else {
             for (const Tensor& s : bufs) r.push_back(BytesOf(s));
           }
           return r;
         },
         [=](Backend* be, std::vector<Bytes>* out) {
           On d(be);
           DeviceTensor &w = d.In(Rand(ws.n, ws.c, ws.h, ws.w, 50)),
                        &b = d.In(Rand(bs.n, 1, 1, 1, 51));
           std::vector<DeviceAdamSlot> slots;
           std::vector<DeviceTensor> bufs;
           for (int t = 1; t <= 3 && d.status().ok(); ++t) {
             DeviceTensor &gw = d.In(grad(t, false)), &gb = d.In(grad(t, true));
             if (!d.status().ok()) break;
             d.Keep(adam ? AdamStep(be, AdamOptions{}, static_cast<uint64_t>(t), {&w, &b},
                                    {&gw, &gb}, &slots)
                         : SgdStep(be, SgdOptions{}, static_cast<uint64_t>(t), {&w, &b}, {&gw, &gb},
                                   &bufs));
           }
           d.Read(w, out);
           d.Read(b, out);
           if (adam) {
             for (const DeviceAdamSlot& s : slots) d.Read(s.m, out), d.Read(s.v, out);
           } else {
             for (const DeviceTensor& s : bufs) d.Read(s, out);
           }
           return d.status();
         }});
  }
}

const std::vector<OpCase>& AllCases() {
  static const std::vector<OpCase>* cases = [] {
    auto* c = new std::vector<OpCase>;
    // The first layer at 130x130 (tails for every vector width), K = 1,152 (128 channels x 9)
    // at the bottleneck, and odd shapes that no block size divides.
    AddConv(c, ConvKind::k3x3, 8, 3, 16, 130, 130);
    AddConv(c, ConvKind::k3x3, 2, 128, 64, 10, 13);
    AddConv(c, ConvKind::k3x3, 2, 5, 7, 9, 11);
    AddConv(c, ConvKind::k1x1, 8, 16, 3, 130, 130);
    AddConv(c, ConvKind::k1x1, 2, 128, 5, 9, 11);
    AddConv(c, ConvKind::kT2x2, 8, 128, 64, 16, 17);
    AddConv(c, ConvKind::kT2x2, 2, 5, 7, 9, 11);
    AddBatchNorm(c, {8, 16, 130, 130});
    AddBatchNorm(c, {2, 5, 9, 11});
    AddElementwise(c, {8, 16, 130, 130});
    AddElementwise(c, {2, 5, 9, 11});
    AddLosses(c, 8, 130, 130);
    AddLosses(c, 2, 9, 11);
    AddOptimisers(c, {128, 64, 3, 3});
    AddOptimisers(c, {7, 5, 1, 1});
    return c;
  }();
  return *cases;
}

struct Param {
  std::string backend;
  size_t index;
};

void PrintTo(const Param& p, std::ostream* os) {
  *os << p.backend << " " << AllCases()[p.index].name;
}

class BackendOpsTest : public ::testing::TestWithParam<Param> {};

TEST_P(BackendOpsTest, BitwiseEqualToTheCpuReference) {
  const OpCase& c = AllCases()[GetParam().index];
  auto backend = MakeBackend(GetParam().backend);
  if (!backend.ok()) GTEST_SKIP() << GetParam().backend << ": " << backend.status().message();
  if (!(*backend)->Supports(c.op, c.shape)) {
    GTEST_SKIP() << GetParam().backend << " does not support " << OpName(c.op) << " at "
                 << c.shape.ToString();
  }
  const std::vector<Bytes> want = c.reference();
  std::vector<Bytes> got;
  Status s = c.run(backend->get(), &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].size(), want[i].size()) << "output " << i;
    if (got[i] == want[i]) continue;
    size_t at = 0;
    while (got[i][at] == want[i][at]) ++at;
    ADD_FAILURE() << c.name << " on " << GetParam().backend << ": output " << i
                  << " differs first at byte " << at << " (element " << at / 4 << ")";
  }
}

std::vector<Param> Params() {
  std::vector<Param> p;
  for (const std::string& b : BuiltInBackends()) {
    for (size_t i = 0; i < AllCases().size(); ++i) p.push_back({b, i});
  }
  return p;
}

INSTANTIATE_TEST_SUITE_P(Ops, BackendOpsTest, ::testing::ValuesIn(Params()),
                         [](const ::testing::TestParamInfo<Param>& p) {
                           std::string n = p.param.backend + "_" + AllCases()[p.param.index].name;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

// The device backends this build lacks are named once each, as skipped with the reason.
TEST(BackendOpsTest, DeviceBackendsOfThisBuild) {
  std::string missing;
  for (const char* name : {"cuda", "cuda-sim"}) {
    auto b = MakeBackend(name);
    if (!b.ok()) missing += std::string(missing.empty() ? "" : "; ") + b.status().message();
  }
  if (!missing.empty()) GTEST_SKIP() << missing;
}

TEST(BackendOpsTest, TensorsFromAnotherBackendAreRefusedNamingTheOp) {
  auto a = NewCpuBackend(), b = NewCpuBackend();
  DeviceTensor x, y;
  ASSERT_TRUE(a->Upload(Rand(1, 2, 4, 4, 1), &x).ok());
  Status s = b->ReluForward(x, &y);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("relu_forward"), std::string::npos) << s.ToString();
  EXPECT_EQ(MakeBackend("tpu").status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace petprep
