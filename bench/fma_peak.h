// The machine's FP32 FMA peak, measured: 12 independent AVX2 FMA chains per thread (enough to
// cover the FMA latency), 2 * 8 flops each per iteration. 0 when the CPU has no AVX2/FMA.
#pragma once

#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace petprep::bench {

__attribute__((target("avx2,fma"))) inline float FmaLoop(int64_t iters) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + static_cast<float>(i) * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t k = 0; k < iters; ++k) {
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

// GFLOP/s on `threads` threads at once.
inline double FmaPeakGflops(int threads) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  const int64_t iters = 25000000;
  std::vector<std::thread> pool;
  std::vector<float> sink(threads);
  auto a = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sink[t] = FmaLoop(iters); });
  for (auto& th : pool) th.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
  return 2.0 * 8 * 12 * static_cast<double>(iters) * threads / s / 1e9;
}

}  // namespace petprep::bench
