#include "pipeline/train/backend.h"

#include <cstring>

namespace petprep {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kU8:
      return 1;
    case DType::kU32:
      return 4;
  }
  return 1;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kU8:
      return "u8";
    case DType::kU32:
      return "u32";
  }
  return "?";
}

std::string Shape::ToString() const {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" +
         std::to_string(w);
}

const char* OpName(Op op) {
  static const char* const kNames[kOpCount] = {"conv3x3_forward",
                                               "conv3x3_backward",
                                               "conv1x1_forward",
                                               "conv1x1_backward",
                                               "convt2x2_forward",
                                               "convt2x2_backward",
                                               "batchnorm_train",
                                               "batchnorm_eval",
                                               "batchnorm_backward",
                                               "relu_forward",
                                               "relu_backward",
                                               "maxpool_forward",
                                               "maxpool_backward",
                                               "concat_forward",
                                               "concat_backward",
                                               "add",
                                               "dropout_forward",
                                               "dropout_backward",
                                               "softmax_ce",
                                               "bce_jaccard",
                                               "adam_update",
                                               "sgd_update",
                                               "argmax",
                                               "confusion",
                                               "copy"};
  const int i = static_cast<int>(op);
  return i >= 0 && i < kOpCount ? kNames[i] : "unknown_op";
}

Status Backend::OpError(Op op, const std::string& what) const {
  return Status::Internal(std::string(name()) + " " + OpName(op) + ": " + what);
}

Status Backend::Check(Op op, const char* what, const DeviceTensor& t, DType dtype) const {
  if (!t.allocated()) return OpError(op, std::string(what) + " is not allocated");
  if (t.backend() != this) {
    return OpError(op, std::string(what) + " lives on backend " +
                           (t.backend() ? t.backend()->name() : "none") + ", not here");
  }
  if (t.dtype() != dtype) {
    return OpError(
        op, std::string(what) + " is " + DTypeName(t.dtype()) + ", expected " + DTypeName(dtype));
  }
  return Status::Ok();
}

Status Backend::CheckConvInputs(Op op, const DeviceTensor& x, const DeviceTensor& w,
                                const DeviceTensor* bias) const {
  PETPREP_RETURN_IF_ERROR(Check(op, "x", x, DType::kF32));
  PETPREP_RETURN_IF_ERROR(Check(op, "the weights", w, DType::kF32));
  if (bias != nullptr) PETPREP_RETURN_IF_ERROR(Check(op, "the bias", *bias, DType::kF32));
  return Status::Ok();
}

Status Backend::CheckInputs(Op op, std::initializer_list<const DeviceTensor*> ts) const {
  for (const DeviceTensor* t : ts) PETPREP_RETURN_IF_ERROR(Check(op, "an input", *t, DType::kF32));
  return Status::Ok();
}

Status Backend::CheckSameShapes(Op op, const DeviceTensor& first,
                                std::initializer_list<const DeviceTensor*> rest) const {
  PETPREP_RETURN_IF_ERROR(Check(op, "a tensor", first, DType::kF32));
  for (const DeviceTensor* t : rest) {
    PETPREP_RETURN_IF_ERROR(Check(op, "a tensor", *t, DType::kF32));
    if (t->shape() != first.shape()) {
      return OpError(op, "shapes " + first.shape().ToString() + " and " + t->shape().ToString());
    }
  }
  return Status::Ok();
}

Status Backend::CheckConcat(Op op, const DeviceTensor& a, const DeviceTensor& b) const {
  PETPREP_RETURN_IF_ERROR(Check(op, "a", a, DType::kF32));
  PETPREP_RETURN_IF_ERROR(Check(op, "b", b, DType::kF32));
  if (a.n() != b.n() || a.h() != b.h() || a.w() != b.w()) {
    return OpError(op, "shapes " + a.shape().ToString() + " and " + b.shape().ToString());
  }
  return Status::Ok();
}

Status Backend::CheckConcatSplit(Op op, const DeviceTensor& dy, int a_channels) const {
  PETPREP_RETURN_IF_ERROR(Check(op, "dy", dy, DType::kF32));
  if (a_channels < 0 || a_channels > dy.c()) {
    return OpError(op, std::to_string(a_channels) + " channels of " + dy.shape().ToString());
  }
  return Status::Ok();
}

Status Backend::CheckLossInputs(Op op, const DeviceTensor& logits,
                                const DeviceTensor& labels) const {
  PETPREP_RETURN_IF_ERROR(Check(op, "logits", logits, DType::kF32));
  PETPREP_RETURN_IF_ERROR(Check(op, "labels", labels, DType::kU8));
  if (labels.size() != static_cast<int64_t>(logits.n()) * logits.shape().plane()) {
    return OpError(
        op, "labels " + labels.shape().ToString() + " for logits " + logits.shape().ToString());
  }
  return Status::Ok();
}

