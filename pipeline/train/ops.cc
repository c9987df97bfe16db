#include "pipeline/train/ops.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

#include "pipeline/core/philox.h"
#include "pipeline/train/conv_kernels.h"
#include "pipeline/train/kernels.h"
#include "pipeline/train/mathfn.h"
#include "pipeline/train/scratch.h"
#include "pipeline/train/threads.h"

namespace petprep {
namespace {

// float uses petprep's own functions; double (the gradient checks only) uses libm.
inline float Exp(float x) { return PetExp(x); }
inline double Exp(double x) { return std::exp(x); }
inline float Log(float x) { return PetLog(x); }
inline double Log(double x) { return std::log(x); }

// Calls f(c) for every channel in parallel.
template <typename F>
void ParallelChannels(int c, F f) {
  tbb::parallel_for(0, c, [&](int i) { f(i); });
}

// Per channel c: sum over n in order of StripedSum(plane, f(n, c, i)).
template <typename T, typename F>
T ChannelSumOf(int n, int64_t plane, int c, F f) {
  T acc = T(0);
  for (int j = 0; j < n; ++j) {
    T s = StripedSum<T>(plane, [&](int64_t i) { return f(j, c, i); });
    acc = j == 0 ? s : acc + s;
  }
  return acc;
}

// Sum over (n, c) planes in order of StripedSum over each plane.
template <typename T, typename F>
T TensorSumOf(int n, int c, int64_t plane, F f) {
  T acc = T(0);
  bool first = true;
  for (int j = 0; j < n; ++j) {
    for (int k = 0; k < c; ++k) {
      T s = StripedSum<T>(plane, [&](int64_t i) { return f(j, k, i); });
      acc = first ? s : acc + s;
      first = false;
    }
  }
  return acc;
}

// The element count of x padded by one on every side.
template <typename T>
size_t PaddedCount(const TensorT<T>& x) {
  return static_cast<size_t>(x.n()) * x.c() * (x.h() + 2) * (x.w() + 2);
}

// (N,C,H,W) -> (N,C,H+2,W+2) with a zero border, written to `out` (PaddedCount(x) elements;
// every one is written) and returned as a view of it.
template <typename T>
TensorT<T> PadOne(const TensorT<T>& x, T* out) {
  TensorT<T> xp = TensorT<T>::View(out, x.n(), x.c(), x.h() + 2, x.w() + 2);
  const int planes = x.n() * x.c(), h = x.h(), w = x.w(), wp = w + 2;
  tbb::parallel_for(0, planes, [&](int pl) {
    const T* s = x.data() + static_cast<int64_t>(pl) * x.plane();
    T* d = out + static_cast<int64_t>(pl) * xp.plane();
    std::fill(d, d + wp + 1, T(0));  // the top row and the left border of the first
    for (int y = 0; y < h; ++y) {
      T* row = d + (y + 1) * wp + 1;
      std::copy(s + y * w, s + (y + 1) * w, row);
      row[w] = T(0);
      row[w + 1] = T(0);  // the left border of the next row
    }
    std::fill(d + (h + 1) * wp + 1, d + (h + 2) * wp, T(0));  // the rest of the bottom row
  });
  return xp;
}

// Channels-last rows of gs = C rounded up to 16 (zeros after C) per position.
inline int64_t ChannelsLastStride(int c) { return (c + 15) / 16 * 16; }

// (N,C,H,W) -> per image (H*W positions) x gs channels, gs = ChannelsLastStride(C), into `out`
// (N * H * W * gs elements; every one is written).
template <typename T>
void ChannelsLast(const TensorT<T>& x, T* out) {
  const int64_t plane = static_cast<int64_t>(x.plane());
  const int64_t stride = ChannelsLastStride(x.c());
  const int64_t blocks = (plane + 255) / 256;
  tbb::parallel_for(int64_t{0}, x.n() * blocks, [&](int64_t i) {
    const int64_t n = i / blocks, p0 = (i % blocks) * 256, p1 = std::min(plane, p0 + 256);
    const T* s = x.data() + n * x.c() * plane;
    T* d = out + n * plane * stride;
    for (int64_t p = p0; p < p1; ++p) {
      for (int c = 0; c < x.c(); ++c) d[p * stride + c] = s[c * plane + p];
      for (int64_t c = x.c(); c < stride; ++c) d[p * stride + c] = T(0);
    }
  });
}

template <typename T>
void BiasGrad(const TensorT<T>& dy, TensorT<T>* db) {
  if (db == nullptr) return;
  std::vector<T> s = ChannelSums(dy);
  db->Resize(dy.c(), 1, 1, 1);
  std::copy(s.begin(), s.end(), db->data());
}

// A dot over `planes` stacked planes of (h, w) with row stride rs: off[k] = k * plane_size.
std::vector<int64_t> PlaneOffsets(int planes, int64_t plane_size) {
  std::vector<int64_t> off(planes);
  for (int k = 0; k < planes; ++k) off[k] = k * plane_size;
  return off;
}

// off[ci * 9 + ky * 3 + kx] = ci * Hp * Wp + ky * Wp + kx, over a padded (Hp, Wp) input.
std::vector<int64_t> Offsets3x3(int channels, int hp, int wp) {
  std::vector<int64_t> off(static_cast<size_t>(channels) * 9);
  for (int c = 0; c < channels; ++c) {
    for (int ky = 0; ky < 3; ++ky) {
      for (int kx = 0; kx < 3; ++kx) {
        off[c * 9 + ky * 3 + kx] = static_cast<int64_t>(c) * hp * wp + ky * wp + kx;
      }
    }
  }
  return off;
}

// A dot plan whose offsets are `off`.
template <typename T>
DotPlan<T> MakeDot(const T* src, int64_t src_n, const std::vector<int64_t>& off, int64_t rs,
                   const T* w, const T* init, int n, int co, int h, int wd, T* out) {
  return DotPlanOf(src, src_n, off.data(), static_cast<int>(off.size()), rs, w, init, n, co, h, wd,
                   out);
}

// A gradient plan from channels-last g (gs per position) into out (C x K).
template <typename T>
GradPlan<T> MakeGrad(const T* g, int64_t gs, int c, const T* src, int64_t src_n,
                     const std::vector<int64_t>& off, int64_t rs, int n, int h, int wd, T* out) {
  GradPlan<T> p;
  p.g = g;
  p.g_n = static_cast<int64_t>(h) * wd * gs;
  p.gs = gs;
  p.c_count = c;
  p.src = src;
  p.src_n = src_n;
  p.off = off.data();
  p.k_count = static_cast<int>(off.size());
  p.rs = rs;
  p.n = n;
  p.h = h;
  p.w = wd;
  p.out = out;
  return p;
}

}  // namespace

template <typename T>
std::vector<T> ChannelSums(const TensorT<T>& x) {
  std::vector<T> out(x.c());
  const int64_t plane = static_cast<int64_t>(x.plane());
  ParallelChannels(x.c(), [&](int c) {
    out[c] = ChannelSumOf<T>(x.n(), plane, c, [&](int n, int ch, int64_t i) {
      return x[(static_cast<int64_t>(n) * x.c() + ch) * plane + i];
    });
  });
  return out;
}

// ---------------------------------------------------------------- conv 3x3

template <typename T>
void Conv3x3Forward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias,
                    TensorT<T>* y) {
  Scratch<T> xs(PaddedCount(x));
  const TensorT<T> xp = PadOne(x, xs.data());
  std::vector<int64_t> off = Offsets3x3(x.c(), xp.h(), xp.w());
  y->Reshape(x.n(), w.n(), x.h(), x.w());
  RunDot(MakeDot<T>(xp.data(), static_cast<int64_t>(x.c()) * xp.plane(), off, xp.w(), w.data(),
                    bias != nullptr ? bias->data() : nullptr, x.n(), w.n(), x.h(), x.w(),
                    y->data()));
}

