// The PETPREP_HD math functions compiled for the device (-fmad=false: no contraction).
#include <cuda_runtime.h>

#include "gpu/mathfn_cuda.h"
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
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return Status::Unavailable("no CUDA device");
  }
  const int n = static_cast<int>(in.size());
  out->assign(in.size(), 0.0f);
  float *d_in = nullptr, *d_out = nullptr;
  bool ok = cudaMalloc(&d_in, sizeof(float) * n) == cudaSuccess &&
            cudaMalloc(&d_out, sizeof(float) * n) == cudaSuccess &&
            cudaMemcpy(d_in, in.data(), sizeof(float) * n, cudaMemcpyHostToDevice) == cudaSuccess;
  if (ok) {
    EvaluateKernel<<<(n + 255) / 256, 256>>>(static_cast<int>(fn), d_in, d_out, n);
    ok = cudaGetLastError() == cudaSuccess &&
         cudaMemcpy(out->data(), d_out, sizeof(float) * n, cudaMemcpyDeviceToHost) == cudaSuccess;
  }
  cudaFree(d_in);
  cudaFree(d_out);
  return ok ? Status::Ok() : Status::Unavailable("CUDA evaluation failed");
}

}  // namespace petprep::gpu
