// The U-Net of ../shared/BENCHMARKS.md B3, on the canonical ops of ops.h: for widths
// w_0..w_{L-1}, level i is [conv3x3 (no bias) -> BatchNorm -> ReLU] x2 with w_i channels,
// max-pool between levels; each decoder level is a transposed 2x2 conv (bias) from w_{i+1}
// to w_i, concatenated with the encoder's level i output (up first, skip second), then the
// double conv back to w_i; a 1x1 conv (bias) maps w_0 to the classes. Optional dropout
// after the bottleneck. Parameter order (for hashes and checkpoints) is the layer order.
//
// Not thread-safe: one forward/backward at a time; each op runs in parallel on the calling
// oneTBB arena, with the same bits for any thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/hash.h"
#include "pipeline/train/ops.h"
#include "pipeline/train/tensor.h"

namespace petprep {

struct UNetConfig {
  std::vector<int> widths = {16, 32, 64, 128};
  int in_channels = 3;
  int classes = 3;
  float dropout = 0.0f;  // after the bottleneck; 0: none
};

class UNet {
 public:
  explicit UNet(UNetConfig config);

  // He-uniform convolution weights (fan_in = Ci * k * k; the transposed conv's fan_in is
  // Co * 4, as PyTorch computes it), zero biases, BatchNorm gamma 1 and beta 0, running mean
  // 0 and variance 1. Tensor ids follow the parameter order.
  void Init(uint64_t seed);

  // Training mode: batch statistics (running statistics updated), dropout keyed by
  // (seed, step); activations are kept for Backward. Eval: running statistics, no dropout.
  // Returns the logits (N, classes, H, W). REQUIRES: H and W multiples of 2^(L-1); x is
  // unchanged and alive until Backward.
  const Tensor& Forward(const Tensor& x, bool train, uint64_t seed = 0, uint64_t step = 0);
  // Gradients of every parameter from dlogits, after a training-mode Forward.
  void Backward(const Tensor& dlogits);

  const UNetConfig& config() const { return config_; }
  std::vector<Tensor*> Params();
  std::vector<const Tensor*> Grads() const;
  std::vector<std::string> ParamNames() const;
  // BatchNorm running statistics, in layer order (mean, var per BN).
  std::vector<Tensor*> Buffers();
  std::vector<std::string> BufferNames() const;  // "<bn>.running_mean", "<bn>.running_var"
  size_t ParamCount() const;
  // SHA-256 over the parameters then the buffers, in order (little-endian float bytes).
  Sha256Digest WeightsDigest();

 private:
  struct Conv {
    std::string name;
    Tensor w, b, dw, db;
    bool bias = false;
  };
  struct Bn {
    std::string name;
    Tensor gamma, beta, dgamma, dbeta, mean, var;
    BatchNormCache<float> cache;
  };
  struct Block {  // [conv3x3 -> BN -> ReLU] x2
    Conv c1, c2;
    Bn b1, b2;
    const Tensor* in = nullptr;  // the block's input (the caller's x or a tensor held here)
    Tensor a1, r1, a2, out;      // conv1 out, relu1 out, conv2 out, relu2 out
  };
  struct Up {
    Conv t;
    const Tensor* in = nullptr;
    Tensor up, cat;
  };

  template <typename Net, typename F>
  friend void VisitParams(Net& net, F f);
  template <typename Net, typename F>
  friend void VisitBuffers(Net& net, F f);

  void BlockForward(Block& b, const Tensor& x, bool train);
  // Returns d(input) of the block from d(output).
  void BlockBackward(Block& b, const Tensor& dout, Tensor* din);

  UNetConfig config_;
  std::vector<Block> enc_;  // L levels; the last is the bottleneck
  std::vector<Block> dec_;  // L - 1 levels, dec_[i] at the resolution of enc_[i]
  std::vector<Up> up_;      // L - 1
  std::vector<Tensor> pooled_;
  std::vector<std::vector<uint8_t>> argmax_;
  Conv head_;
  Tensor bottleneck_, dropped_, logits_;
  std::vector<uint8_t> keep_;
  float dropout_used_ = 0.0f;
};

}  // namespace petprep