template <typename T>
void Conv3x3Backward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& dy, TensorT<T>* dx,
                     TensorT<T>* dw, TensorT<T>* db) {
  const int ci = x.c(), co = w.n();
  if (dx != nullptr) {
    Scratch<T> dys(PaddedCount(dy));
    const TensorT<T> dyp = PadOne(dy, dys.data());
    // wf[ci][co * 9 + a * 3 + b] = w[co][ci][2 - a][2 - b]
    Scratch<T> wf(static_cast<size_t>(ci) * co * 9);
    tbb::parallel_for(0, ci, [&](int i) {
      for (int o = 0; o < co; ++o) {
        for (int t = 0; t < 9; ++t) {
          wf.data()[(static_cast<size_t>(i) * co + o) * 9 + t] =
              w[(static_cast<size_t>(o) * ci + i) * 9 + 8 - t];
        }
      }
    });
    std::vector<int64_t> off = Offsets3x3(co, dyp.h(), dyp.w());
    dx->Reshape(x.n(), ci, x.h(), x.w());
    RunDot(MakeDot<T>(dyp.data(), static_cast<int64_t>(co) * dyp.plane(), off, dyp.w(), wf.data(),
                      nullptr, x.n(), ci, x.h(), x.w(), dx->data()));
  }
  Scratch<T> xs(PaddedCount(x));
  const TensorT<T> xp = PadOne(x, xs.data());
  std::vector<int64_t> off = Offsets3x3(ci, xp.h(), xp.w());
  const int64_t gs = ChannelsLastStride(dy.c());
  Scratch<T> g(static_cast<size_t>(dy.n()) * dy.plane() * gs);
  ChannelsLast(dy, g.data());
  dw->Reshape(co, ci, 3, 3);
  RunGrad(MakeGrad<T>(g.data(), gs, co, xp.data(), static_cast<int64_t>(ci) * xp.plane(), off,
                      xp.w(), x.n(), x.h(), x.w(), dw->data()));
  BiasGrad(dy, db);
}

