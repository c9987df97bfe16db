// The SIMD paths of the training kernels and which one runs.
//
// Every path computes the same bits: the kernels vectorise across independent outputs only,
// and each output is the chain of operations ARITHMETIC.md defines. The path is the widest
// the CPU supports unless PETPREP_SIMD (scalar, avx2, avx512) or SetSimdPath picks another.
// Thread-safe: the active path is an atomic.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep {

enum class SimdPath { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* SimdPathName(SimdPath p);
// Parses "scalar", "avx2" or "avx512".
Result<SimdPath> ParseSimdPath(const std::string& name);
// Whether this CPU (and this build) can run the path.
bool SimdPathSupported(SimdPath p);
// The paths this CPU can run, narrowest first.
std::vector<SimdPath> SupportedSimdPaths();

// The path the kernels use now: PETPREP_SIMD when set (an unsupported or unknown value falls
// back to the widest supported path; SimdPathFromEnvironment tells why), else the widest.
SimdPath ActiveSimdPath();
// REQUIRES: SimdPathSupported(p).
void SetSimdPath(SimdPath p);
// PETPREP_SIMD's value checked: OK when unset or valid and supported.
Status SimdPathFromEnvironment();

}  // namespace petprep
