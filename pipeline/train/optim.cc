#include "pipeline/train/optim.h"

#include <tbb/parallel_for.h>

#include <cmath>

#include "pipeline/core/philox.h"
#include "pipeline/train/kernels.h"
#include "pipeline/train/threads.h"

namespace petprep {
namespace {

void UniformInit(Tensor* t, float a, uint64_t seed, uint32_t id) {
  const PhiloxKey key = DeriveKey(seed, RandomPurpose::kInit);
  const size_t blocks = (t->size() + 3) / 4;
  ParallelElements(blocks, [&](size_t blk) {
    PhiloxCounter c = {{static_cast<uint32_t>(blk), id, 0u, 0u}};
    PhiloxCounter r = Philox4x32_10(c, key);
    for (size_t j = 0; j < 4 && blk * 4 + j < t->size(); ++j) {
      (*t)[blk * 4 + j] = (UniformFloat(r.v[j]) * 2.0f - 1.0f) * a;
    }
  });
}

}  // namespace

double PowInt(double b, uint64_t t) {
  double result = 1.0, base = b;
  while (t != 0) {
    if (t & 1) result = result * base;
    base = base * base;
    t >>= 1;
  }
  return result;
}

AdamConstants AdamConstantsFor(const AdamOptions& o, uint64_t t) {
  AdamConstants k;
  k.step = static_cast<float>(o.lr / (1.0 - PowInt(o.beta1, t)));
  k.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - PowInt(o.beta2, t)));
  k.b1 = static_cast<float>(o.beta1);
  k.b2 = static_cast<float>(o.beta2);
  k.c1 = static_cast<float>(1.0 - o.beta1);
  k.c2 = static_cast<float>(1.0 - o.beta2);
  k.eps = o.eps;
  return k;
}

void AdamStep(const AdamOptions& o, uint64_t t, const std::vector<Tensor*>& params,
              const std::vector<const Tensor*>& grads, std::vector<AdamSlot>* slots) {
  if (slots->size() != params.size()) slots->resize(params.size());
  const AdamConstants k = AdamConstantsFor(o, t);
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& w = *params[i];
    const Tensor& g = *grads[i];
    AdamSlot& s = (*slots)[i];
    if (!s.m.SameShape(w)) {
      s.m.Resize(w.n(), w.c(), w.h(), w.w());
      s.v.Resize(w.n(), w.c(), w.h(), w.w());
    }
    ParallelElements(w.size(), [&](size_t e) {
      w[e] = AdamUpdate(w[e], g[e], &s.m[e], &s.v[e], k.b1, k.c1, k.b2, k.c2, k.step, k.bc2_sqrt,
                        k.eps);
    });
  }
}

void SgdStep(const SgdOptions& o, uint64_t t, const std::vector<Tensor*>& params,
             const std::vector<const Tensor*>& grads, std::vector<Tensor>* buffers) {
  if (buffers->size() != params.size()) buffers->resize(params.size());
  const float lr = static_cast<float>(o.lr), mu = o.momentum;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& w = *params[i];
    const Tensor& g = *grads[i];
    Tensor& b = (*buffers)[i];
    const bool first = t <= 1 || !b.SameShape(w);
    if (!b.SameShape(w)) b.Resize(w.n(), w.c(), w.h(), w.w());
    ParallelElements(w.size(),
                     [&](size_t e) { w[e] = SgdUpdate(w[e], g[e], &b[e], first, mu, lr); });
  }
}

Status AdamStep(Backend* backend, const AdamOptions& o, uint64_t t,
                const std::vector<DeviceTensor*>& params,
                const std::vector<const DeviceTensor*>& grads, std::vector<DeviceAdamSlot>* slots) {
  if (slots->size() != params.size()) slots->resize(params.size());
  const AdamConstants k = AdamConstantsFor(o, t);
  for (size_t i = 0; i < params.size(); ++i) {
    DeviceAdamSlot& s = (*slots)[i];
    if (!s.m.allocated() || s.m.shape() != params[i]->shape()) {
      PETPREP_RETURN_IF_ERROR(backend->AllocateZero(params[i]->shape(), DType::kF32, &s.m));
      PETPREP_RETURN_IF_ERROR(backend->AllocateZero(params[i]->shape(), DType::kF32, &s.v));
    }
    PETPREP_RETURN_IF_ERROR(backend->AdamUpdate(k, params[i], *grads[i], &s.m, &s.v));
  }
  return Status::Ok();
}

Status SgdStep(Backend* backend, const SgdOptions& o, uint64_t t,
               const std::vector<DeviceTensor*>& params,
               const std::vector<const DeviceTensor*>& grads, std::vector<DeviceTensor>* buffers) {
  if (buffers->size() != params.size()) buffers->resize(params.size());
  SgdConstants k;
  k.lr = static_cast<float>(o.lr);
  k.momentum = o.momentum;
  for (size_t i = 0; i < params.size(); ++i) {
    DeviceTensor& b = (*buffers)[i];
    const bool fresh = !b.allocated() || b.shape() != params[i]->shape();
    k.first = t <= 1 || fresh;
    if (fresh) PETPREP_RETURN_IF_ERROR(backend->AllocateZero(params[i]->shape(), DType::kF32, &b));
    PETPREP_RETURN_IF_ERROR(backend->SgdUpdate(k, params[i], *grads[i], &b));
  }
  return Status::Ok();
}

void HeUniform(Tensor* t, int fan_in, uint64_t seed, uint32_t id) {
  UniformInit(t, static_cast<float>(std::sqrt(6.0 / fan_in)), seed, id);
}

void GlorotUniform(Tensor* t, int fan_in, int fan_out, uint64_t seed, uint32_t id) {
  UniformInit(t, static_cast<float>(std::sqrt(6.0 / (fan_in + fan_out))), seed, id);
}

}  // namespace petprep
