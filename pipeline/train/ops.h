// The training ops, forward and backward, in petprep's canonical arithmetic: every output is
// computed by the chain pipeline/train/ARITHMETIC.md defines for it, so results are the same
// bits for any thread count and SIMD path. Tensors are NCHW. Each op exists for float (the
// trainer; fast SIMD kernels) and double (the gradient checks; the same chains, scalar).
//
// Outputs are resized by the op. Gradients are written, never accumulated. Ops run in
// parallel on the calling oneTBB arena (see threads.h) and are not reentrant on the same
// output tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/train/tensor.h"

namespace petprep {

// ---- convolutions. bias / db may be null (no bias). dx may be null (not needed).

// 3x3, padding 1, stride 1. x (N,Ci,H,W), w (Co,Ci,3,3), bias (Co) -> y (N,Co,H,W).
template <typename T>
void Conv3x3Forward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias,
                    TensorT<T>* y);
template <typename T>
void Conv3x3Backward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& dy, TensorT<T>* dx,
                     TensorT<T>* dw, TensorT<T>* db);

// 1x1. x (N,Ci,H,W), w (Co,Ci,1,1), bias (Co) -> y (N,Co,H,W).
template <typename T>
void Conv1x1Forward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias,
                    TensorT<T>* y);
template <typename T>
void Conv1x1Backward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& dy, TensorT<T>* dx,
                     TensorT<T>* dw, TensorT<T>* db);

// Transposed 2x2, stride 2. x (N,Ci,H,W), w (Ci,Co,2,2), bias (Co) -> y (N,Co,2H,2W).
template <typename T>
void ConvT2x2Forward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias,
                     TensorT<T>* y);
template <typename T>
void ConvT2x2Backward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& dy,
                      TensorT<T>* dx, TensorT<T>* dw, TensorT<T>* db);

// ---- batch normalisation (per channel; eps and momentum as ARITHMETIC.md states).

constexpr float kBatchNormEps = 1e-5f;
constexpr float kBatchNormMomentum = 0.1f;

template <typename T>
struct BatchNormCache {
  TensorT<T> mean, inv_std;  // (C, 1, 1, 1)
  TensorT<T> xhat;           // (x - mean) * inv_std
};

// Training: batch statistics; updates running_mean and running_var (C values each).
template <typename T>
void BatchNormForwardTrain(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                           TensorT<T>* running_mean, TensorT<T>* running_var, TensorT<T>* y,
                           BatchNormCache<T>* cache);
// Evaluation: running statistics.
template <typename T>
void BatchNormForwardEval(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                          const TensorT<T>& running_mean, const TensorT<T>& running_var,
                          TensorT<T>* y);
template <typename T>
void BatchNormBackward(const TensorT<T>& dy, const TensorT<T>& gamma,
                       const BatchNormCache<T>& cache, TensorT<T>* dx, TensorT<T>* dgamma,
                       TensorT<T>* dbeta);

// ---- elementwise and shape ops

// y = x > 0 ? x : 0. In place is allowed (y == &x).
template <typename T>
void ReluForward(const TensorT<T>& x, TensorT<T>* y);
// dx = y > 0 ? dy : 0, from the forward output y. dx may be &dy.
template <typename T>
void ReluBackward(const TensorT<T>& y, const TensorT<T>& dy, TensorT<T>* dx);

// 2x2 windows, stride 2 (an odd last row or column is dropped). argmax holds the winner
// of each window (0..3 in the order (0,0), (0,1), (1,0), (1,1)); the first maximum wins.
template <typename T>
void MaxPoolForward(const TensorT<T>& x, TensorT<T>* y, std::vector<uint8_t>* argmax);
// The same into argmax[0, y's size).
template <typename T>
void MaxPoolForward(const TensorT<T>& x, TensorT<T>* y, uint8_t* argmax);
// in_shape: x's shape, as a tensor of that shape (its values are not read).
template <typename T>
void MaxPoolBackward(const TensorT<T>& x_shape, const TensorT<T>& dy,
                     const std::vector<uint8_t>& argmax, TensorT<T>* dx);
template <typename T>
void MaxPoolBackward(const TensorT<T>& x_shape, const TensorT<T>& dy, const uint8_t* argmax,
                     TensorT<T>* dx);

// y = [a, b] along channels. REQUIRES: same N, H, W.
template <typename T>
void ConcatForward(const TensorT<T>& a, const TensorT<T>& b, TensorT<T>* y);
// da gets dy's first a_channels channels, db the rest.
template <typename T>
void ConcatBackward(const TensorT<T>& dy, int a_channels, TensorT<T>* da, TensorT<T>* db);

// Inverted dropout with drop probability p in [0, 1): element e of the tensor is kept iff
// UniformFloat(word e % 4 of Philox({e / 4, layer, step lo, step hi}, DeriveKey(seed,
// kDropout))) >= p, and scaled by 1 / (1 - p). keep receives 1 per kept element.
template <typename T>
void DropoutForward(const TensorT<T>& x, float p, uint64_t seed, uint64_t step, uint32_t layer,
                    TensorT<T>* y, std::vector<uint8_t>* keep);
// The same into keep[0, x's size).
template <typename T>
void DropoutForward(const TensorT<T>& x, float p, uint64_t seed, uint64_t step, uint32_t layer,
                    TensorT<T>* y, uint8_t* keep);
// dx may be &dy.
template <typename T>
void DropoutBackward(const TensorT<T>& dy, float p, const std::vector<uint8_t>& keep,
                     TensorT<T>* dx);
template <typename T>
void DropoutBackward(const TensorT<T>& dy, float p, const uint8_t* keep, TensorT<T>* dx);

// ---- losses. labels: N*H*W class ids, each < C. Returns the mean loss; writes dlogits.

// Softmax cross-entropy averaged over pixels.
template <typename T>
T SoftmaxCrossEntropy(const TensorT<T>& logits, const std::vector<uint8_t>& labels,
                      TensorT<T>* dlogits);
template <typename T>
T SoftmaxCrossEntropy(const TensorT<T>& logits, const uint8_t* labels, TensorT<T>* dlogits);
// The reference's loss: sigmoid binary cross-entropy against one-hot targets, averaged over
// all N*C*H*W elements, plus 1 - soft Jaccard (I + 1) / (S - I + 1), I = sum p*t,
// S = sum p + sum t.
template <typename T>
T BceJaccard(const TensorT<T>& logits, const std::vector<uint8_t>& labels, TensorT<T>* dlogits);
template <typename T>
T BceJaccard(const TensorT<T>& logits, const uint8_t* labels, TensorT<T>* dlogits);

// ---- sums ARITHMETIC.md defines, used by the ops and by the trainer's metrics.

// Per channel c: sum over n in order of StripedSum over the (H, W) plane of x[n][c].
template <typename T>
std::vector<T> ChannelSums(const TensorT<T>& x);

}  // namespace petprep
