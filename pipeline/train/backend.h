// The ops backend: the one place a device enters training. Tensors live on a backend and are
// allocated by it; every op of the training step — convolutions, BatchNorm, ReLU, max-pool,
// concatenation, the skip add, dropout, the losses, Adam and SGD, the validation argmax and
// confusion counts — is a call on the backend that owns its tensors. Each backend computes
// exactly the bits pipeline/train/ARITHMETIC.md defines (the CPU backend is ops.h's kernels),
// so the U-Net and the optimiser give the same weights on every backend.
//
// A new backend implements this interface: storage (NewBuffer, copies, Synchronize),
// Supports, and every op. A device error is a Status that names the op (OpName); a backend
// never falls back to another device. Host code reads a tensor only through one explicit
// copy (CopyToHost, Download), so hashes and checkpoints are device-neutral.
//
// Not thread-safe: one caller at a time per backend. An op's inputs and outputs are distinct
// tensors unless its comment allows one to be another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/train/tensor.h"

namespace petprep {

enum class DType : uint8_t { kF32, kU8, kU32 };
size_t DTypeSize(DType t);
const char* DTypeName(DType t);

struct Shape {
  int n = 0, c = 0, h = 0, w = 0;
  int64_t size() const { return static_cast<int64_t>(n) * c * h * w; }
  int64_t plane() const { return static_cast<int64_t>(h) * w; }
  std::string ToString() const;  // "NxCxHxW"
  bool operator==(const Shape& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

class Backend;

// Storage a backend allocated: host memory for the CPU, device memory for a GPU.
class DeviceBuffer {
 public:
  virtual ~DeviceBuffer() = default;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 protected:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A tensor on a backend: a shape (NCHW), an element type and the backend's storage. Move-only:
// a copy is an explicit op. Its address is the device's; only its backend dereferences it.
class DeviceTensor {
 public:
  DeviceTensor() = default;
  DeviceTensor(DeviceTensor&&) = default;
  DeviceTensor& operator=(DeviceTensor&&) = default;
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;

  const Shape& shape() const { return shape_; }
  int n() const { return shape_.n; }
  int c() const { return shape_.c; }
  int h() const { return shape_.h; }
  int w() const { return shape_.w; }
  int64_t size() const { return shape_.size(); }
  size_t bytes() const { return static_cast<size_t>(size()) * DTypeSize(dtype_); }
  DType dtype() const { return dtype_; }
  Backend* backend() const { return backend_; }
  bool allocated() const { return buffer_ != nullptr; }

  void* raw() const { return buffer_ ? buffer_->data() : nullptr; }
  float* f32() const { return static_cast<float*>(raw()); }
  uint8_t* u8() const { return static_cast<uint8_t*>(raw()); }
  uint32_t* u32() const { return static_cast<uint32_t*>(raw()); }

 private:
  friend class Backend;
  Shape shape_;
  DType dtype_ = DType::kF32;
  Backend* backend_ = nullptr;
  std::shared_ptr<DeviceBuffer> buffer_;
};

// Every backend call, for Supports and error messages.
enum class Op {
  kConv3x3Forward,
  kConv3x3Backward,
  kConv1x1Forward,
  kConv1x1Backward,
  kConvT2x2Forward,
  kConvT2x2Backward,
  kBatchNormForwardTrain,
  kBatchNormForwardEval,
  kBatchNormBackward,
  kReluForward,
  kReluBackward,
  kMaxPoolForward,
  kMaxPoolBackward,
  kConcatForward,
  kConcatBackward,
  kAdd,
  kDropoutForward,
  kDropoutBackward,
  kSoftmaxCrossEntropy,
  kBceJaccard,
  kAdamUpdate,
  kSgdUpdate,
  kArgmax,
  kConfusion,
  kCopy,  // allocation and host <-> device copies
};
constexpr int kOpCount = static_cast<int>(Op::kCopy) + 1;
const char* OpName(Op op);  // "conv3x3_forward", ...

// What BatchNorm's training forward keeps for its backward pass.
struct BatchNormSaved {
  DeviceTensor mean, inv_std;  // (C, 1, 1, 1)
  DeviceTensor xhat;           // (x - mean) * inv_std, x's shape
};

// The constants of one optimiser step, computed once on the host (optim.h) so that every
// backend updates each element by the same expression (kernels.h AdamUpdate, SgdUpdate).
struct AdamConstants {
  float b1 = 0, c1 = 0, b2 = 0, c2 = 0, step = 0, bc2_sqrt = 0, eps = 0;
};
struct SgdConstants {
  float lr = 0, momentum = 0;
  bool first = false;  // the momentum buffer starts as the gradient
};

// What a device backend moved and waited for (the CPU's are all zero): the per-step budget of a
// device is checked against these.
struct TransferCounts {
  uint64_t to_device = 0, to_host = 0;  // host <-> device copies
  uint64_t bytes_to_device = 0, bytes_to_host = 0;
  uint64_t synchronizations = 0;
  uint64_t launches = 0;  // kernel launches
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu", "cuda", "cuda-sim".
  virtual const char* name() const = 0;
  // The device in words, for logs and run configs ("cpu: AMD EPYC 7B13, avx2").
  virtual std::string Describe() const = 0;
  // Whether the op runs here for an input of this shape (the op's first tensor argument).
  virtual bool Supports(Op op, const Shape& shape) const = 0;

  // ---- storage and copies

  // Gives t this shape and type on this backend, keeping its storage when it is this
  // backend's and large enough. The contents are unspecified.
  Status Allocate(const Shape& shape, DType dtype, DeviceTensor* t);
  // Allocates and sets every element to zero.
  Status AllocateZero(const Shape& shape, DType dtype, DeviceTensor* t);
  // bytes = dst's bytes(). REQUIRES: dst allocated here.
  virtual Status CopyFromHost(const void* src, size_t bytes, DeviceTensor* dst) = 0;
  virtual Status CopyToHost(const DeviceTensor& src, void* dst, size_t bytes) = 0;
  // Device to device, same backend: dst gets src's shape, type and contents.
  Status Copy(const DeviceTensor& src, DeviceTensor* dst);
  // Waits for every call made so far.
  virtual Status Synchronize() = 0;
  // Copies and synchronisations since the backend was made.
  virtual TransferCounts Transfers() const { return {}; }

  // Host tensors in and out (float), and byte arrays (class ids, masks).
  Status Upload(const Tensor& host, DeviceTensor* t);
  Status Upload(const float* data, const Shape& shape, DeviceTensor* t);
  Status UploadBytes(const uint8_t* data, const Shape& shape, DeviceTensor* t);
  Status Download(const DeviceTensor& t, Tensor* host);
  Status DownloadBytes(const DeviceTensor& t, std::vector<uint8_t>* host);
  Status DownloadWords(const DeviceTensor& t, std::vector<uint32_t>* host);
  // The one float of a (1, 1, 1, 1) tensor (a loss).
  Result<float> ReadScalar(const DeviceTensor& t);
  // A batch: images (f32) and class ids (u8) in; a device backend makes it one copy.
  virtual Status UploadImagesAndLabels(const float* images, const Shape& image_shape,
                                       const uint8_t* labels, const Shape& label_shape,
                                       DeviceTensor* d_images, DeviceTensor* d_labels);

  // ---- ops. Shapes and arithmetic as ops.h states them; outputs are allocated by the call.

  // x (N,Ci,H,W), w (Co,Ci,3,3), bias (Co) or null -> y (N,Co,H,W).
  virtual Status Conv3x3Forward(const DeviceTensor& x, const DeviceTensor& w,
                                const DeviceTensor* bias, DeviceTensor* y) = 0;
  // dx may be null (not needed); db null: no bias.
  virtual Status Conv3x3Backward(const DeviceTensor& x, const DeviceTensor& w,
                                 const DeviceTensor& dy, DeviceTensor* dx, DeviceTensor* dw,
                                 DeviceTensor* db) = 0;
  // x (N,Ci,H,W), w (Co,Ci,1,1), bias (Co) or null -> y (N,Co,H,W).
  virtual Status Conv1x1Forward(const DeviceTensor& x, const DeviceTensor& w,
                                const DeviceTensor* bias, DeviceTensor* y) = 0;
  virtual Status Conv1x1Backward(const DeviceTensor& x, const DeviceTensor& w,
                                 const DeviceTensor& dy, DeviceTensor* dx, DeviceTensor* dw,
                                 DeviceTensor* db) = 0;
  // x (N,Ci,H,W), w (Ci,Co,2,2), bias (Co) or null -> y (N,Co,2H,2W).
  virtual Status ConvT2x2Forward(const DeviceTensor& x, const DeviceTensor& w,
                                 const DeviceTensor* bias, DeviceTensor* y) = 0;
  virtual Status ConvT2x2Backward(const DeviceTensor& x, const DeviceTensor& w,
                                  const DeviceTensor& dy, DeviceTensor* dx, DeviceTensor* dw,
                                  DeviceTensor* db) = 0;

  // x (N,C,H,W), gamma, beta, running statistics (C) -> y (N,C,H,W); updates the running
  // statistics and fills saved.
  virtual Status BatchNormForwardTrain(const DeviceTensor& x, const DeviceTensor& gamma,
                                       const DeviceTensor& beta, DeviceTensor* running_mean,
                                       DeviceTensor* running_var, DeviceTensor* y,
                                       BatchNormSaved* saved) = 0;
  virtual Status BatchNormForwardEval(const DeviceTensor& x, const DeviceTensor& gamma,
                                      const DeviceTensor& beta, const DeviceTensor& running_mean,
                                      const DeviceTensor& running_var, DeviceTensor* y) = 0;
  virtual Status BatchNormBackward(const DeviceTensor& dy, const DeviceTensor& gamma,
                                   const BatchNormSaved& saved, DeviceTensor* dx,
                                   DeviceTensor* dgamma, DeviceTensor* dbeta) = 0;

  // y = max(x, 0); y may be &x.
  virtual Status ReluForward(const DeviceTensor& x, DeviceTensor* y) = 0;
  // dx = y > 0 ? dy : 0 from the forward output y; dx may be &dy.
  virtual Status ReluBackward(const DeviceTensor& y, const DeviceTensor& dy, DeviceTensor* dx) = 0;
  // x (N,C,H,W) -> y (N,C,H/2,W/2), argmax (u8, y's shape): the winner of each window.
  virtual Status MaxPoolForward(const DeviceTensor& x, DeviceTensor* y, DeviceTensor* argmax) = 0;
  // dx gets x_shape, zero but at each window's winner.
  virtual Status MaxPoolBackward(const Shape& x_shape, const DeviceTensor& dy,
                                 const DeviceTensor& argmax, DeviceTensor* dx) = 0;
  // y = [a, b] along channels.
  virtual Status ConcatForward(const DeviceTensor& a, const DeviceTensor& b, DeviceTensor* y) = 0;
  virtual Status ConcatBackward(const DeviceTensor& dy, int a_channels, DeviceTensor* da,
                                DeviceTensor* db) = 0;
  // y = a + b element by element; y may be &a or &b.
  virtual Status Add(const DeviceTensor& a, const DeviceTensor& b, DeviceTensor* y) = 0;
  // Inverted dropout keyed as ops.h states; keep (u8, x's shape) gets 1 per kept element.
  virtual Status DropoutForward(const DeviceTensor& x, float p, uint64_t seed, uint64_t step,
                                uint32_t layer, DeviceTensor* y, DeviceTensor* keep) = 0;
  // dx may be &dy.
  virtual Status DropoutBackward(const DeviceTensor& dy, float p, const DeviceTensor& keep,
                                 DeviceTensor* dx) = 0;

  // logits (N,C,H,W), labels (u8, N,1,H,W) -> loss (1,1,1,1: the mean), dlogits.
  virtual Status SoftmaxCrossEntropy(const DeviceTensor& logits, const DeviceTensor& labels,
                                     DeviceTensor* loss, DeviceTensor* dlogits) = 0;
  virtual Status BceJaccard(const DeviceTensor& logits, const DeviceTensor& labels,
                            DeviceTensor* loss, DeviceTensor* dlogits) = 0;

  // One element-wise optimiser update of w from g; m, v (or buf) have w's shape.
  virtual Status AdamUpdate(const AdamConstants& k, DeviceTensor* w, const DeviceTensor& g,
                            DeviceTensor* m, DeviceTensor* v) = 0;
  virtual Status SgdUpdate(const SgdConstants& k, DeviceTensor* w, const DeviceTensor& g,
                           DeviceTensor* buf) = 0;

  // classes (u8, N,1,H,W): the first maximum of the logits over channels.
  virtual Status Argmax(const DeviceTensor& logits, DeviceTensor* classes) = 0;
  // counts (u32, classes*classes,1,1,1): counts[truth * classes + predicted] over the pixels
  // whose truth and prediction are both < classes.
  virtual Status Confusion(const DeviceTensor& truth, const DeviceTensor& predicted, int classes,
                           DeviceTensor* counts) = 0;

 protected:
  // Storage of at least `bytes` bytes (its contents unspecified).
  virtual Result<std::shared_ptr<DeviceBuffer>> NewBuffer(size_t bytes) = 0;
  // Sets every byte of t's storage to zero.
  virtual Status ZeroBytes(DeviceTensor* t) = 0;
  virtual Status CopyOnDevice(const DeviceTensor& src, DeviceTensor* dst) = 0;
  // An error of `op` on this backend: "<backend> <op>: <what>".
  Status OpError(Op op, const std::string& what) const;
  // OK when t is allocated on this backend with this type, else an error naming op and t.
  Status Check(Op op, const char* what, const DeviceTensor& t, DType dtype) const;
  // The argument checks every backend makes the same way, each error naming the op:
  // x, the weights and the bias (if any) f32 here;
  Status CheckConvInputs(Op op, const DeviceTensor& x, const DeviceTensor& w,
                         const DeviceTensor* bias) const;
  // every tensor f32 here;
  Status CheckInputs(Op op, std::initializer_list<const DeviceTensor*> ts) const;
  // every tensor f32 here, with first's shape;
  Status CheckSameShapes(Op op, const DeviceTensor& first,
                         std::initializer_list<const DeviceTensor*> rest) const;
  // a and b f32 here, of the same N, H and W (concatenation);
  Status CheckConcat(Op op, const DeviceTensor& a, const DeviceTensor& b) const;
  // dy f32 here, split after a_channels of its channels;
  Status CheckConcatSplit(Op op, const DeviceTensor& dy, int a_channels) const;
  // logits f32 and labels u8 here, one label per pixel;
  Status CheckLossInputs(Op op, const DeviceTensor& logits, const DeviceTensor& labels) const;
  // truth and prediction u8 here, of one size, and 1 to 255 classes.
  Status CheckConfusion(Op op, const DeviceTensor& truth, const DeviceTensor& predicted,
                        int classes) const;
};

// The backend that runs ops.h's kernels on the calling oneTBB arena (threads.h), with the
// active SIMD path: the reference every other backend is tested against, bit for bit.
std::unique_ptr<Backend> NewCpuBackend();

// Wall time and calls per op (benchmarks: where a step's time goes).
struct OpTimes {
  double seconds[kOpCount] = {};
  uint64_t calls[kOpCount] = {};
};
// A CPU backend that adds each op's wall time and call to *times; otherwise NewCpuBackend's.
std::unique_ptr<Backend> NewTimedCpuBackend(OpTimes* times);

// For tests only, like the tests' HTTP server's fault modes: a CPU backend whose op `op`
// fails at its `fail_at_call`-th call (1-based) with an I/O error naming the op, as a device
// that fails would.
struct CpuBackendFault {
  bool armed = false;
  Op op = Op::kConv3x3Forward;
  uint64_t fail_at_call = 1;
};
std::unique_ptr<Backend> NewFaultyCpuBackend(CpuBackendFault fault);

// The CUDA backend on the simulated device: the CUDA backend's kernels, launch geometry and
// buffer handling run on the host, one call per thread index (gpu/runtime_sim.h). Slow; it
// proves the CUDA backend's logic where no GPU is. Defined in gpu/, in every build.
// memory_limit (bytes, 0 for none) sizes the simulated device, so that tests can fill it.
std::unique_ptr<Backend> NewCudaSimBackend(size_t memory_limit = 0);

// The CUDA backend on the first CUDA device. kUnavailable, saying what was found, without a
// usable device or in a build without CUDA. Defined in gpu/ (gpu/cuda_backend_none.cc without
// CUDA).
Result<std::unique_ptr<Backend>> NewCudaBackend();

// The ops backends this build has ("cpu", then the device backends gpu/ provides).
std::vector<std::string> BuiltInBackends();
// A backend by name; kUnavailable names what is missing (not built, no device), kInvalidArgument
// an unknown name.
Result<std::unique_ptr<Backend>> MakeBackend(const std::string& name);

}  // namespace petprep
