// The device chains for a petprep built without CUDA.
#include "pipeline/device/cuda_info.h"
#include "pipeline/train/chain_device.h"

namespace petprep::gpu {

Status ChainDeviceAvailable() { return RequireCudaDevice(); }
Status RunDotOnDevice(const DotPlan<float>&) { return ChainDeviceAvailable(); }
Status RunGradOnDevice(const GradPlan<float>&) { return ChainDeviceAvailable(); }

}  // namespace petprep::gpu