// ---------------------------------------------------------------- conv 1x1

template <typename T>
void Conv1x1Forward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias,
                    TensorT<T>* y) {
  std::vector<int64_t> off = PlaneOffsets(x.c(), static_cast<int64_t>(x.plane()));
  y->Reshape(x.n(), w.n(), x.h(), x.w());
  RunDot(MakeDot<T>(x.data(), static_cast<int64_t>(x.c()) * x.plane(), off, x.w(), w.data(),
                    bias != nullptr ? bias->data() : nullptr, x.n(), w.n(), x.h(), x.w(),
                    y->data()));
}

template <typename T>
void Conv1x1Backward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& dy, TensorT<T>* dx,
                     TensorT<T>* dw, TensorT<T>* db) {
  const int ci = x.c(), co = w.n();
  const int64_t plane = static_cast<int64_t>(x.plane());
  if (dx != nullptr) {
    std::vector<T> wt(static_cast<size_t>(ci) * co);  // wt[ci][co] = w[co][ci]
    for (int o = 0; o < co; ++o) {
      for (int i = 0; i < ci; ++i)
        wt[static_cast<size_t>(i) * co + o] = w[static_cast<size_t>(o) * ci + i];
    }
    std::vector<int64_t> off = PlaneOffsets(co, plane);
    dx->Reshape(x.n(), ci, x.h(), x.w());
    RunDot(MakeDot<T>(dy.data(), co * plane, off, x.w(), wt.data(), nullptr, x.n(), ci, x.h(),
                      x.w(), dx->data()));
  }
  std::vector<int64_t> off = PlaneOffsets(ci, plane);
  const int64_t gs = ChannelsLastStride(dy.c());
  Scratch<T> g(static_cast<size_t>(dy.n()) * plane * gs);
  ChannelsLast(dy, g.data());
  dw->Reshape(co, ci, 1, 1);
  RunGrad(MakeGrad<T>(g.data(), gs, co, x.data(), ci * plane, off, x.w(), x.n(), x.h(), x.w(),
                      dw->data()));
  BiasGrad(dy, db);
}

// ---------------------------------------------------------------- transposed conv 2x2

template <typename T>
void ConvT2x2Forward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>* bias,
                     TensorT<T>* y) {
  const int n = x.n(), ci = x.c(), co = w.c(), h = x.h(), wd = x.w();
  const int64_t plane = static_cast<int64_t>(x.plane());
  std::vector<int64_t> off = PlaneOffsets(ci, plane);
  y->Reshape(n, co, 2 * h, 2 * wd);
  Scratch<T> z(static_cast<size_t>(n) * co * plane);
  std::vector<T> wab(static_cast<size_t>(co) * ci);
  for (int ab = 0; ab < 4; ++ab) {
    for (int o = 0; o < co; ++o) {  // wab[co][ci] = w[ci][co][a][b]
      for (int i = 0; i < ci; ++i)
        wab[static_cast<size_t>(o) * ci + i] = w[(static_cast<size_t>(i) * co + o) * 4 + ab];
    }
    RunDot(MakeDot<T>(x.data(), ci * plane, off, wd, wab.data(),
                      bias != nullptr ? bias->data() : nullptr, n, co, h, wd, z.data()));
    const int a = ab / 2, b = ab % 2;
    tbb::parallel_for(0, n * co, [&](int pl) {
      const T* s = z.data() + pl * plane;
      T* d = y->data() + static_cast<int64_t>(pl) * y->plane();
      for (int yy = 0; yy < h; ++yy) {
        for (int xx = 0; xx < wd; ++xx) d[(2 * yy + a) * (2 * wd) + 2 * xx + b] = s[yy * wd + xx];
      }
    });
  }
}

