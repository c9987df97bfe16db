// The CPU ops backend: ops.h's kernels over host buffers, viewed as tensors without a copy.
#include <tbb/parallel_for.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "pipeline/train/backend.h"
#include "pipeline/train/kernels.h"
#include "pipeline/train/ops.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"

namespace petprep {
namespace {

class HostBuffer : public DeviceBuffer {
 public:
  explicit HostBuffer(size_t bytes) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    bytes_ = data_ != nullptr ? bytes : 0;
  }
  ~HostBuffer() override { std::free(data_); }
};

Tensor View(const DeviceTensor& t) { return Tensor::View(t.f32(), t.n(), t.c(), t.h(), t.w()); }

// Adds the wall time of its scope to an op's entry in `times` (when there is one).
class OpClock {
 public:
  OpClock(OpTimes* times, Op op) : times_(times), op_(op) {
    if (times_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  ~OpClock() {
    if (times_ == nullptr) return;
    const int i = static_cast<int>(op_);
    times_->seconds[i] +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    ++times_->calls[i];
  }
  OpClock(const OpClock&) = delete;
  OpClock& operator=(const OpClock&) = delete;

 private:
  OpTimes* times_;
  Op op_;
  std::chrono::steady_clock::time_point start_;
};

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(CpuBackendFault fault = {}, OpTimes* times = nullptr)
      : fault_(fault), times_(times) {}
  const char* name() const override { return "cpu"; }
  std::string Describe() const override {
    return std::string("cpu (SIMD path ") + SimdPathName(ActiveSimdPath()) + ")";
  }
  bool Supports(Op, const Shape&) const override { return true; }

  Status CopyFromHost(const void* src, size_t bytes, DeviceTensor* dst) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the destination", *dst, dst->dtype()));
    if (bytes != dst->bytes()) return OpError(Op::kCopy, "a copy of the wrong size");
    std::memcpy(dst->raw(), src, bytes);
    return Status::Ok();
  }
  Status CopyToHost(const DeviceTensor& src, void* dst, size_t bytes) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the source", src, src.dtype()));
    if (bytes != src.bytes()) return OpError(Op::kCopy, "a copy of the wrong size");
    std::memcpy(dst, src.raw(), bytes);
    return Status::Ok();
  }
  Status Synchronize() override { return Status::Ok(); }

