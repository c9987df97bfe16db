// The CUDA backend, written once over its runtime: DeviceBackend<CudaRuntime> is the backend
// on a GPU (cuda_backend.cu), DeviceBackend<SimRuntime> the same code on the simulated device
// (cuda_sim_backend.cc). Everything here — which kernels run, in which order, with which
// launch geometry and buffers — is shared; the runtime only allocates, copies and launches.
//
// Tensors stay on the device. A step copies to the host only what the caller asks for (the
// loss, hashes, checkpoints, metrics); offset tables are uploaded once per shape and kept.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "gpu/device_kernels.h"
#include "gpu/launch.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/ops.h"

namespace petprep::gpu {

template <typename Runtime>
class DeviceBackend final : public Backend {
 public:
  explicit DeviceBackend(std::shared_ptr<Runtime> rt = std::make_shared<Runtime>())
      : rt_(std::move(rt)) {}

  const char* name() const override { return Runtime::kName; }
  std::string Describe() const override { return rt_->Describe(); }
  bool Supports(Op, const Shape&) const override { return true; }
  TransferCounts Transfers() const override { return rt_->counts(); }

  Status CopyFromHost(const void* src, size_t bytes, DeviceTensor* dst) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the destination", *dst, dst->dtype()));
    if (bytes != dst->bytes()) return OpError(Op::kCopy, "a copy of the wrong size");
    return Wrap(Op::kCopy, rt_->ToDevice(dst->raw(), src, bytes));
  }
  Status CopyToHost(const DeviceTensor& src, void* dst, size_t bytes) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the source", src, src.dtype()));
    if (bytes != src.bytes()) return OpError(Op::kCopy, "a copy of the wrong size");
    return Wrap(Op::kCopy, rt_->ToHost(dst, src.raw(), bytes));
  }
  Status Synchronize() override { return Wrap(Op::kCopy, rt_->Synchronize()); }

  // One copy to the device: images and class ids side by side in a staging buffer, split on the
  // device.
  Status UploadImagesAndLabels(const float* images, const Shape& image_shape, const uint8_t* labels,
                               const Shape& label_shape, DeviceTensor* d_images,
                               DeviceTensor* d_labels) override {
    PETPREP_RETURN_IF_ERROR(Allocate(image_shape, DType::kF32, d_images));
    PETPREP_RETURN_IF_ERROR(Allocate(label_shape, DType::kU8, d_labels));
    const size_t ib = d_images->bytes(), lb = d_labels->bytes();
    staging_host_.resize(ib + lb);
    std::memcpy(staging_host_.data(), images, ib);
    std::memcpy(staging_host_.data() + ib, labels, lb);
    PETPREP_RETURN_IF_ERROR(Allocate({static_cast<int>(ib + lb), 1, 1, 1}, DType::kU8, &staging_));
    PETPREP_RETURN_IF_ERROR(
        Wrap(Op::kCopy, rt_->ToDevice(staging_.raw(), staging_host_.data(), ib + lb)));
    PETPREP_RETURN_IF_ERROR(Wrap(Op::kCopy, rt_->OnDevice(d_images->raw(), staging_.raw(), ib)));
    return Wrap(Op::kCopy, rt_->OnDevice(d_labels->raw(), staging_.u8() + ib, lb));
  }

  // ---------------------------------------------------------------- convolutions

  Status Conv3x3Forward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor* bias,
                        DeviceTensor* y) override {
    const Op op = Op::kConv3x3Forward;
    PETPREP_RETURN_IF_ERROR(CheckConvInputs(op, x, w, bias));
    PETPREP_RETURN_IF_ERROR(Pad(op, x, &pad_));
    const int hp = x.h() + 2, wp = x.w() + 2;
    const int64_t* off = nullptr;
    PETPREP_RETURN_IF_ERROR(Offsets3x3(op, x.c(), hp, wp, &off));
    PETPREP_RETURN_IF_ERROR(Allocate({x.n(), w.n(), x.h(), x.w()}, DType::kF32, y));
    return Dot(op, pad_.f32(), static_cast<int64_t>(x.c()) * hp * wp, off, x.c() * 9, wp, w.f32(),
               bias ? bias->f32() : nullptr, x.n(), w.n(), x.h(), x.w(), y->f32());
  }
  Status Conv3x3Backward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& dy,
                         DeviceTensor* dx, DeviceTensor* dw, DeviceTensor* db) override {
    const Op op = Op::kConv3x3Backward;
    PETPREP_RETURN_IF_ERROR(ConvGradInputs(op, x, w, dy));
    const int ci = x.c(), co = w.n(), hp = x.h() + 2, wp = x.w() + 2;
    if (dx != nullptr) {
      PETPREP_RETURN_IF_ERROR(Pad(op, dy, &pad_));
      PETPREP_RETURN_IF_ERROR(Allocate({ci, co * 9, 1, 1}, DType::kF32, &wt_));
      PETPREP_RETURN_IF_ERROR(
          Launch(op, static_cast<int64_t>(ci) * co * 9, Flip3x3K{w.f32(), wt_.f32(), ci, co}));
      const int64_t* off = nullptr;
      PETPREP_RETURN_IF_ERROR(Offsets3x3(op, co, hp, wp, &off));
      PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, dx));
      PETPREP_RETURN_IF_ERROR(Dot(op, pad_.f32(), static_cast<int64_t>(co) * hp * wp, off, co * 9,
                                  wp, wt_.f32(), nullptr, x.n(), ci, x.h(), x.w(), dx->f32()));
    }
    PETPREP_RETURN_IF_ERROR(Pad(op, x, &pad_));
    const int64_t* off = nullptr;
    PETPREP_RETURN_IF_ERROR(Offsets3x3(op, ci, hp, wp, &off));
    PETPREP_RETURN_IF_ERROR(Allocate(w.shape(), DType::kF32, dw));
    PETPREP_RETURN_IF_ERROR(Grad(op, dy, pad_.f32(), static_cast<int64_t>(ci) * hp * wp, off,
                                 ci * 9, wp, x.h(), x.w(), dw->f32()));
    return BiasGrad(op, dy, db);
  }
  Status Conv1x1Forward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor* bias,
                        DeviceTensor* y) override {
    const Op op = Op::kConv1x1Forward;
    PETPREP_RETURN_IF_ERROR(CheckConvInputs(op, x, w, bias));
    const int64_t plane = x.shape().plane();
    const int64_t* off = nullptr;
    PETPREP_RETURN_IF_ERROR(PlaneOffsets(op, x.c(), plane, &off));
    PETPREP_RETURN_IF_ERROR(Allocate({x.n(), w.n(), x.h(), x.w()}, DType::kF32, y));
    return Dot(op, x.f32(), x.c() * plane, off, x.c(), x.w(), w.f32(), bias ? bias->f32() : nullptr,
               x.n(), w.n(), x.h(), x.w(), y->f32());
  }
  Status Conv1x1Backward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& dy,
                         DeviceTensor* dx, DeviceTensor* dw, DeviceTensor* db) override {
    const Op op = Op::kConv1x1Backward;
    PETPREP_RETURN_IF_ERROR(ConvGradInputs(op, x, w, dy));
    const int ci = x.c(), co = w.n();
    const int64_t plane = x.shape().plane();
    if (dx != nullptr) {
      PETPREP_RETURN_IF_ERROR(Allocate({ci, co, 1, 1}, DType::kF32, &wt_));
      PETPREP_RETURN_IF_ERROR(
          Launch(op, static_cast<int64_t>(ci) * co, Transpose1x1K{w.f32(), wt_.f32(), ci, co}));
      const int64_t* off = nullptr;
      PETPREP_RETURN_IF_ERROR(PlaneOffsets(op, co, plane, &off));
      PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, dx));
      PETPREP_RETURN_IF_ERROR(Dot(op, dy.f32(), co * plane, off, co, x.w(), wt_.f32(), nullptr,
                                  x.n(), ci, x.h(), x.w(), dx->f32()));
    }
    const int64_t* off = nullptr;
    PETPREP_RETURN_IF_ERROR(PlaneOffsets(op, ci, plane, &off));
    PETPREP_RETURN_IF_ERROR(Allocate(w.shape(), DType::kF32, dw));
    PETPREP_RETURN_IF_ERROR(
        Grad(op, dy, x.f32(), ci * plane, off, ci, x.w(), x.h(), x.w(), dw->f32()));
    return BiasGrad(op, dy, db);
  }
  Status ConvT2x2Forward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor* bias,
                         DeviceTensor* y) override {
    const Op op = Op::kConvT2x2Forward;
    PETPREP_RETURN_IF_ERROR(CheckConvInputs(op, x, w, bias));
    const int n = x.n(), ci = x.c(), co = w.c(), h = x.h(), wd = x.w();
    const int64_t plane = x.shape().plane();
    PETPREP_RETURN_IF_ERROR(Allocate({4, co, ci, 1}, DType::kF32, &wt_));
    PETPREP_RETURN_IF_ERROR(
        Launch(op, 4 * static_cast<int64_t>(ci) * co, PhaseWeightsK{w.f32(), wt_.f32(), ci, co}));
    const int64_t* off = nullptr;
    PETPREP_RETURN_IF_ERROR(PlaneOffsets(op, ci, plane, &off));
    PETPREP_RETURN_IF_ERROR(Allocate({n, co, 2 * h, 2 * wd}, DType::kF32, y));
    return Launch(op, y->size(),
                  ConvT2x2ForwardK{x.f32(), wt_.f32(), bias ? bias->f32() : nullptr, off, y->f32(),
                                   n, ci, co, h, wd});
  }
  Status ConvT2x2Backward(const DeviceTensor& x, const DeviceTensor& w, const DeviceTensor& dy,
                          DeviceTensor* dx, DeviceTensor* dw, DeviceTensor* db) override {
    const Op op = Op::kConvT2x2Backward;
    PETPREP_RETURN_IF_ERROR(ConvGradInputs(op, x, w, dy));
    const int n = x.n(), ci = x.c(), co = w.c(), h = x.h(), wd = x.w();
    const int64_t plane = x.shape().plane();
    PETPREP_RETURN_IF_ERROR(Allocate({n, co * 4, h, wd}, DType::kF32, &pad_));
    PETPREP_RETURN_IF_ERROR(Launch(
        op, pad_.size(), PhaseSplitK{dy.f32(), pad_.f32(), static_cast<int64_t>(n) * co, h, wd}));
    const int64_t* off = nullptr;
    PETPREP_RETURN_IF_ERROR(PlaneOffsets(op, co * 4, plane, &off));
    if (dx != nullptr) {
      PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, dx));
      PETPREP_RETURN_IF_ERROR(Dot(op, pad_.f32(), co * 4 * plane, off, co * 4, wd, w.f32(), nullptr,
                                  n, ci, h, wd, dx->f32()));
    }
    PETPREP_RETURN_IF_ERROR(Allocate(w.shape(), DType::kF32, dw));
    PETPREP_RETURN_IF_ERROR(
        Grad(op, x, pad_.f32(), co * 4 * plane, off, co * 4, wd, h, wd, dw->f32()));
    return BiasGrad(op, dy, db);
  }

  // ---------------------------------------------------------------- BatchNorm

  Status BatchNormForwardTrain(const DeviceTensor& x, const DeviceTensor& gamma,
                               const DeviceTensor& beta, DeviceTensor* running_mean,
                               DeviceTensor* running_var, DeviceTensor* y,
                               BatchNormSaved* saved) override {
    const Op op = Op::kBatchNormForwardTrain;
    PETPREP_RETURN_IF_ERROR(CheckInputs(op, {&x, &gamma, &beta, running_mean, running_var}));
    const int c = x.c();
    const Shape cs{c, 1, 1, 1};
    const float count = static_cast<float>(static_cast<int64_t>(x.n()) * x.shape().plane());
    const float mom = static_cast<float>(kBatchNormMomentum);
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    PETPREP_RETURN_IF_ERROR(Allocate(cs, DType::kF32, &saved->mean));
    PETPREP_RETURN_IF_ERROR(Allocate(cs, DType::kF32, &saved->inv_std));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, &saved->xhat));
    PETPREP_RETURN_IF_ERROR(Allocate(cs, DType::kF32, &sums_));
    PETPREP_RETURN_IF_ERROR(ChannelSum(op, x, Terms(SumTerm::kValue, x.f32()), sums_.f32()));
    PETPREP_RETURN_IF_ERROR(
        Launch(op, c, BatchNormMeanK{sums_.f32(), saved->mean.f32(), c, count}));
    PETPREP_RETURN_IF_ERROR(
        ChannelSum(op, x, Terms(SumTerm::kSquaredDiff, x.f32(), saved->mean.f32()), sums_.f32()));
    PETPREP_RETURN_IF_ERROR(
        Launch(op, c,
               BatchNormVarianceK{sums_.f32(), saved->mean.f32(), saved->inv_std.f32(),
                                  running_mean->f32(), running_var->f32(), c, count,
                                  static_cast<float>(kBatchNormEps), mom, 1.0f - mom}));
    return Launch(op, x.size(),
                  BatchNormApplyTrainK{x.f32(), saved->mean.f32(), saved->inv_std.f32(),
                                       gamma.f32(), beta.f32(), saved->xhat.f32(), y->f32(),
                                       x.size(), x.shape().plane(), c});
  }
  Status BatchNormForwardEval(const DeviceTensor& x, const DeviceTensor& gamma,
                              const DeviceTensor& beta, const DeviceTensor& running_mean,
                              const DeviceTensor& running_var, DeviceTensor* y) override {
    const Op op = Op::kBatchNormForwardEval;
    PETPREP_RETURN_IF_ERROR(CheckInputs(op, {&x, &gamma, &beta, &running_mean, &running_var}));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    return Launch(op, x.size(),
                  BatchNormEvalK{x.f32(), gamma.f32(), beta.f32(), running_mean.f32(),
                                 running_var.f32(), y->f32(), x.size(), x.shape().plane(), x.c(),
                                 static_cast<float>(kBatchNormEps)});
  }
  Status BatchNormBackward(const DeviceTensor& dy, const DeviceTensor& gamma,
                           const BatchNormSaved& saved, DeviceTensor* dx, DeviceTensor* dgamma,
                           DeviceTensor* dbeta) override {
    const Op op = Op::kBatchNormBackward;
    PETPREP_RETURN_IF_ERROR(
        CheckInputs(op, {&dy, &gamma, &saved.mean, &saved.inv_std, &saved.xhat}));
    const int c = dy.c();
    const float count = static_cast<float>(static_cast<int64_t>(dy.n()) * dy.shape().plane());
    PETPREP_RETURN_IF_ERROR(Allocate(dy.shape(), DType::kF32, dx));
    PETPREP_RETURN_IF_ERROR(Allocate({c, 1, 1, 1}, DType::kF32, dgamma));
    PETPREP_RETURN_IF_ERROR(Allocate({c, 1, 1, 1}, DType::kF32, dbeta));
    PETPREP_RETURN_IF_ERROR(ChannelSum(op, dy, Terms(SumTerm::kValue, dy.f32()), dbeta->f32()));
    PETPREP_RETURN_IF_ERROR(
        ChannelSum(op, dy, Terms(SumTerm::kProduct, dy.f32(), saved.xhat.f32()), dgamma->f32()));
    return Launch(
        op, dy.size(),
        BatchNormGradK{dy.f32(), saved.xhat.f32(), dbeta->f32(), dgamma->f32(), gamma.f32(),
                       saved.inv_std.f32(), dx->f32(), dy.size(), dy.shape().plane(), c, count});
  }

  // ---------------------------------------------------------------- elementwise and shape

  Status ReluForward(const DeviceTensor& x, DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kReluForward, "x", x, DType::kF32));
    if (y != &x) PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    return Launch(Op::kReluForward, x.size(), ReluForwardK{x.f32(), y->f32(), x.size()});
  }
  Status ReluBackward(const DeviceTensor& y, const DeviceTensor& dy, DeviceTensor* dx) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kReluBackward, "y", y, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Check(Op::kReluBackward, "dy", dy, DType::kF32));
    if (dx != &dy) PETPREP_RETURN_IF_ERROR(Allocate(dy.shape(), DType::kF32, dx));
    return Launch(Op::kReluBackward, dy.size(),
                  ReluBackwardK{y.f32(), dy.f32(), dx->f32(), dy.size()});
  }
  Status MaxPoolForward(const DeviceTensor& x, DeviceTensor* y, DeviceTensor* argmax) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kMaxPoolForward, "x", x, DType::kF32));
    const Shape out{x.n(), x.c(), x.h() / 2, x.w() / 2};
    PETPREP_RETURN_IF_ERROR(Allocate(out, DType::kF32, y));
    PETPREP_RETURN_IF_ERROR(Allocate(out, DType::kU8, argmax));
    return Launch(Op::kMaxPoolForward, out.size(),
                  MaxPoolForwardK{x.f32(), y->f32(), argmax->u8(),
                                  static_cast<int64_t>(x.n()) * x.c(), x.h(), x.w(), out.h, out.w});
  }
  Status MaxPoolBackward(const Shape& x_shape, const DeviceTensor& dy, const DeviceTensor& argmax,
                         DeviceTensor* dx) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kMaxPoolBackward, "dy", dy, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Check(Op::kMaxPoolBackward, "argmax", argmax, DType::kU8));
    PETPREP_RETURN_IF_ERROR(AllocateZero(x_shape, DType::kF32, dx));
    return Launch(
        Op::kMaxPoolBackward, dy.size(),
        MaxPoolBackwardK{dy.f32(), argmax.u8(), dx->f32(), static_cast<int64_t>(dy.n()) * dy.c(),
                         x_shape.h, x_shape.w, dy.h(), dy.w()});
  }
  Status ConcatForward(const DeviceTensor& a, const DeviceTensor& b, DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(CheckConcat(Op::kConcatForward, a, b));
    PETPREP_RETURN_IF_ERROR(Allocate({a.n(), a.c() + b.c(), a.h(), a.w()}, DType::kF32, y));
    return Launch(Op::kConcatForward, y->size(),
                  ConcatForwardK{a.f32(), b.f32(), y->f32(), a.c() * a.shape().plane(),
                                 b.c() * b.shape().plane(), y->size()});
  }
  Status ConcatBackward(const DeviceTensor& dy, int a_channels, DeviceTensor* da,
                        DeviceTensor* db) override {
    PETPREP_RETURN_IF_ERROR(CheckConcatSplit(Op::kConcatBackward, dy, a_channels));
    PETPREP_RETURN_IF_ERROR(Allocate({dy.n(), a_channels, dy.h(), dy.w()}, DType::kF32, da));
    PETPREP_RETURN_IF_ERROR(
        Allocate({dy.n(), dy.c() - a_channels, dy.h(), dy.w()}, DType::kF32, db));
    const int64_t plane = dy.shape().plane();
    return Launch(Op::kConcatBackward, dy.size(),
                  ConcatBackwardK{dy.f32(), da->f32(), db->f32(), a_channels * plane,
                                  (dy.c() - a_channels) * plane, dy.size()});
  }
  Status Add(const DeviceTensor& a, const DeviceTensor& b, DeviceTensor* y) override {
    PETPREP_RETURN_IF_ERROR(CheckSameShapes(Op::kAdd, a, {&b}));
    if (y != &a && y != &b) PETPREP_RETURN_IF_ERROR(Allocate(a.shape(), DType::kF32, y));
    return Launch(Op::kAdd, a.size(), AddK{a.f32(), b.f32(), y->f32(), a.size()});
  }
  Status DropoutForward(const DeviceTensor& x, float p, uint64_t seed, uint64_t step,
                        uint32_t layer, DeviceTensor* y, DeviceTensor* keep) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kDropoutForward, "x", x, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kF32, y));
    PETPREP_RETURN_IF_ERROR(Allocate(x.shape(), DType::kU8, keep));
    const float scale = 1.0f / (1.0f - p);
    return Launch(Op::kDropoutForward, (x.size() + 3) / 4,
                  DropoutForwardK{x.f32(), y->f32(), keep->u8(), x.size(), p, scale,
                                  DeriveKey(seed, RandomPurpose::kDropout), layer, step});
  }
  Status DropoutBackward(const DeviceTensor& dy, float p, const DeviceTensor& keep,
                         DeviceTensor* dx) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kDropoutBackward, "dy", dy, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Check(Op::kDropoutBackward, "keep", keep, DType::kU8));
    if (dx != &dy) PETPREP_RETURN_IF_ERROR(Allocate(dy.shape(), DType::kF32, dx));
    return Launch(Op::kDropoutBackward, dy.size(),
                  DropoutBackwardK{dy.f32(), keep.u8(), dx->f32(), dy.size(), 1.0f / (1.0f - p)});
  }

  // ---------------------------------------------------------------- losses

  Status SoftmaxCrossEntropy(const DeviceTensor& logits, const DeviceTensor& labels,
                             DeviceTensor* loss, DeviceTensor* dlogits) override {
    const Op op = Op::kSoftmaxCrossEntropy;
    PETPREP_RETURN_IF_ERROR(LossInputs(op, logits, labels, loss, dlogits));
    const int64_t plane = logits.shape().plane(), pixels = logits.n() * plane;
    const float count = static_cast<float>(pixels);
    PETPREP_RETURN_IF_ERROR(Allocate({logits.n(), 1, logits.h(), logits.w()}, DType::kF32, &px_));
    PETPREP_RETURN_IF_ERROR(
        Launch(op, pixels,
               SoftmaxPixelK{logits.f32(), labels.u8(), px_.f32(), dlogits->f32(), pixels, plane,
                             logits.c(), count}));
    PETPREP_RETURN_IF_ERROR(Allocate({1, 1, 1, 1}, DType::kF32, &sums_));
    PETPREP_RETURN_IF_ERROR(
        TensorSum(op, logits.n(), 1, plane, Terms(SumTerm::kValue, px_.f32()), sums_.f32()));
    return Launch(op, 1, MeanOfSumK{sums_.f32(), loss->f32(), count});
  }
  Status BceJaccard(const DeviceTensor& logits, const DeviceTensor& labels, DeviceTensor* loss,
                    DeviceTensor* dlogits) override {
    const Op op = Op::kBceJaccard;
    PETPREP_RETURN_IF_ERROR(LossInputs(op, logits, labels, loss, dlogits));
    const int n = logits.n(), c = logits.c();
    const int64_t plane = logits.shape().plane(), total = logits.size();
    const float count = static_cast<float>(total);
    PETPREP_RETURN_IF_ERROR(Allocate(logits.shape(), DType::kF32, &px_));
    PETPREP_RETURN_IF_ERROR(Allocate(logits.shape(), DType::kF32, &pad_));  // the BCE terms
    PETPREP_RETURN_IF_ERROR(Launch(
        op, total, BcePixelK{logits.f32(), labels.u8(), px_.f32(), pad_.f32(), total, plane, c}));
    PETPREP_RETURN_IF_ERROR(Allocate({4, 1, 1, 1}, DType::kF32, &sums_));
    float* s = sums_.f32();
    PETPREP_RETURN_IF_ERROR(TensorSum(op, n, c, plane, Terms(SumTerm::kValue, pad_.f32()), s));
    PETPREP_RETURN_IF_ERROR(TensorSum(
        op, n, c, plane, Terms(SumTerm::kProductTarget, px_.f32(), nullptr, labels.u8()), s + 1));
    PETPREP_RETURN_IF_ERROR(TensorSum(op, n, c, plane, Terms(SumTerm::kValue, px_.f32()), s + 2));
    PETPREP_RETURN_IF_ERROR(
        TensorSum(op, n, c, plane, Terms(SumTerm::kTarget, nullptr, nullptr, labels.u8()), s + 3));
    PETPREP_RETURN_IF_ERROR(
        Launch(op, total,
               BceJaccardGradK{px_.f32(), labels.u8(), s, dlogits->f32(), total, plane, c, count}));
    return Launch(op, 1, BceJaccardLossK{s, loss->f32(), count});
  }

  // ---------------------------------------------------------------- optimisers, metrics

  Status AdamUpdate(const AdamConstants& k, DeviceTensor* w, const DeviceTensor& g, DeviceTensor* m,
                    DeviceTensor* v) override {
    PETPREP_RETURN_IF_ERROR(CheckSameShapes(Op::kAdamUpdate, *w, {&g, m, v}));
    return Launch(Op::kAdamUpdate, w->size(),
                  AdamK{w->f32(), g.f32(), m->f32(), v->f32(), w->size(), k});
  }
  Status SgdUpdate(const SgdConstants& k, DeviceTensor* w, const DeviceTensor& g,
                   DeviceTensor* buf) override {
    PETPREP_RETURN_IF_ERROR(CheckSameShapes(Op::kSgdUpdate, *w, {&g, buf}));
    return Launch(Op::kSgdUpdate, w->size(), SgdK{w->f32(), g.f32(), buf->f32(), w->size(), k});
  }
  Status Argmax(const DeviceTensor& logits, DeviceTensor* classes) override {
    PETPREP_RETURN_IF_ERROR(Check(Op::kArgmax, "logits", logits, DType::kF32));
    PETPREP_RETURN_IF_ERROR(Allocate({logits.n(), 1, logits.h(), logits.w()}, DType::kU8, classes));
    const int64_t plane = logits.shape().plane();
    return Launch(Op::kArgmax, logits.n() * plane,
                  ArgmaxK{logits.f32(), classes->u8(), logits.n() * plane, plane, logits.c()});
  }
  Status Confusion(const DeviceTensor& truth, const DeviceTensor& predicted, int classes,
                   DeviceTensor* counts) override {
    PETPREP_RETURN_IF_ERROR(CheckConfusion(Op::kConfusion, truth, predicted, classes));
    PETPREP_RETURN_IF_ERROR(AllocateZero({classes * classes, 1, 1, 1}, DType::kU32, counts));
    return Launch(Op::kConfusion, truth.size(),
                  ConfusionK{truth.u8(), predicted.u8(), counts->u32(), truth.size(), classes});
  }

 protected:
  Result<std::shared_ptr<DeviceBuffer>> NewBuffer(size_t bytes) override {
    void* p = nullptr;
    PETPREP_RETURN_IF_ERROR(rt_->Malloc(bytes, &p));
    return std::shared_ptr<DeviceBuffer>(std::make_shared<Memory>(rt_, p, bytes));
  }
  Status ZeroBytes(DeviceTensor* t) override {
    return Wrap(Op::kCopy, rt_->Zero(t->raw(), t->bytes()));
  }
  Status CopyOnDevice(const DeviceTensor& src, DeviceTensor* dst) override {
    return Wrap(Op::kCopy, rt_->OnDevice(dst->raw(), src.raw(), src.bytes()));
  }

 private:
  // Device memory, returned to the runtime when the last tensor holding it lets go.
  class Memory final : public DeviceBuffer {
   public:
    Memory(std::shared_ptr<Runtime> rt, void* p, size_t bytes) : rt_(std::move(rt)) {
      data_ = p;
      bytes_ = bytes;
    }
    ~Memory() override { rt_->Free(data_); }

   private:
    std::shared_ptr<Runtime> rt_;
  };

  Status Wrap(Op op, const Status& s) const { return s.ok() ? s : OpError(op, s.message()); }
  template <typename K>
  Status Launch(Op op, int64_t threads, const K& kernel) {
    if (threads <= 0) return Status::Ok();
    return Wrap(op, rt_->Launch(GridFor(threads), BlockDim(), kernel));
  }

  Status ConvGradInputs(Op op, const DeviceTensor& x, const DeviceTensor& w,
                        const DeviceTensor& dy) const {
    PETPREP_RETURN_IF_ERROR(CheckConvInputs(op, x, w, nullptr));
    return Check(op, "dy", dy, DType::kF32);
  }
  Status LossInputs(Op op, const DeviceTensor& logits, const DeviceTensor& labels,
                    DeviceTensor* loss, DeviceTensor* dlogits) {
    PETPREP_RETURN_IF_ERROR(CheckLossInputs(op, logits, labels));
    PETPREP_RETURN_IF_ERROR(Allocate(logits.shape(), DType::kF32, dlogits));
    return Allocate({1, 1, 1, 1}, DType::kF32, loss);
  }
  // x padded by one zero on every side into *xp.
  Status Pad(Op op, const DeviceTensor& x, DeviceTensor* xp) {
    PETPREP_RETURN_IF_ERROR(Allocate({x.n(), x.c(), x.h() + 2, x.w() + 2}, DType::kF32, xp));
    return Launch(op, xp->size(),
                  PadK{x.f32(), xp->f32(), static_cast<int64_t>(x.n()) * x.c(), x.h(), x.w()});
  }

  // An offset table on the device, made by `make` the first time `key` is asked for and kept.
  template <typename Make>
  Status OffsetTable(Op op, const std::tuple<int, int, int64_t, int64_t>& key, Make make,
                     const int64_t** dev) {
    auto it = offsets_.find(key);
    if (it == offsets_.end()) {
      const std::vector<int64_t> host = make();
      auto buf = NewBuffer(host.size() * sizeof(int64_t));
      if (!buf.ok()) return OpError(op, buf.status().message());
      PETPREP_RETURN_IF_ERROR(
          Wrap(op, rt_->ToDevice((*buf)->data(), host.data(), host.size() * sizeof(int64_t))));
      it = offsets_.emplace(key, *buf).first;
    }
    *dev = static_cast<const int64_t*>(it->second->data());
    return Status::Ok();
  }
  // off[ci * 9 + ky * 3 + kx] = ci * Hp * Wp + ky * Wp + kx (ops.cc's Offsets3x3).
  Status Offsets3x3(Op op, int channels, int hp, int wp, const int64_t** dev) {
    return OffsetTable(
        op, std::make_tuple(0, channels, int64_t{hp}, int64_t{wp}),
        [&] {
          std::vector<int64_t> off(static_cast<size_t>(channels) * 9);
          for (int c = 0; c < channels; ++c) {
            for (int ky = 0; ky < 3; ++ky) {
              for (int kx = 0; kx < 3; ++kx) {
                off[c * 9 + ky * 3 + kx] = static_cast<int64_t>(c) * hp * wp + ky * wp + kx;
              }
            }
          }
          return off;
        },
        dev);
  }
  // off[k] = k * plane.
  Status PlaneOffsets(Op op, int planes, int64_t plane, const int64_t** dev) {
    return OffsetTable(
        op, std::make_tuple(1, planes, plane, int64_t{0}),
        [&] {
          std::vector<int64_t> off(static_cast<size_t>(planes));
          for (int k = 0; k < planes; ++k) off[k] = k * plane;
          return off;
        },
        dev);
  }

  Status Dot(Op op, const float* src, int64_t src_n, const int64_t* off, int k_count, int64_t rs,
             const float* w, const float* init, int n, int co, int h, int wd, float* out) {
    const DotPlan<float> p = DotPlanOf(src, src_n, off, k_count, rs, w, init, n, co, h, wd, out);
    return Launch(op, static_cast<int64_t>(n) * co * h * wd, DotK{p});
  }
  // out (C x K) = the weight gradient of g (N, C, H, W) against src + off[k], per-image chains
  // combined in image order.
  Status Grad(Op op, const DeviceTensor& g, const float* src, int64_t src_n, const int64_t* off,
              int k_count, int64_t rs, int h, int wd, float* out) {
    const int n = g.n(), c = g.c();
    const int64_t count = static_cast<int64_t>(c) * k_count;
    PETPREP_RETURN_IF_ERROR(Allocate({n, c, k_count, 1}, DType::kF32, &parts_));
    GradPartsK k{g.f32(),
                 static_cast<int64_t>(c) * g.shape().plane(),
                 g.shape().plane(),
                 src,
                 src_n,
                 off,
                 k_count,
                 rs,
                 n,
                 c,
                 h,
                 wd,
                 parts_.f32()};
    PETPREP_RETURN_IF_ERROR(Launch(op, count * n, k));
    return Launch(op, count, CombinePartsK{parts_.f32(), out, n, count});
  }
  Status BiasGrad(Op op, const DeviceTensor& dy, DeviceTensor* db) {
    if (db == nullptr) return Status::Ok();
    PETPREP_RETURN_IF_ERROR(Allocate({dy.c(), 1, 1, 1}, DType::kF32, db));
    return ChannelSum(op, dy, Terms(SumTerm::kValue, dy.f32()), db->f32());
  }

  // sums[k] = the channel sum of terms over x's (N, C, H, W).
  Status ChannelSum(Op op, const DeviceTensor& x, SumTerms terms, float* sums) {
    const int64_t planes = static_cast<int64_t>(x.n()) * x.c();
    terms.c = x.c();
    terms.plane = x.shape().plane();
    PETPREP_RETURN_IF_ERROR(Allocate({static_cast<int>(planes), 8, 1, 1}, DType::kF32, &stripes_));
    PETPREP_RETURN_IF_ERROR(Launch(op, planes * 8, PlaneStripesK{terms, planes, stripes_.f32()}));
    return Launch(op, x.c(), ChannelCombineK{stripes_.f32(), x.n(), x.c(), sums});
  }
  // *sum = the tensor sum of terms over (n, c, plane).
  Status TensorSum(Op op, int n, int c, int64_t plane, SumTerms terms, float* sum) {
    const int64_t planes = static_cast<int64_t>(n) * c;
    terms.c = c;
    terms.plane = plane;
    PETPREP_RETURN_IF_ERROR(Allocate({static_cast<int>(planes), 8, 1, 1}, DType::kF32, &stripes_));
    PETPREP_RETURN_IF_ERROR(Launch(op, planes * 8, PlaneStripesK{terms, planes, stripes_.f32()}));
    return Launch(op, 1, TensorCombineK{stripes_.f32(), planes, sum});
  }

  std::shared_ptr<Runtime> rt_;
  // Scratch, kept between calls (Allocate reuses storage that is large enough).
  DeviceTensor pad_, wt_, parts_, stripes_, sums_, px_, staging_;
  std::vector<uint8_t> staging_host_;
  std::map<std::tuple<int, int, int64_t, int64_t>, std::shared_ptr<DeviceBuffer>> offsets_;
};

}  // namespace petprep::gpu
