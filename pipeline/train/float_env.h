// The CPU's floating-point environment that petprep's arithmetic assumes: IEEE binary32
// with gradual underflow. A library built with -Ofast or -ffast-math can switch on
// flush-to-zero (FTZ) and denormals-are-zero (DAZ) for the whole process when it is loaded;
// then subnormal results become 0 and the bits change (Adam's second moment of a tiny
// gradient, say). The environment is per thread and new threads inherit it, so petprep
// checks and clears it at start-up and before any training arithmetic, before it starts
// worker threads.
#pragma once

#include <string>

namespace petprep {

struct FloatEnv {
  bool flush_to_zero = false;       // x86 MXCSR.FTZ, AArch64 FPCR.FZ
  bool denormals_are_zero = false;  // x86 MXCSR.DAZ
  bool ok() const { return !flush_to_zero && !denormals_are_zero; }
  // "flush-to-zero and denormals-are-zero" or "" when neither is set.
  std::string Describe() const;
};

// The calling thread's environment.
FloatEnv ReadFloatEnv();

// Clears FTZ and DAZ on the calling thread; returns what was set before.
FloatEnv ClearFlushToZero();

// Sets the given bits on the calling thread (tests use it to show that they are found).
void SetFloatEnv(const FloatEnv& env);

// Whether the calling thread computes subnormal results and reads subnormal inputs as IEEE
// requires, by known answers computed at run time. "" when it does, else what differs.
std::string SubnormalKnownAnswers();

}  // namespace petprep