  Status Conv3x3Forward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor* bias,
                        DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConv3x3Forward));
    const OpClock clock(times_, Op::kConv3x3Forward);
    return ConvForward(Op::kConv3x3Forward, x, w, bias, {x.n(), w.n(), x.h(), x.w()}, y,
                       [](auto&&... a) { petprep::Conv3x3Forward<float>(a...); });
  }
  Status Conv3x3Backward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& dy,
                         DeviceTensor* dx, DeviceTensor* dw, DeviceTensor* db) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConv3x3Backward));
    const OpClock clock(times_, Op::kConv3x3Backward);
    return ConvBackward(Op::kConv3x3Backward, x, w, dy, dx, dw, db, w.n(),
                        [](auto&&... a) { petprep::Conv3x3Backward<float>(a...); });
  }
  Status Conv1x1Forward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor* bias,
                        DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConv1x1Forward));
    const OpClock clock(times_, Op::kConv1x1Forward);
    return ConvForward(Op::kConv1x1Forward, x, w, bias, {x.n(), w.n(), x.h(), x.w()}, y,
                       [](auto&&... a) { petprep::Conv1x1Forward<float>(a...); });
  }
  Status Conv1x1Backward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& dy,
                         DeviceTensor* dx, DeviceTensor* dw, DeviceTensor* db) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConv1x1Backward));
    const OpClock clock(times_, Op::kConv1x1Backward);
    return ConvBackward(Op::kConv1x1Backward, x, w, dy, dx, dw, db, w.n(),
                        [](auto&&... a) { petprep::Conv1x1Backward<float>(a...); });
  }
  Status ConvT2x2Forward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor* bias,
                         DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConvT2x2Forward));
    const OpClock clock(times_, Op::kConvT2x2Forward);
    return ConvForward(Op::kConvT2x2Forward, x, w, bias, {x.n(), w.c(), 2 * x.h(), 2 * x.w()}, y,
                       [](auto&&... a) { petprep::ConvT2x2Forward<float>(a...); });
  }
  Status ConvT2x2Backward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& dy,
                          DeviceTensor* dx, DeviceTensor* dw, DeviceTensor* db) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConvT2x2Backward));
    const OpClock clock(times_, Op::kConvT2x2Backward);
    return ConvBackward(Op::kConvT2x2Backward, x, w, dy, dx, dw, db, w.c(),
                        [](auto&&... a) { petprep::ConvT2x2Backward<float>(a...); });
  }

  Status BatchNormForwardTrain(const DeviceTensor& x, const DeviceTensor& gamma,
                               const DeviceTensor& beta, DeviceTensor* running_mean,
                               DeviceTensor* running_var, DeviceTensor* y,
                               BatchNormSaved* saved) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kBatchNormForwardTrain));
    const OpClock clock(times_, Op::kBatchNormForwardTrain);
    const Op op = Op::kBatchNormForwardTrain;
    PETPREP_RETURN_IF_ERROR(CheckInputs(op, {&x, &gamma, &beta, running_mean, running_var}));
    const Shape c{x.c(), 1, 1, 1};
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    PETPREP_RETURN_IF_ERROR(Allocate(c, DType::kF32, &saved->mean));
    PETPREP_RETURN_IF_ERROR(Allocate(c, DType::kF32, &saved->inv_std));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, &saved->xhat));
    BatchNormCache<float> cache = CacheOf(*saved);
    Tensor rm = View(*running_mean), rv = View(*running_var), vy = View(*y);
    petprep::BatchNormForwardTrain(View(x), View(gamma), View(beta), &rm, &rv, &vy, &cache);
    return Status::Ok();
  }
  Status BatchNormForwardEval(const DeviceTensor& x, const DeviceTensor& gamma,
                              const DeviceTensor& beta, const DeviceTensor& running_mean,
                              const DeviceTensor& running_var, DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kBatchNormForwardEval));
    const OpClock clock(times_, Op::kBatchNormForwardEval);
    PETPREP_RETURN_IF_ERROR(
        CheckInputs(Op::kBatchNormForwardEval, {&x, &gamma, &beta, &running_mean, &running_var}));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    Tensor vy = View(*y);
    petprep::BatchNormForwardEval(View(x), View(gamma), View(beta), View(running_mean),
                                  View(running_var), &vy);
    return Status::Ok();
  }
  Status BatchNormBackward(const DeviceTensor& dy, const DeviceTensor& gamma,
                           const BatchNormSaved& saved, DeviceTensor* dx, DeviceTensor* dgamma,
                           DeviceTensor* dbeta) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kBatchNormBackward));
    const OpClock clock(times_, Op::kBatchNormBackward);
    PETPREP_RETURN_IF_ERROR(CheckInputs(Op::kBatchNormBackward,
                                        {&dy, &gamma, &saved.mean, &saved.inv_std, &saved.xhat}));
    PETPREP_RETURN_IF_ERROR(Allocate(dy.shape(), DType::kF32, dx));
    PETPREP_RETURN_IF_ERROR(Allocate({dy.c(), 1, 1, 1}, DType::kF32, dgamma));
    PETPREP_RETURN_IF_ERROR(Allocate({dy.c(), 1, 1, 1}, DType::kF32, dbeta));
    Tensor vdx = View(*dx), vdg = View(*dgamma), vdb = View(*dbeta);
    petprep::BatchNormBackward(View(dy), View(gamma), CacheOf(saved), &vdx, &vdg, &vdb);
    return Status::Ok();
  }

  Status ReluForward(const DeviceTensor& x, DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kReluForward));
    const OpClock clock(times_, Op::kReluForward);
    PETPREP_RETURN_IF_ERROR(Check(Op::kReluForward, "x", x, DType::kF32));
    if (y != &x) PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    Tensor vy = View(*y);
    petprep::ReluForward(View(x), &vy);
    return Status::Ok();
  }
  Status ReluBackward(const DeviceTensor& y, const DeviceTensor& dy, DeviceTensor* dx) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kReluBackward));
    const OpClock clock(times_, Op::kReluBackward);
    PETPREP_RETURN_IF_ERROR(Check(Op::kReluBackward, "y", y, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Check(Op::kReluBackward, "dy", dy, DType::kF32));
    if (dx != &dy) PETPREP_RETURN_IF_ERROR(Allocate(dy.shape(), DType::kF32, dx));
    Tensor vdx = View(*dx);
    petprep::ReluBackward(View(y), View(dy), &vdx);
    return Status::Ok();
  }
  Status MaxPoolForward(const DeviceTensor& x, DeviceTensor* y, DeviceTensor* argmax) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kMaxPoolForward));
    const OpClock clock(times_, Op::kMaxPoolForward);
    PETPREP_RETURN_IF_ERROR(Check(Op::kMaxPoolForward, "x", x, DType::kF32));
    const Shape out{x.n(), x.c(), x.h() / 2, x.w() / 2};
    PETPREP_RETURN_IF_ERROR(Allocate(out, DType::kF32, y));
    PETPREP_RETURN_IF_ERROR(Allocate(out, DType::kU8, argmax));
    Tensor vy = View(*y);
    petprep::MaxPoolForward(View(x), &vy, argmax->u8());
    return Status::Ok();
  }
  Status MaxPoolBackward(const Shape& x_shape, const DeviceTensor& dy, const DeviceTensor& argmax,
                         DeviceTensor* dx) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kMaxPoolBackward));
    const OpClock clock(times_, Op::kMaxPoolBackward);
    PETPREP_RETURN_IF_ERROR(Check(Op::kMaxPoolBackward, "dy", dy, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Check(Op::kMaxPoolBackward, "argmax", argmax, DType::kU8));
    PETPREP_RETURN_IF_ERROR(Allocate(x_shape, DType::kF32, dx));
    Tensor shape_only = Tensor::View(nullptr, x_shape.n, x_shape.c, x_shape.h, x_shape.w);
    Tensor vdx = View(*dx);
    petprep::MaxPoolBackward(shape_only, View(dy), argmax.u8(), &vdx);
    return Status::Ok();
  }
  Status ConcatForward(const DeviceTensor& a, const DeviceTensor& b, DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConcatForward));
    const OpClock clock(times_, Op::kConcatForward);
    PETPREP_RETURN_IF_ERROR(CheckConcat(Op::kConcatForward, a, b));
    PETPREP_RETURN_IF_ERROR(Allocate({a.n(), a.c() + b.c(), a.h(), a.w()}, DType::kF32, y));
    Tensor vy = View(*y);
    petprep::ConcatForward(View(a), View(b), &vy);
    return Status::Ok();
  }
  Status ConcatBackward(const DeviceTensor& dy, int a_channels, DeviceTensor* da,
                        DeviceTensor* db) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConcatBackward));
    const OpClock clock(times_, Op::kConcatBackward);
    PETPREP_RETURN_IF_ERROR(CheckConcatSplit(Op::kConcatBackward, dy, a_channels));
    PETPREP_RETURN_IF_ERROR(Allocate({dy.n(), a_channels, dy.h(), dy.w()}, DType::kF32, da));
    PETPREP_RETURN_IF_ERROR(
        Allocate({dy.n(), dy.c() - a_channels, dy.h(), dy.w()}, DType::kF32, db));
    Tensor vda = View(*da), vdb = View(*db);
    petprep::ConcatBackward(View(dy), a_channels, &vda, &vdb);
    return Status::Ok();
  }
  Status Add(const DeviceTensor& a, const DeviceTensor& b, DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kAdd));
    const OpClock clock(times_, Op::kAdd);
    PETPREP_RETURN_IF_ERROR(CheckSameShapes(Op::kAdd, a, {&b}));
    if (y != &a && y != &b) PETPREP_RETURN_IF_ERROR(Allocate(a.shape(), DType::kF32, y));
    const float* pa = a.f32();
    const float* pb = b.f32();
    float* py = y->f32();
    ParallelElements(a.size(), [&](int64_t e) { py[e] = pa[e] + pb[e]; });
    return Status::Ok();
  }
  Status DropoutForward(const DeviceTensor& x, float p, uint64_t seed, uint64_t step,
                        uint32_t layer, DeviceTensor* y, DeviceTensor* keep) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kDropoutForward));
    const OpClock clock(times_, Op::kDropoutForward);
    PETPREP_RETURN_IF_ERROR(Check(Op::kDropoutForward, "x", x, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kU8, keep));
    Tensor vy = View(*y);
    petprep::DropoutForward(View(x), p, seed, step, layer, &vy, keep->u8());
    return Status::Ok();
  }
  Status DropoutBackward(const DeviceTensor& dy, float p, const DeviceTensor& keep,
                         DeviceTensor* dx) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kDropoutBackward));
    const OpClock clock(times_, Op::kDropoutBackward);
    PETPREP_RETURN_IF_ERROR(Check(Op::kDropoutBackward, "dy", dy, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Check(Op::kDropoutBackward, "keep", keep, DType::kU8));
    if (dx != &dy) PETPREP_RETURN_IF_ERROR(Allocate(dy.shape(), DType::kF32, dx));
    Tensor vdx = View(*dx);
    petprep::DropoutBackward(View(dy), p, keep.u8(), &vdx);
    return Status::Ok();
  }

  Status SoftmaxCrossEntropy(const DeviceTensor& logits, const DeviceTensor& labels,
                             DeviceTensor* loss, DeviceTensor* dlogits) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kSoftmaxCrossEntropy));
    const OpClock clock(times_, Op::kSoftmaxCrossEntropy);
    return Loss(Op::kSoftmaxCrossEntropy, logits, labels, loss, dlogits,
                [](const Tensor& z, const uint8_t* l, Tensor* d) {
                  return petprep::SoftmaxCrossEntropy(z, l, d);
                });
  }
  Status BceJaccard(const DeviceTensor& logits, const DeviceTensor& labels, DeviceTensor* loss,
                    DeviceTensor* dlogits) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kBceJaccard));
    const OpClock clock(times_, Op::kBceJaccard);
    return Loss(
        Op::kBceJaccard, logits, labels, loss, dlogits,
        [](const Tensor& z, const uint8_t* l, Tensor* d) { return petprep::BceJaccard(z, l, d); });
  }

  Status AdamUpdate(const AdamConstants& k, DeviceTensor* w, const DeviceTensor& g, DeviceTensor* m,
                    DeviceTensor* v) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kAdamUpdate));
    const OpClock clock(times_, Op::kAdamUpdate);
    PETPREP_RETURN_IF_ERROR(CheckSameShapes(Op::kAdamUpdate, *w, {&g, m, v}));
    float* pw = w->f32();
    const float* pg = g.f32();
    float* pm = m->f32();
    float* pv = v->f32();
    ParallelElements(w->size(), [&](int64_t e) {
      pw[e] = petprep::AdamUpdate(pw[e], pg[e], &pm[e], &pv[e], k.b1, k.c1, k.b2, k.c2, k.step,
                                  k.bc2_sqrt, k.eps);
    });
    return Status::Ok();
  }
  Status SgdUpdate(const SgdConstants& k, DeviceTensor* w, const DeviceTensor& g,
                   DeviceTensor* buf) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kSgdUpdate));
    const OpClock clock(times_, Op::kSgdUpdate);
    PETPREP_RETURN_IF_ERROR(CheckSameShapes(Op::kSgdUpdate, *w, {&g, buf}));
    float* pw = w->f32();
    const float* pg = g.f32();
    float* pb = buf->f32();
    ParallelElements(w->size(), [&](int64_t e) {
      pw[e] = petprep::SgdUpdate(pw[e], pg[e], &pb[e], k.first, k.momentum, k.lr);
    });
    return Status::Ok();
  }

  Status Argmax(const DeviceTensor& logits, DeviceTensor* classes) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kArgmax));
    const OpClock clock(times_, Op::kArgmax);
    PETPREP_RETURN_IF_ERROR(Check(Op::kArgmax, "logits", logits, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Allocate({logits.n(), 1, logits.h(), logits.w()}, DType::kU8, classes));
    const int64_t plane = logits.shape().plane();
    const int c = logits.c();
    const float* z = logits.f32();
    uint8_t* out = classes->u8();
    ParallelElements(logits.n() * plane, [&](int64_t e) {
      const int64_t j = e / plane, i = e % plane;
      out[e] = static_cast<uint8_t>(ArgmaxChannel(z + j * c * plane + i, plane, c));
    });
    return Status::Ok();
  }
  Status Confusion(const DeviceTensor& truth, const DeviceTensor& predicted, int classes,
                   DeviceTensor* counts) override {
    PETPREP_RETURN_IF_ERROR(Enter(Op::kConfusion));
    const OpClock clock(times_, Op::kConfusion);
    PETPREP_RETURN_IF_ERROR(CheckConfusion(Op::kConfusion, truth, predicted, classes));
    PETPREP_RETURN_IF_ERROR(AllocateZero({classes * classes, 1, 1, 1}, DType::kU32, counts));
    const uint8_t* t = truth.u8();
    const uint8_t* p = predicted.u8();
    uint32_t* out = counts->u32();
    for (int64_t e = 0; e < truth.size(); ++e) {
      if (t[e] < classes && p[e] < classes) ++out[t[e] * classes + p[e]];
    }
    return Status::Ok();
  }

 protected:
  Result<std::shared_ptr<DeviceBuffer>> NewBuffer(size_t bytes) override {
    auto b = std::make_shared<HostBuffer>(bytes);
    if (b->data() == nullptr) {
      return Status::Unavailable("cpu: out of memory allocating " + std::to_string(bytes) +
                                 " bytes");
    }
    return std::shared_ptr<DeviceBuffer>(std::move(b));
  }
  Status ZeroBytes(DeviceTensor* t) override {
    std::memset(t->raw(), 0, t->bytes());
    return Status::Ok();
  }
  Status CopyOnDevice(const DeviceTensor& src, DeviceTensor* dst) override {
    std::memcpy(dst->raw(), src.raw(), src.bytes());
    return Status::Ok();
  }

 private:
  // The test double's failure: the fault's op fails at its given call, as a device would.
  Status Enter(Op op) {
    if (!fault_.armed || op != fault_.op) return Status::Ok();
    if (++fault_calls_ < fault_.fail_at_call) return Status::Ok();
    return Status::IoError(std::string("cpu ") + OpName(op) + ": injected device failure (call " +
                           std::to_string(fault_calls_) + ")");
  }
  static BatchNormCache<float> CacheOf(const BatchNormSaved& s) {
    BatchNormCache<float> c;
    c.mean = View(s.mean);
    c.inv_std = View(s.inv_std);
    c.xhat = View(s.xhat);
    return c;
  }
  template <typename F>
  Status ConvForward(Op op, const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor* bias,
                     const Shape& out, DeviceTensor* y, F run) {
    PETPREP_RETURN_IF_ERROR(CheckConvInputs(op, x, w, bias));
    PETPREP_RETURN_IF_ERROR(Allocate(out, DType::kF32, y));
    Tensor vy = View(*y), vb = bias ? View(*bias) : Tensor();
    run(View(x), View(w), bias ? &vb : nullptr, &vy);
    return Status::Ok();
  }
  template <typename F>
  Status ConvBackward(Op op, const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& dy,
                      DeviceTensor* dx, DeviceTensor* dw, DeviceTensor* db, int co, F run) {
    PETPREP_RETURN_IF_ERROR(CheckConvInputs(op, x, w, nullptr));
    PETPREP_RETURN_IF_ERROR(Check(op, "dy", dy, DType::kF32));
    if (dx != nullptr) PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, dx));
    PETPREP_RETURN_IF_ERROR(Allocate(w.shape(), DType::kF32, dw));
    if (db != nullptr) PETPREP_RETURN_IF_ERROR(Allocate({co, 1, 1, 1}, DType::kF32, db));
    Tensor vdx = dx ? View(*dx) : Tensor(), vdw = View(*dw), vdb = db ? View(*db) : Tensor();
    run(View(x), View(w), View(dy), dx ? &vdx : nullptr, &vdw, db ? &vdb : nullptr);
    return Status::Ok();
  }
  template <typename F>
  Status Loss(Op op, const DeviceTensor& logits, const DeviceTensor& labels, DeviceTensor* loss,
              DeviceTensor* dlogits, F run) {
    PETPREP_RETURN_IF_ERROR(CheckLossInputs(op, logits, labels));
    PETPREP_RETURN_IF_ERROR(Allocate(logits.shape(), DType::kF32, dlogits));
    PETPREP_RETURN_IF_ERROR(Allocate({1, 1, 1, 1}, DType::kF32, loss));
    Tensor vd = View(*dlogits);
    loss->f32()[0] = run(View(logits), labels.u8(), &vd);
    return Status::Ok();
  }
  CpuBackendFault fault_;
  uint64_t fault_calls_ = 0;
  OpTimes* times_;
};

}  // namespace

std::unique_ptr<Backend> NewCpuBackend() { return std::make_unique<CpuBackend>(); }

std::unique_ptr<Backend> NewTimedCpuBackend(OpTimes* times) {
  return std::make_unique<CpuBackend>(CpuBackendFault{}, times);
}

std::unique_ptr<Backend> NewFaultyCpuBackend(CpuBackendFault fault) {
  fault.armed = true;
  return std::make_unique<CpuBackend>(fault);
}

}  // namespace petprep
