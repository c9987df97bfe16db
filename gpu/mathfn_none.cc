// Build of the device math check for a petprep compiled without CUDA.
#include "gpu/mathfn_cuda.h"
#include "pipeline/device/cuda_info.h"

namespace petprep::gpu {

Status EvaluateOnDevice(MathFn, const std::vector<float>&, std::vector<float>*) {
  return RequireCudaDevice();  // never OK in this build: it says why
}

}  // namespace petprep::gpu
