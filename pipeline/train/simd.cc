#include "pipeline/train/simd.h"

#include <atomic>
#include <cstdlib>
#include <vector>

namespace petprep {
namespace {

SimdPath Widest() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SimdPath::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdPath::kAvx2;
#endif
  return SimdPath::kScalar;
}

SimdPath Initial() {
  const char* env = std::getenv("PETPREP_SIMD");
  if (env != nullptr && *env != '\0') {
    Result<SimdPath> p = ParseSimdPath(env);
    if (p.ok() && SimdPathSupported(*p)) return *p;
  }
  return Widest();
}

std::atomic<int>& Active() {
  static std::atomic<int> active(static_cast<int>(Initial()));
  return active;
}

}  // namespace

const char* SimdPathName(SimdPath p) {
  switch (p) {
    case SimdPath::kScalar:
      return "scalar";
    case SimdPath::kAvx2:
      return "avx2";
    case SimdPath::kAvx512:
      return "avx512";
  }
  return "?";
}

Result<SimdPath> ParseSimdPath(const std::string& name) {
  for (SimdPath p : {SimdPath::kScalar, SimdPath::kAvx2, SimdPath::kAvx512}) {
    if (name == SimdPathName(p)) return p;
  }
  return Status::InvalidArgument("unknown SIMD path '" + name +
                                 "' (expected scalar, avx2 or avx512)");
}

bool SimdPathSupported(SimdPath p) { return static_cast<int>(p) <= static_cast<int>(Widest()); }

std::vector<SimdPath> SupportedSimdPaths() {
  std::vector<SimdPath> out;
  for (SimdPath p : {SimdPath::kScalar, SimdPath::kAvx2, SimdPath::kAvx512}) {
    if (SimdPathSupported(p)) out.push_back(p);
  }
  return out;
}

SimdPath ActiveSimdPath() { return static_cast<SimdPath>(Active().load()); }

void SetSimdPath(SimdPath p) { Active().store(static_cast<int>(p)); }

Status SimdPathFromEnvironment() {
  const char* env = std::getenv("PETPREP_SIMD");
  if (env == nullptr || *env == '\0') return Status::Ok();
  Result<SimdPath> p = ParseSimdPath(env);
  if (!p.ok()) return Status::InvalidArgument("PETPREP_SIMD: " + p.status().message());
  if (!SimdPathSupported(*p)) {
    return Status::Unavailable(std::string("PETPREP_SIMD=") + env +
                               ": this CPU does not support it (widest: " + SimdPathName(Widest()) +
                               ")");
  }
  return Status::Ok();
}

}  // namespace petprep
