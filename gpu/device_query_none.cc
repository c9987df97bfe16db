// Build of the device query for a petprep compiled without the CUDA backend.
#include "pipeline/device/cuda_info.h"

namespace petprep::gpu {

CudaInfo QueryCuda() {
  CudaInfo info;
  info.error = "petprep was built without CUDA";
  return info;
}

}  // namespace petprep::gpu