template <typename T>
void ConvT2x2Backward(const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& dy,
                      TensorT<T>* dx, TensorT<T>* dw, TensorT<T>* db) {
  const int n = x.n(), ci = x.c(), co = w.c(), h = x.h(), wd = x.w();
  const int64_t plane = static_cast<int64_t>(x.plane());
  // d[n][co * 4 + a * 2 + b][y][x] = dy[n][co][2y + a][2x + b]
  Scratch<T> d(static_cast<size_t>(n) * co * 4 * plane);
  tbb::parallel_for(0, n * co, [&](int pl) {
    const T* s = dy.data() + static_cast<int64_t>(pl) * dy.plane();
    for (int ab = 0; ab < 4; ++ab) {
      T* o = d.data() + (static_cast<int64_t>(pl) * 4 + ab) * plane;
      const int a = ab / 2, b = ab % 2;
      for (int yy = 0; yy < h; ++yy) {
        for (int xx = 0; xx < wd; ++xx) o[yy * wd + xx] = s[(2 * yy + a) * (2 * wd) + 2 * xx + b];
      }
    }
  });
  std::vector<int64_t> off = PlaneOffsets(co * 4, plane);
  if (dx != nullptr) {
    dx->Reshape(n, ci, h, wd);
    RunDot(
        MakeDot<T>(d.data(), co * 4 * plane, off, wd, w.data(), nullptr, n, ci, h, wd, dx->data()));
  }
  const int64_t gs = ChannelsLastStride(ci);
  Scratch<T> g(static_cast<size_t>(n) * plane * gs);
  ChannelsLast(x, g.data());
  dw->Reshape(ci, co, 2, 2);
  RunGrad(MakeGrad<T>(g.data(), gs, ci, d.data(), co * 4 * plane, off, wd, n, h, wd, dw->data()));
  BiasGrad(dy, db);
}

// ---------------------------------------------------------------- batch norm

template <typename T>
void BatchNormForwardTrain(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                           TensorT<T>* running_mean, TensorT<T>* running_var, TensorT<T>* y,
                           BatchNormCache<T>* cache) {
  const int n = x.n(), c = x.c();
  const int64_t plane = static_cast<int64_t>(x.plane());
  const T count = static_cast<T>(static_cast<int64_t>(n) * plane);
  y->Reshape(n, c, x.h(), x.w());
  cache->xhat.Reshape(n, c, x.h(), x.w());
  cache->mean.Reshape(c, 1, 1, 1);
  cache->inv_std.Reshape(c, 1, 1, 1);
  const T eps = static_cast<T>(kBatchNormEps), mom = static_cast<T>(kBatchNormMomentum);
  const T keep = T(1) - mom;
  ParallelChannels(c, [&](int ch) {
    auto at = [&](int j, int k, int64_t i) {
      return (static_cast<int64_t>(j) * c + k) * plane + i;
    };
    T mean =
        ChannelSumOf<T>(n, plane, ch, [&](int j, int k, int64_t i) { return x[at(j, k, i)]; }) /
        count;
    T var = ChannelSumOf<T>(n, plane, ch,
                            [&](int j, int k, int64_t i) {
                              T dlt = x[at(j, k, i)] - mean;
                              return dlt * dlt;
                            }) /
            count;
    T inv = T(1) / std::sqrt(var + eps);
    cache->mean[ch] = mean;
    cache->inv_std[ch] = inv;
    const T g = gamma[ch], b = beta[ch];
    for (int j = 0; j < n; ++j) {
      for (int64_t i = 0; i < plane; ++i) {
        int64_t e = at(j, ch, i);
        T xh = (x[e] - mean) * inv;
        cache->xhat[e] = xh;
        (*y)[e] = g * xh + b;  // BatchNormApply, with xhat kept
      }
    }
    T unbiased = count > T(1) ? var * (count / (count - T(1))) : var;
    (*running_mean)[ch] = keep * (*running_mean)[ch] + mom * mean;
    (*running_var)[ch] = keep * (*running_var)[ch] + mom * unbiased;
  });
}

