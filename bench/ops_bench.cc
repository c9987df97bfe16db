// The training ops' speed against the machine: the measured FP32 FMA peak, then each
// convolution direction of the B3 U-Net (../shared/BENCHMARKS.md) at batch 8, 128x128, in
// GFLOP/s and as a fraction of the peak, on 1 and 2 threads (median of --runs).
//
//   build/bench/ops_bench [--runs 5] [--batch 8] [--size 128]
//
// PETPREP_SIMD=scalar|avx2|avx512 picks the kernels' path (default: the widest).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/fma_peak.h"
#include "pipeline/train/ops.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"

namespace {

using Clock = std::chrono::steady_clock;
using petprep::Tensor;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double TimeIt(int runs, const std::function<void()>& f) {
  f();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - a).count());
  }
  return Median(t);
}

void Fill(Tensor* t) {
  uint32_t x = 12345;
  for (size_t i = 0; i < t->size(); ++i) {
    x = x * 1664525u + 1013904223u;
    (*t)[i] = static_cast<float>(x >> 8) / 16777216.0f - 0.5f;
  }
}

struct Layer {
  std::string name;
  int kind;  // 0 conv3x3, 1 convt2x2, 2 conv1x1
  int ci, co, side;
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 5, batch = 8, size = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--size")) size = std::atoi(argv[i + 1]);
  }
  std::printf("command: build/bench/ops_bench --runs %d --batch %d --size %d\n", runs, batch, size);
  std::printf("SIMD path: %s\n", petprep::SimdPathName(petprep::ActiveSimdPath()));
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  double peak[3] = {0, 0, 0};
  if (avx2) {
    for (int t = 1; t <= 2; ++t) peak[t] = petprep::bench::FmaPeakGflops(t);
    std::printf("FP32 FMA peak (AVX2, 12 chains): 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s\n",
                peak[1], peak[2]);
  }
  const int s = size;
  std::vector<Layer> layers = {
      {"enc1a 3->16", 0, 3, 16, s},        {"enc1b 16->16", 0, 16, 16, s},
      {"enc2a 16->32", 0, 16, 32, s / 2},  {"enc2b 32->32", 0, 32, 32, s / 2},
      {"enc3a 32->64", 0, 32, 64, s / 4},  {"enc3b 64->64", 0, 64, 64, s / 4},
      {"bott 64->128", 0, 64, 128, s / 8}, {"bott 128->128", 0, 128, 128, s / 8},
      {"up3 t128->64", 1, 128, 64, s / 8}, {"dec3a 128->64", 0, 128, 64, s / 4},
      {"dec3b 64->64", 0, 64, 64, s / 4},  {"up2 t64->32", 1, 64, 32, s / 4},
      {"dec2a 64->32", 0, 64, 32, s / 2},  {"dec2b 32->32", 0, 32, 32, s / 2},
      {"up1 t32->16", 1, 32, 16, s / 2},   {"dec1a 32->16", 0, 32, 16, s},
      {"dec1b 16->16", 0, 16, 16, s},      {"head 16->3", 2, 16, 3, s},
  };
  std::printf("\n%-15s %8s | %9s %9s %9s | %9s %9s %9s\n", "layer", "GFLOP", "fwd 1t", "dx 1t",
              "dw 1t", "fwd 2t", "dx 2t", "dw 2t");
  double total_flop = 0, total_t[3] = {0, 0, 0};
  for (const Layer& l : layers) {
    Tensor x(batch, l.ci, l.side, l.side), w, y, dy, dx, dw;
    if (l.kind == 1) {
      w.Resize(l.ci, l.co, 2, 2);
    } else {
      int k = l.kind == 0 ? 3 : 1;
      w.Resize(l.co, l.ci, k, k);
    }
    Fill(&x);
    Fill(&w);
    const int taps = l.kind == 0 ? 9 : l.kind == 1 ? 4 : 1;
    const double flop = 2.0 * batch * l.side * l.side * l.ci * l.co * taps;  // per direction
    double t[3][3];
    for (int th = 1; th <= 2; ++th) {
      petprep::WithThreads(th, [&] {
        auto fwd = [&] {
          if (l.kind == 0) petprep::Conv3x3Forward<float>(x, w, nullptr, &y);
          if (l.kind == 1) petprep::ConvT2x2Forward<float>(x, w, nullptr, &y);
          if (l.kind == 2) petprep::Conv1x1Forward<float>(x, w, nullptr, &y);
        };
        fwd();
        dy = y;
        Fill(&dy);
        auto bwd = [&](bool want_dx) {
          Tensor* d = want_dx ? &dx : nullptr;
          if (l.kind == 0) petprep::Conv3x3Backward<float>(x, w, dy, d, &dw, nullptr);
          if (l.kind == 1) petprep::ConvT2x2Backward<float>(x, w, dy, d, &dw, nullptr);
          if (l.kind == 2) petprep::Conv1x1Backward<float>(x, w, dy, d, &dw, nullptr);
        };
        t[th][0] = TimeIt(runs, fwd);
        t[th][2] = TimeIt(runs, [&] { bwd(false); });
        t[th][1] = std::max(1e-9, TimeIt(runs, [&] { bwd(true); }) - t[th][2]);
        return 0;
      });
    }
    std::printf("%-15s %8.3f |", l.name.c_str(), flop / 1e9);
    for (int th = 1; th <= 2; ++th) {
      for (int d = 0; d < 3; ++d) std::printf(" %9.1f", flop / t[th][d] / 1e9);
      std::printf(th == 1 ? " |" : "\n");
      total_t[th] += t[th][0] + t[th][1] + t[th][2];
    }
    total_flop += 3 * flop;
  }
  std::printf("\n(GFLOP/s per direction; dx is the backward with dx minus the one without)\n");
  for (int th = 1; th <= 2; ++th) {
    std::printf("all convolutions, %d thread%s: %.1f ms per step, %.1f GFLOP/s", th,
                th > 1 ? "s" : "", total_t[th] * 1e3, total_flop / total_t[th] / 1e9);
    if (peak[th] > 0)
      std::printf(", %.0f%% of the measured peak", 100 * total_flop / total_t[th] / 1e9 / peak[th]);
    std::printf("\n");
  }
  return 0;
}