Status Backend::CheckConfusion(Op op, const DeviceTensor& truth, const DeviceTensor& predicted,
                               int classes) const {
  PETPREP_RETURN_IF_ERROR(Check(op, "truth", truth, DType::kU8));
  PETPREP_RETURN_IF_ERROR(Check(op, "predicted", predicted, DType::kU8));
  if (truth.size() != predicted.size() || classes < 1 || classes > 255) {
    return OpError(
        op, "truth " + truth.shape().ToString() + ", prediction " + predicted.shape().ToString());
  }
  return Status::Ok();
}

Status Backend::Allocate(const Shape& shape, DType dtype, DeviceTensor* t) {
  if (shape.n < 0 || shape.c < 0 || shape.h < 0 || shape.w < 0) {
    return OpError(Op::kCopy, "negative shape " + shape.ToString());
  }
  const size_t bytes = static_cast<size_t>(shape.size()) * DTypeSize(dtype);
  if (t->backend_ != this || t->buffer_ == nullptr || t->buffer_->bytes() < bytes) {
    auto buf = NewBuffer(bytes);
    if (!buf.ok()) return buf.status();
    t->buffer_ = std::move(*buf);
    t->backend_ = this;
  }
  t->shape_ = shape;
  t->dtype_ = dtype;
  return Status::Ok();
}

Status Backend::AllocateZero(const Shape& shape, DType dtype, DeviceTensor* t) {
  PETPREP_RETURN_IF_ERROR(Allocate(shape, dtype, t));
  return ZeroBytes(t);
}

Status Backend::Copy(const DeviceTensor& src, DeviceTensor* dst) {
  PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the source", src, src.dtype()));
  PETPREP_RETURN_IF_ERROR(Allocate(src.shape(), src.dtype(), dst));
  return CopyOnDevice(src, dst);
}

Status Backend::Upload(const Tensor& host, DeviceTensor* t) {
  return Upload(host.data(), Shape{host.n(), host.c(), host.h(), host.w()}, t);
}

Status Backend::Upload(const float* data, const Shape& shape, DeviceTensor* t) {
  PETPREP_RETURN_IF_ERROR(Allocate(shape, DType::kF32, t));
  return CopyFromHost(data, t->bytes(), t);
}

Status Backend::UploadBytes(const uint8_t* data, const Shape& shape, DeviceTensor* t) {
  PETPREP_RETURN_IF_ERROR(Allocate(shape, DType::kU8, t));
  return CopyFromHost(data, t->bytes(), t);
}

Status Backend::Download(const DeviceTensor& t, Tensor* host) {
  PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the tensor", t, DType::kF32));
  host->Reshape(t.n(), t.c(), t.h(), t.w());
  return CopyToHost(t, host->data(), t.bytes());
}

Status Backend::DownloadBytes(const DeviceTensor& t, std::vector<uint8_t>* host) {
  PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the tensor", t, DType::kU8));
  host->resize(t.bytes());
  return CopyToHost(t, host->data(), t.bytes());
}

Status Backend::DownloadWords(const DeviceTensor& t, std::vector<uint32_t>* host) {
  PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the tensor", t, DType::kU32));
  host->resize(static_cast<size_t>(t.size()));
  return CopyToHost(t, host->data(), t.bytes());
}

Status Backend::UploadImagesAndLabels(const float* images, const Shape& image_shape,
                                      const uint8_t* labels, const Shape& label_shape,
                                      DeviceTensor* d_images, DeviceTensor* d_labels) {
  PETPREP_RETURN_IF_ERROR(Upload(images, image_shape, d_images));
  return UploadBytes(labels, label_shape, d_labels);
}

Result<float> Backend::ReadScalar(const DeviceTensor& t) {
  PETPREP_RETURN_IF_ERROR(Check(Op::kCopy, "the scalar", t, DType::kF32));
  if (t.size() != 1) return OpError(Op::kCopy, "a scalar of shape " + t.shape().ToString());
  float v = 0;
  PETPREP_RETURN_IF_ERROR(CopyToHost(t, &v, sizeof v));
  return v;
}

std::vector<std::string> BuiltInBackends() { return {"cpu", "cuda-sim", "cuda"}; }

Result<std::unique_ptr<Backend>> MakeBackend(const std::string& name) {
  if (name == "cpu") return NewCpuBackend();
  if (name == "cuda-sim") return NewCudaSimBackend();
  if (name == "cuda") return NewCudaBackend();
  std::string known;
  for (const std::string& b : BuiltInBackends()) known += (known.empty() ? "" : ", ") + b;
  return Status::InvalidArgument("unknown ops backend '" + name + "' (this build has: " + known +
                                 ")");
}

}  // namespace petprep