template <typename T>
void BatchNormForwardEval(const TensorT<T>& x, const TensorT<T>& gamma, const TensorT<T>& beta,
                          const TensorT<T>& running_mean, const TensorT<T>& running_var,
                          TensorT<T>* y) {
  const int n = x.n(), c = x.c();
  const int64_t plane = static_cast<int64_t>(x.plane());
  y->Reshape(n, c, x.h(), x.w());
  const T eps = static_cast<T>(kBatchNormEps);
  ParallelChannels(c, [&](int ch) {
    const T inv = T(1) / std::sqrt(running_var[ch] + eps);
    const T mean = running_mean[ch], g = gamma[ch], b = beta[ch];
    for (int j = 0; j < n; ++j) {
      const int64_t base = (static_cast<int64_t>(j) * c + ch) * plane;
      for (int64_t i = 0; i < plane; ++i)
        (*y)[base + i] = BatchNormApply(x[base + i], mean, inv, g, b);
    }
  });
}

template <typename T>
void BatchNormBackward(const TensorT<T>& dy, const TensorT<T>& gamma,
                       const BatchNormCache<T>& cache, TensorT<T>* dx, TensorT<T>* dgamma,
                       TensorT<T>* dbeta) {
  const int n = dy.n(), c = dy.c();
  const int64_t plane = static_cast<int64_t>(dy.plane());
  const T count = static_cast<T>(static_cast<int64_t>(n) * plane);
  dx->Reshape(n, c, dy.h(), dy.w());
  dgamma->Reshape(c, 1, 1, 1);
  dbeta->Reshape(c, 1, 1, 1);
  ParallelChannels(c, [&](int ch) {
    auto at = [&](int j, int k, int64_t i) {
      return (static_cast<int64_t>(j) * c + k) * plane + i;
    };
    T sb = ChannelSumOf<T>(n, plane, ch, [&](int j, int k, int64_t i) { return dy[at(j, k, i)]; });
    T sg = ChannelSumOf<T>(n, plane, ch, [&](int j, int k, int64_t i) {
      int64_t e = at(j, k, i);
      return dy[e] * cache.xhat[e];
    });
    (*dbeta)[ch] = sb;
    (*dgamma)[ch] = sg;
    const T k1 = sb / count, k2 = sg / count, g = gamma[ch] * cache.inv_std[ch];
    for (int j = 0; j < n; ++j) {
      for (int64_t i = 0; i < plane; ++i) {
        int64_t e = at(j, ch, i);
        (*dx)[e] = BatchNormGradInput(dy[e], cache.xhat[e], k1, k2, g);
      }
    }
  });
}

// ---------------------------------------------------------------- elementwise, shape

template <typename T>
void ReluForward(const TensorT<T>& x, TensorT<T>* y) {
  if (y != &x) y->Reshape(x.n(), x.c(), x.h(), x.w());
  ParallelElements(static_cast<int64_t>(x.size()), [&](int64_t i) { (*y)[i] = ReluApply(x[i]); });
}

template <typename T>
void ReluBackward(const TensorT<T>& y, const TensorT<T>& dy, TensorT<T>* dx) {
  if (dx != &dy) dx->Reshape(dy.n(), dy.c(), dy.h(), dy.w());
  ParallelElements(static_cast<int64_t>(dy.size()),
                   [&](int64_t i) { (*dx)[i] = ReluGrad(y[i], dy[i]); });
}

template <typename T>
void MaxPoolForward(const TensorT<T>& x, TensorT<T>* y, std::vector<uint8_t>* argmax) {
  argmax->assign(static_cast<size_t>(x.n()) * x.c() * (x.h() / 2) * (x.w() / 2), 0);
  MaxPoolForward(x, y, argmax->data());
}

template <typename T>
void MaxPoolForward(const TensorT<T>& x, TensorT<T>* y, uint8_t* argmax) {
  const int ho = x.h() / 2, wo = x.w() / 2;
  y->Reshape(x.n(), x.c(), ho, wo);
  tbb::parallel_for(0, x.n() * x.c(), [&](int pl) {
    const T* s = x.data() + static_cast<int64_t>(pl) * x.plane();
    T* d = y->data() + static_cast<int64_t>(pl) * y->plane();
    uint8_t* am = argmax + static_cast<int64_t>(pl) * y->plane();
    for (int i = 0; i < ho; ++i) {
      const T* r0 = s + 2 * i * x.w();
      const T* r1 = r0 + x.w();
      for (int j = 0; j < wo; ++j) {
        T v;
        const int win = MaxPoolWinner(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1], &v);
        d[i * wo + j] = v;
        am[i * wo + j] = static_cast<uint8_t>(win);
      }
    }
  });
}

