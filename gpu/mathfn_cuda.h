// petprep's math functions evaluated on a CUDA device, to check they give the CPU's bits.
#pragma once

#include <vector>

#include "pipeline/core/status.h"

namespace petprep::gpu {

enum class MathFn { kExp, kLog, kSigmoid, kTanh };

// out[i] = fn(in[i]) computed on the device. kUnavailable without CUDA or a device.
Status EvaluateOnDevice(MathFn fn, const std::vector<float>& in, std::vector<float>* out);

}  // namespace petprep::gpu
