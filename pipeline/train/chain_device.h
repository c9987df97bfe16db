// The convolution chains (pipeline/train/kernels.h) on a CUDA device: one thread per output,
// calling the very ChainDot and ChainGrad bodies the CPU's definition uses (-fmad=false, so
// only the explicit FMAs fuse). Each call copies its inputs in and the outputs back: a check
// of the chains' bits on a device (selftest), not a way to train.
//
// Declared here, defined in gpu/chain_cuda.cu (gpu/chain_none.cc without CUDA).
#pragma once

#include "pipeline/core/status.h"
#include "pipeline/train/conv_kernels.h"

namespace petprep::gpu {

// OK when a CUDA device can run the chains; kUnavailable saying what was found otherwise.
Status ChainDeviceAvailable();
Status RunDotOnDevice(const DotPlan<float>& p);
Status RunGradOnDevice(const GradPlan<float>& p);

}  // namespace petprep::gpu
