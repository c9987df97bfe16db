// Refuses to compile petprep's arithmetic under settings that change its bits. Included by
// every header that holds kernel bodies. CMake refuses the same flags at configure time
// (cmake/arithmetic_flags.cmake): nvcc does not define __FAST_MATH__ for host code, so only
// CMake can see --use_fast_math.
#pragma once

#include <cfloat>

#if defined(__FAST_MATH__)
#error \
    "petprep's arithmetic must not be compiled with -ffast-math, -Ofast or -ffinite-math-only (fast-math reorders sums, contracts multiply-adds and flushes subnormals, so results would not be the same bits)"
#endif

// float expressions are evaluated in float: no wider intermediate precision (x87).
static_assert(
    FLT_EVAL_METHOD == 0,
    "petprep's arithmetic needs FLT_EVAL_METHOD == 0 (SSE or another IEEE binary32 unit)");