template <typename T>
void MaxPoolBackward(const TensorT<T>& x_shape, const TensorT<T>& dy,
                     const std::vector<uint8_t>& argmax, TensorT<T>* dx) {
  MaxPoolBackward(x_shape, dy, argmax.data(), dx);
}

template <typename T>
void MaxPoolBackward(const TensorT<T>& x_shape, const TensorT<T>& dy, const uint8_t* argmax,
                     TensorT<T>* dx) {
  dx->Resize(x_shape.n(), x_shape.c(), x_shape.h(), x_shape.w());
  const int ho = dy.h(), wo = dy.w(), w = dx->w();
  tbb::parallel_for(0, dy.n() * dy.c(), [&](int pl) {
    const T* s = dy.data() + static_cast<int64_t>(pl) * dy.plane();
    const uint8_t* am = argmax + static_cast<int64_t>(pl) * dy.plane();
    T* d = dx->data() + static_cast<int64_t>(pl) * dx->plane();
    for (int i = 0; i < ho; ++i) {
      for (int j = 0; j < wo; ++j) {
        const int win = am[i * wo + j];
        d[(2 * i + win / 2) * w + 2 * j + win % 2] = s[i * wo + j];
      }
    }
  });
}

template <typename T>
void ConcatForward(const TensorT<T>& a, const TensorT<T>& b, TensorT<T>* y) {
  y->Reshape(a.n(), a.c() + b.c(), a.h(), a.w());
  const int64_t na = static_cast<int64_t>(a.c()) * a.plane(),
                nb = static_cast<int64_t>(b.c()) * b.plane();
  tbb::parallel_for(0, a.n(), [&](int n) {
    std::copy(a.data() + n * na, a.data() + (n + 1) * na, y->data() + n * (na + nb));
    std::copy(b.data() + n * nb, b.data() + (n + 1) * nb, y->data() + n * (na + nb) + na);
  });
}

template <typename T>
void ConcatBackward(const TensorT<T>& dy, int a_channels, TensorT<T>* da, TensorT<T>* db) {
  const int bc = dy.c() - a_channels;
  da->Reshape(dy.n(), a_channels, dy.h(), dy.w());
  db->Reshape(dy.n(), bc, dy.h(), dy.w());
  const int64_t na = static_cast<int64_t>(a_channels) * dy.plane(),
                nb = static_cast<int64_t>(bc) * dy.plane();
  tbb::parallel_for(0, dy.n(), [&](int n) {
    const T* s = dy.data() + n * (na + nb);
    std::copy(s, s + na, da->data() + n * na);
    std::copy(s + na, s + na + nb, db->data() + n * nb);
  });
}

template <typename T>
void DropoutForward(const TensorT<T>& x, float p, uint64_t seed, uint64_t step, uint32_t layer,
                    TensorT<T>* y, std::vector<uint8_t>* keep) {
  keep->assign(x.size(), 0);
  DropoutForward(x, p, seed, step, layer, y, keep->data());
}

template <typename T>
void DropoutForward(const TensorT<T>& x, float p, uint64_t seed, uint64_t step, uint32_t layer,
                    TensorT<T>* y, uint8_t* keep) {
  y->Reshape(x.n(), x.c(), x.h(), x.w());
  const PhiloxKey key = DeriveKey(seed, RandomPurpose::kDropout);
  const T scale = T(1) / (T(1) - static_cast<T>(p));
  const int64_t blocks = (static_cast<int64_t>(x.size()) + 3) / 4;
  ParallelElements(blocks, [&](int64_t blk) {
    PhiloxCounter c = {{static_cast<uint32_t>(blk), layer, static_cast<uint32_t>(step),
                        static_cast<uint32_t>(step >> 32)}};
    PhiloxCounter r = Philox4x32_10(c, key);
    for (int j = 0; j < 4; ++j) {
      const int64_t e = blk * 4 + j;
      if (e >= static_cast<int64_t>(x.size())) break;
      const bool k = UniformFloat(r.v[j]) >= p;
      keep[e] = k ? 1 : 0;
      (*y)[e] = k ? x[e] * scale : T(0);
    }
  });
}

