#include "pipeline/train/float_env.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "pipeline/train/kernels.h"

namespace petprep {
namespace {

#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kFtz = 1u << 15;
constexpr unsigned kDaz = 1u << 6;
#elif defined(__aarch64__)
constexpr uint64_t kFz = uint64_t{1} << 24;
uint64_t ReadFpcr() {
  uint64_t v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  return v;
}
void WriteFpcr(uint64_t v) { __asm__ volatile("msr fpcr, %0" : : "r"(v)); }
#endif

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

}  // namespace

std::string FloatEnv::Describe() const {
  if (flush_to_zero && denormals_are_zero) return "flush-to-zero and denormals-are-zero";
  if (flush_to_zero) return "flush-to-zero";
  if (denormals_are_zero) return "denormals-are-zero";
  return "";
}

FloatEnv ReadFloatEnv() {
  FloatEnv e;
#if defined(__x86_64__) || defined(__i386__)
  const unsigned csr = _mm_getcsr();
  e.flush_to_zero = (csr & kFtz) != 0;
  e.denormals_are_zero = (csr & kDaz) != 0;
#elif defined(__aarch64__)
  e.flush_to_zero = (ReadFpcr() & kFz) != 0;
#endif
  return e;
}

void SetFloatEnv(const FloatEnv& env) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned csr = _mm_getcsr() & ~(kFtz | kDaz);
  if (env.flush_to_zero) csr |= kFtz;
  if (env.denormals_are_zero) csr |= kDaz;
  _mm_setcsr(csr);
#elif defined(__aarch64__)
  uint64_t v = ReadFpcr() & ~kFz;
  if (env.flush_to_zero) v |= kFz;
  WriteFpcr(v);
#else
  (void)env;
#endif
}

FloatEnv ClearFlushToZero() {
  const FloatEnv before = ReadFloatEnv();
  if (!before.ok()) SetFloatEnv(FloatEnv{});
  return before;
}

std::string SubnormalKnownAnswers() {
  // volatile: the values must be computed now, on this thread, not folded at compile time.
  volatile float tiny_gradient = 1e-20f;
  volatile float subnormal = 1e-40f;
  std::string failures;
  auto check = [&](const char* what, float got, uint32_t want) {
    if (Bits(got) == want) return;
    char msg[192];
    std::snprintf(msg, sizeof msg, "%s%s is %a (0x%08x), IEEE gives 0x%08x",
                  failures.empty() ? "" : "; ", what, static_cast<double>(got), Bits(got), want);
    failures += msg;
  };
  // Adam's second moment of a tiny gradient: (1 - beta2) * g^2 is subnormal (needs no FTZ).
  float m = 0.0f, v = 0.0f;
  AdamUpdate(1.0f, tiny_gradient, &m, &v, 0.9f, 0.1f, 0.999f, 0.001f, 0.0f, 1.0f, 1e-8f);
  check("Adam's second moment of g = 1e-20", v, 0x00000047u);
  // A subnormal input read as itself (needs no DAZ): 1e-40 * 4 = 4e-40.
  check("1e-40 * 4", subnormal * 4.0f, 0x00045b08u);
  return failures;
}

}  // namespace petprep
