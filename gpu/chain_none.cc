// The device chains for a petprep built without CUDA.
#include "gpu/chain_cuda.h"

namespace petprep::gpu {

Status ChainDeviceAvailable() {
  return Status::Unavailable("no CUDA device (petprep was built without CUDA)");
}
Status RunDotOnDevice(const DotPlan<float>&) { return ChainDeviceAvailable(); }
Status RunGradOnDevice(const GradPlan<float>&) { return ChainDeviceAvailable(); }

}  // namespace petprep::gpu