template <typename T>
void DropoutBackward(const TensorT<T>& dy, float p, const std::vector<uint8_t>& keep,
                     TensorT<T>* dx) {
  DropoutBackward(dy, p, keep.data(), dx);
}

template <typename T>
void DropoutBackward(const TensorT<T>& dy, float p, const uint8_t* keep, TensorT<T>* dx) {
  // Every element is written: no zero fill (which would clear dy through a view of it).
  if (dx != &dy) dx->Reshape(dy.n(), dy.c(), dy.h(), dy.w());
  const T scale = T(1) / (T(1) - static_cast<T>(p));
  ParallelElements(static_cast<int64_t>(dy.size()),
                   [&](int64_t e) { (*dx)[e] = keep[e] ? dy[e] * scale : T(0); });
}

// ---------------------------------------------------------------- losses

template <typename T>
T SoftmaxCrossEntropy(const TensorT<T>& logits, const std::vector<uint8_t>& labels,
                      TensorT<T>* dlogits) {
  return SoftmaxCrossEntropy(logits, labels.data(), dlogits);
}

template <typename T>
T SoftmaxCrossEntropy(const TensorT<T>& logits, const uint8_t* labels, TensorT<T>* dlogits) {
  const int n = logits.n(), c = logits.c();
  const int64_t plane = static_cast<int64_t>(logits.plane());
  const T count = static_cast<T>(static_cast<int64_t>(n) * plane);
  dlogits->Reshape(n, c, logits.h(), logits.w());
  Scratch<T> loss(static_cast<size_t>(n) * plane);
  constexpr int kKept = 16;  // up to this many classes, each exponential is formed once
  ParallelElements(static_cast<int64_t>(n) * plane, [&](int64_t e) {
    const int64_t j = e / plane, i = e % plane;
    const T* z = logits.data() + j * c * plane + i;
    T m = z[0];
    for (int k = 1; k < c; ++k) m = z[k * plane] > m ? z[k * plane] : m;
    T ex[kKept];
    T s = T(0);
    for (int k = 0; k < c; ++k) {
      const T ek = Exp(z[k * plane] - m);
      if (k < kKept) ex[k] = ek;
      s = s + ek;
    }
    const int label = labels[e];
    loss.data()[e] = (m + Log(s)) - z[label * plane];
    T* d = dlogits->data() + j * c * plane + i;
    for (int k = 0; k < c; ++k) {
      T pk = (k < kKept ? ex[k] : Exp(z[k * plane] - m)) / s;
      d[k * plane] = (k == label ? pk - T(1) : pk) / count;
    }
  });
  const T* l = loss.data();
  return TensorSumOf<T>(n, 1, plane, [&](int j, int, int64_t i) { return l[j * plane + i]; }) /
         count;
}

template <typename T>
T BceJaccard(const TensorT<T>& logits, const std::vector<uint8_t>& labels, TensorT<T>* dlogits) {
  return BceJaccard(logits, labels.data(), dlogits);
}

template <typename T>
T BceJaccard(const TensorT<T>& logits, const uint8_t* labels, TensorT<T>* dlogits) {
  const int n = logits.n(), c = logits.c();
  const int64_t plane = static_cast<int64_t>(logits.plane());
  const int64_t total = static_cast<int64_t>(logits.size());
  const T count = static_cast<T>(total);
  dlogits->Resize(n, c, logits.h(), logits.w());
  TensorT<T> prob(n, c, logits.h(), logits.w()), bce(n, c, logits.h(), logits.w());
  auto target = [&](int64_t e) {
    const int64_t j = e / (c * plane), k = (e / plane) % c, i = e % plane;
    return labels[j * plane + i] == k ? T(1) : T(0);
  };
  ParallelElements(total, [&](int64_t e) {
    const T z = logits[e], t = target(e);
    const T az = z < T(0) ? -z : z;
    prob[e] = T(1) / (T(1) + Exp(-z));
    bce[e] = ((z > T(0) ? z : T(0)) - z * t) + Log(T(1) + Exp(-az));
  });
  auto sum = [&](auto f) {
    return TensorSumOf<T>(n, c, plane, [&](int j, int k, int64_t i) {
      return f((static_cast<int64_t>(j) * c + k) * plane + i);
    });
  };
  const T bce_sum = sum([&](int64_t e) { return bce[e]; });
  const T inter = sum([&](int64_t e) { return prob[e] * target(e); });
  const T s = sum([&](int64_t e) { return prob[e]; }) + sum([&](int64_t e) { return target(e); });
  const T den = (s - inter) + T(1);
  const T jac = (inter + T(1)) / den;
  const T den2 = den * den;
  ParallelElements(total, [&](int64_t e) {
    const T p = prob[e], t = target(e);
    // dJ/dp = (t * den - (inter + 1) * (1 - t)) / den^2; dp/dz = p (1 - p)
    const T djdp = (t * den - (inter + T(1)) * (T(1) - t)) / den2;
    (*dlogits)[e] = (p - t) / count - djdp * (p * (T(1) - p));
  });
  return bce_sum / count + (T(1) - jac);
}

