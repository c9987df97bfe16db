// The U-Net of ../shared/BENCHMARKS.md B3, on the canonical ops of ops.h: for widths
// w_0..w_{L-1}, level i is [conv3x3 (no bias) -> BatchNorm -> ReLU] x2 with w_i channels,
// max-pool between levels; each decoder level is a transposed 2x2 conv (bias) from w_{i+1}
// to w_i, concatenated with the encoder's level i output (up first, skip second), then the
// double conv back to w_i; a 1x1 conv (bias) maps w_0 to the classes. Optional dropout
// after the bottleneck. Parameter order (for hashes and checkpoints) is the layer order.
//
// The network's tensors — weights, gradients, activations, BatchNorm statistics — live on the
// backend it is given, and every op is a call on that backend: the weights after a step are
// the same bits on every backend. Host code reads them through one explicit copy
// (ReadParams, WeightsDigest).
//
// Not thread-safe: one forward/backward at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/hash.h"
#include "pipeline/core/status.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/tensor.h"

namespace petprep {

class OpTrace;

struct UNetConfig {
  std::vector<int> widths = {16, 32, 64, 128};
  int in_channels = 3;
  int classes = 3;
  float dropout = 0.0f;  // after the bottleneck; 0: none
};

class UNet {
 public:
  // REQUIRES: backend outlives the network. Allocates nothing; Init does.
  UNet(UNetConfig config, Backend* backend);

  // Allocates the parameters and statistics on the backend and initialises them: He-uniform
  // convolution weights (fan_in = Ci * k * k; the transposed conv's fan_in is Co * 4, as
  // PyTorch computes it), zero biases, BatchNorm gamma 1 and beta 0, running mean 0 and
  // variance 1. Tensor ids follow the parameter order.
  Status Init(uint64_t seed);

  // Training mode: batch statistics (running statistics updated), dropout keyed by
  // (seed, step); activations are kept for Backward. Eval: running statistics, no dropout.
  // x (N, in_channels, H, W) on the backend; *logits (N, classes, H, W) stays valid until the
  // next Forward. REQUIRES: H and W multiples of 2^(L-1); x unchanged and alive until Backward.
  Status Forward(const DeviceTensor& x, bool train, uint64_t seed, uint64_t step,
                 const DeviceTensor** logits);
  // Gradients of every parameter from dlogits, after a training-mode Forward.
  Status Backward(const DeviceTensor& dlogits);

  // Every op's result goes to `trace` while it is active (trace.h): forward outputs
  // "<layer> forward", input gradients "<layer> backward", parameter gradients "<param> grad".
  // Null: none. REQUIRES: trace outlives its use here.
  void SetTrace(OpTrace* trace) { trace_ = trace; }

  const UNetConfig& config() const { return config_; }
  Backend* backend() const { return backend_; }
  std::vector<DeviceTensor*> Params();
  std::vector<const DeviceTensor*> Grads() const;
  std::vector<std::string> ParamNames() const;
  std::vector<Shape> ParamShapes() const;
  // BatchNorm running statistics, in layer order (mean, var per BN).
  std::vector<DeviceTensor*> Buffers();
  std::vector<std::string> BufferNames() const;  // "<bn>.running_mean", "<bn>.running_var"
  std::vector<Shape> BufferShapes() const;       // (C, 1, 1, 1) each
  // Whether the network takes `side` x `side` inputs: a multiple of 2^(L-1), at most
  // kMaxInputSide. An error names the side and what would fit.
  Status CheckInputSide(int64_t side) const;
  static constexpr int kMaxInputSide = 8192;
  size_t ParamCount() const;

  // Host copies of the parameters and the buffers, in order.
  Status ReadParams(std::vector<Tensor>* params, std::vector<Tensor>* buffers);
  // REQUIRES: shapes as ParamShapes() and the buffers' (checked; an error names the tensor).
  Status WriteParams(const std::vector<Tensor>& params, const std::vector<Tensor>& buffers);
  // SHA-256 over the parameters then the buffers, in order (little-endian float bytes).
  Result<Sha256Digest> WeightsDigest();

 private:
  struct Conv {
    std::string name;
    Shape shape, bias_shape;
    DeviceTensor w, b, dw, db;
    bool bias = false;
  };
  struct Bn {
    std::string name;
    int channels = 0;
    DeviceTensor gamma, beta, dgamma, dbeta, mean, var;
    BatchNormSaved saved;
  };
  struct Block {  // [conv3x3 -> BN -> ReLU] x2
    std::string name;
    Conv c1, c2;
    Bn b1, b2;
    const DeviceTensor* in = nullptr;  // the block's input (the caller's x or a tensor here)
    DeviceTensor a1, r1, a2, out;      // conv1 out, relu1 out, conv2 out, relu2 out
    DeviceTensor bn_out, d, dbn;       // scratch
  };
  struct Up {
    Conv t;
    const DeviceTensor* in = nullptr;
    DeviceTensor up, cat, dcat, dup;
  };

  template <typename Net, typename F>
  friend void VisitParams(Net& net, F f);
  template <typename Net, typename F>
  friend void VisitBuffers(Net& net, F f);

  bool Tracing() const;
  // Records t as `op`'s result while a trace is active.
  Status Note(const std::string& op, const char* kind, DeviceTensor* t);
  Status BlockForward(Block& b, const DeviceTensor& x, bool train);
  // d(input) of the block from d(output); din null: not needed.
  Status BlockBackward(Block& b, const DeviceTensor& dout, DeviceTensor* din);

  UNetConfig config_;
  Backend* backend_;
  std::vector<Block> enc_;  // L levels; the last is the bottleneck
  std::vector<Block> dec_;  // L - 1 levels, dec_[i] at the resolution of enc_[i]
  std::vector<Up> up_;      // L - 1
  std::vector<DeviceTensor> pooled_, argmax_, dskip_;
  Conv head_;
  DeviceTensor dropped_, keep_, logits_, d_, din_;
  float dropout_used_ = 0.0f;
  OpTrace* trace_ = nullptr;
};

}  // namespace petprep
