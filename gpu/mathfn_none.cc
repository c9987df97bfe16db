// Build of the device math check for a petprep compiled without CUDA.
#include "gpu/mathfn_cuda.h"

namespace petprep::gpu {

Status EvaluateOnDevice(MathFn, const std::vector<float>&, std::vector<float>*) {
  return Status::Unavailable("no CUDA device (petprep was built without CUDA)");
}

}  // namespace petprep::gpu
