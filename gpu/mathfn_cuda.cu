// The PETPREP_HD math functions compiled for the device (-fmad=false: no contraction).
#include <cuda_runtime.h>

#include "gpu/cuda_common.h"
#include "gpu/mathfn_cuda.h"
#include "gpu/runtime_cuda.h"
#include "pipeline/device/cuda_info.h"
#include "pipeline/train/mathfn.h"

namespace petprep::gpu {
namespace {

__global__ void EvaluateKernel(int fn, const float* in, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = in[i];
  out[i] = fn == 0 ? PetExp(x) : fn == 1 ? PetLog(x) : fn == 2 ? PetSigmoid(x) : PetTanh(x);
}

}  // namespace

Status EvaluateOnDevice(MathFn fn, const std::vector<float>& in, std::vector<float>* out) {
  PETPREP_RETURN_IF_ERROR(RequireCudaDevice());
  const int n = static_cast<int>(in.size());
  out->assign(in.size(), 0.0f);
  CudaRuntime rt;
  RuntimeBuffers<CudaRuntime> d(&rt);
  float *d_in = nullptr, *d_out = nullptr;
  PETPREP_RETURN_IF_ERROR(d.Alloc(in.size(), &d_in));
  PETPREP_RETURN_IF_ERROR(d.Alloc(in.size(), &d_out));
  PETPREP_RETURN_IF_ERROR(rt.ToDevice(d_in, in.data(), in.size() * sizeof(float)));
  EvaluateKernel<<<(n + 255) / 256, 256>>>(static_cast<int>(fn), d_in, d_out, n);
  PETPREP_RETURN_IF_ERROR(LaunchStatus("math function kernel"));
  return rt.ToHost(out->data(), d_out, in.size() * sizeof(float));
}

}  // namespace petprep::gpu
