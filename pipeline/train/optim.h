// Optimisers and weight initialisation in petprep's canonical arithmetic (ARITHMETIC.md):
// every parameter element is updated by the same expression, in parallel over elements, so
// the result does not depend on the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/tensor.h"

namespace petprep {

// Adam (Kingma and Ba) as PyTorch 1.13 computes it: m = b1 m + (1 - b1) g,
// v = b2 v + (1 - b2) g^2, w = w - (lr / bc1) * (m / (sqrt(v) / sqrt(bc2) + eps)), with
// bc = 1 - b^t in double (b^t by square-and-multiply) rounded to float once.
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  float eps = 1e-8f;
};

struct AdamSlot {
  Tensor m, v;  // same shape as the parameter
};

// The per-step constants every backend's Adam update uses (step t, 1-based).
AdamConstants AdamConstantsFor(const AdamOptions& o, uint64_t t);

// One step t (1-based) over every parameter with its gradient. Slots are created (zero) on
// first use. REQUIRES: params, grads and slots line up.
void AdamStep(const AdamOptions& o, uint64_t t, const std::vector<Tensor*>& params,
              const std::vector<const Tensor*>& grads, std::vector<AdamSlot>* slots);

// The same on a backend: the parameters, gradients and moments live there.
struct DeviceAdamSlot {
  DeviceTensor m, v;
};
Status AdamStep(Backend* backend, const AdamOptions& o, uint64_t t,
                const std::vector<DeviceTensor*>& params,
                const std::vector<const DeviceTensor*>& grads, std::vector<DeviceAdamSlot>* slots);

// SGD with momentum as PyTorch computes it (no dampening): buf = g on the first step, then
// buf = momentum * buf + g; w = w - lr * buf.
struct SgdOptions {
  double lr = 1e-2;
  float momentum = 0.9f;
};
void SgdStep(const SgdOptions& o, uint64_t t, const std::vector<Tensor*>& params,
             const std::vector<const Tensor*>& grads, std::vector<Tensor>* buffers);
Status SgdStep(Backend* backend, const SgdOptions& o, uint64_t t,
               const std::vector<DeviceTensor*>& params,
               const std::vector<const DeviceTensor*>& grads, std::vector<DeviceTensor>* buffers);

// b^t by square-and-multiply over t's bits from the lowest, in double.
double PowInt(double b, uint64_t t);

// Uniform initialisation from Philox: element e of tensor `id` is
// (2 u - 1) * a, u = UniformFloat(word e % 4 of Philox({e / 4, id, 0, 0}, DeriveKey(seed,
// kInit))), with a = sqrt(6 / fan_in) (He) or sqrt(6 / (fan_in + fan_out)) (Glorot), computed
// in double and rounded to float.
void HeUniform(Tensor* t, int fan_in, uint64_t seed, uint32_t id);
void GlorotUniform(Tensor* t, int fan_in, int fan_out, uint64_t seed, uint32_t id);

}  // namespace petprep
