#include "pipeline/train/conv_kernels.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/train/kernels.h"
#include "pipeline/train/scratch.h"
#include "pipeline/train/simd.h"

namespace petprep {
namespace {

// Work units: their size only decides how outputs are shared among threads, never a value.
constexpr int kDotCoBlock = 24;            // output channels per unit (a multiple of 4, 6 and 12)
constexpr int64_t kDotUnitOutputs = 8192;  // about this many outputs per unit
constexpr int kGradCBlock =
    32;  // channels per unit: a multiple of every kernel's channel tile (8, 16 and 32)
constexpr int kGradKBlock = 48;  // k values per unit (a multiple of 4, 6 and 12)

conv_isa::DotFn DotFor(SimdPath path) {
  switch (path) {
#if defined(__x86_64__)
    case SimdPath::kAvx512:
      return conv_isa::DotAvx512;
    case SimdPath::kAvx2:
      return conv_isa::DotAvx2;
#endif
    default:
      return conv_isa::DotScalar;
  }
}

conv_isa::GradFn GradFor(SimdPath path) {
  switch (path) {
#if defined(__x86_64__)
    case SimdPath::kAvx512:
      return conv_isa::GradAvx512;
    case SimdPath::kAvx2:
      return conv_isa::GradAvx2;
#endif
    default:
      return conv_isa::GradScalar;
  }
}

struct DotUnits {
  int co_blocks, rows, y_blocks;
};

template <typename T>
DotUnits DotUnitsOf(const DotPlan<T>& p) {
  DotUnits u;
  u.co_blocks = (p.co + kDotCoBlock - 1) / kDotCoBlock;
  int64_t per_row = static_cast<int64_t>(std::min(p.co, kDotCoBlock)) * p.w_out;
  u.rows = static_cast<int>(std::max<int64_t>(1, kDotUnitOutputs / std::max<int64_t>(1, per_row)));
  u.rows = std::min(u.rows, std::max(1, p.h));
  u.y_blocks = (p.h + u.rows - 1) / u.rows;
  return u;
}

// Calls f(n, co0, co1, y0, y1) for every unit, in parallel.
template <typename T, typename F>
void ForDotUnits(const DotPlan<T>& p, F f) {
  DotUnits u = DotUnitsOf(p);
  const int64_t units = static_cast<int64_t>(p.n) * u.co_blocks * u.y_blocks;
  tbb::parallel_for(int64_t{0}, units, [&](int64_t i) {
    int yb = static_cast<int>(i % u.y_blocks);
    int cb = static_cast<int>((i / u.y_blocks) % u.co_blocks);
    int n = static_cast<int>(i / (static_cast<int64_t>(u.y_blocks) * u.co_blocks));
    int co0 = cb * kDotCoBlock, co1 = std::min(p.co, co0 + kDotCoBlock);
    int y0 = yb * u.rows, y1 = std::min(p.h, y0 + u.rows);
    f(n, co0, co1, y0, y1);
  });
}

template <typename T, typename F>
void ForGradUnits(const GradPlan<T>& p, F f) {
  const int cbs = (p.c_count + kGradCBlock - 1) / kGradCBlock;
  const int kbs = (p.k_count + kGradKBlock - 1) / kGradKBlock;
  const int64_t units = static_cast<int64_t>(p.n) * cbs * kbs;
  tbb::parallel_for(int64_t{0}, units, [&](int64_t i) {
    int kb = static_cast<int>(i % kbs);
    int cb = static_cast<int>((i / kbs) % cbs);
    int n = static_cast<int>(i / (static_cast<int64_t>(kbs) * cbs));
    f(n, cb * kGradCBlock, std::min(p.c_count, (cb + 1) * kGradCBlock), kb * kGradKBlock,
      std::min(p.k_count, (kb + 1) * kGradKBlock));
  });
}

// out = ((P_0 + P_1) + P_2) + ..., element by element.
template <typename T>
void CombinePartials(const T* parts, int n, int64_t count, T* out) {
  if (n == 0) {
    std::fill(out, out + count, T(0));
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, count, 4096),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      for (int64_t i = r.begin(); i < r.end(); ++i) {
                        T acc = parts[i];
                        for (int j = 1; j < n; ++j) acc = acc + parts[j * count + i];
                        out[i] = acc;
                      }
                    });
}

template <typename T>
void GradScalarAll(const GradPlan<T>& p) {
  const int64_t count = static_cast<int64_t>(p.c_count) * p.k_count;
  Scratch<T> parts(static_cast<size_t>(count) * p.n);
  ForGradUnits(p, [&](int n, int c0, int c1, int k0, int k1) {
    const T* g = p.g + n * p.g_n;
    const T* src = p.src + n * p.src_n;
    for (int c = c0; c < c1; ++c) {
      for (int k = k0; k < k1; ++k) {
        parts.data()[n * count + static_cast<int64_t>(c) * p.k_count + k] =
            ChainGrad(g + c, p.gs, src + p.off[k], p.rs, p.h, p.w);
      }
    }
  });
  CombinePartials(parts.data(), p.n, count, p.out);
}

}  // namespace

void RunDot(const DotPlan<float>& p) {
  conv_isa::DotFn fn = DotFor(ActiveSimdPath());
  ForDotUnits(p, [&](int n, int co0, int co1, int y0, int y1) { fn(p, n, co0, co1, y0, y1); });
}

void RunDot(const DotPlan<double>& p) {
  const int64_t plane = static_cast<int64_t>(p.h) * p.w_out;
  ForDotUnits(p, [&](int n, int co0, int co1, int y0, int y1) {
    const double* src = p.src + n * p.src_n;
    double* out = p.out + n * p.out_n;
    for (int co = co0; co < co1; ++co) {
      const double* w = p.w + static_cast<int64_t>(co) * p.k_count;
      double init = p.init != nullptr ? p.init[co] : 0.0;
      for (int y = y0; y < y1; ++y) {
        for (int x = 0; x < p.w_out; ++x) {
          out[co * plane + static_cast<int64_t>(y) * p.w_out + x] =
              ChainDot(src + y * p.rs + x, p.off, p.k_count, w, init);
        }
      }
    }
  });
}

void RunGrad(const GradPlan<float>& p) {
  conv_isa::GradFn fn = GradFor(ActiveSimdPath());
  const int64_t count = static_cast<int64_t>(p.c_count) * p.k_count;
  Scratch<float> parts(static_cast<size_t>(count) * p.n);
  ForGradUnits(p, [&](int n, int c0, int c1, int k0, int k1) {
    fn(p, n, c0, c1, k0, k1, parts.data() + n * count);
  });
  CombinePartials(parts.data(), p.n, count, p.out);
}

void RunGrad(const GradPlan<double>& p) { GradScalarAll(p); }

}  // namespace petprep