#define PETPREP_OPS_INSTANTIATE(T)                                                                 \
  template std::vector<T> ChannelSums(const TensorT<T>&);                                          \
  template void Conv3x3Forward(const TensorT<T>&, const TensorT<T>&, const TensorT<T>*,            \
                               TensorT<T>*);                                                       \
  template void Conv3x3Backward(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&,           \
                                TensorT<T>*, TensorT<T>*, TensorT<T>*);                            \
  template void Conv1x1Forward(const TensorT<T>&, const TensorT<T>&, const TensorT<T>*,            \
                               TensorT<T>*);                                                       \
  template void Conv1x1Backward(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&,           \
                                TensorT<T>*, TensorT<T>*, TensorT<T>*);                            \
  template void ConvT2x2Forward(const TensorT<T>&, const TensorT<T>&, const TensorT<T>*,           \
                                TensorT<T>*);                                                      \
  template void ConvT2x2Backward(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&,          \
                                 TensorT<T>*, TensorT<T>*, TensorT<T>*);                           \
  template void BatchNormForwardTrain(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&,     \
                                      TensorT<T>*, TensorT<T>*, TensorT<T>*, BatchNormCache<T>*);  \
  template void BatchNormForwardEval(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&,      \
                                     const TensorT<T>&, const TensorT<T>&, TensorT<T>*);           \
  template void BatchNormBackward(const TensorT<T>&, const TensorT<T>&, const BatchNormCache<T>&,  \
                                  TensorT<T>*, TensorT<T>*, TensorT<T>*);                          \
  template void ReluForward(const TensorT<T>&, TensorT<T>*);                                       \
  template void ReluBackward(const TensorT<T>&, const TensorT<T>&, TensorT<T>*);                   \
  template void MaxPoolForward(const TensorT<T>&, TensorT<T>*, std::vector<uint8_t>*);             \
  template void MaxPoolForward(const TensorT<T>&, TensorT<T>*, uint8_t*);                          \
  template void MaxPoolBackward(const TensorT<T>&, const TensorT<T>&, const std::vector<uint8_t>&, \
                                TensorT<T>*);                                                      \
  template void MaxPoolBackward(const TensorT<T>&, const TensorT<T>&, const uint8_t*,              \
                                TensorT<T>*);                                                      \
  template void ConcatForward(const TensorT<T>&, const TensorT<T>&, TensorT<T>*);                  \
  template void ConcatBackward(const TensorT<T>&, int, TensorT<T>*, TensorT<T>*);                  \
  template void DropoutForward(const TensorT<T>&, float, uint64_t, uint64_t, uint32_t,             \
                               TensorT<T>*, std::vector<uint8_t>*);                                \
  template void DropoutForward(const TensorT<T>&, float, uint64_t, uint64_t, uint32_t,             \
                               TensorT<T>*, uint8_t*);                                             \
  template void DropoutBackward(const TensorT<T>&, float, const std::vector<uint8_t>&,             \
                                TensorT<T>*);                                                      \
  template void DropoutBackward(const TensorT<T>&, float, const uint8_t*, TensorT<T>*);            \
  template T SoftmaxCrossEntropy(const TensorT<T>&, const std::vector<uint8_t>&, TensorT<T>*);     \
  template T SoftmaxCrossEntropy(const TensorT<T>&, const uint8_t*, TensorT<T>*);                  \
  template T BceJaccard(const TensorT<T>&, const std::vector<uint8_t>&, TensorT<T>*);              \
  template T BceJaccard(const TensorT<T>&, const uint8_t*, TensorT<T>*);

PETPREP_OPS_INSTANTIATE(float)
PETPREP_OPS_INSTANTIATE(double)

}  // namespace petprep
