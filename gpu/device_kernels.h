// The CUDA backend's kernels, written once for the device and the simulated device: each is a
// functor whose operator() is one CUDA thread (launch.h), computing one output with the
// PETPREP_HD bodies of pipeline/train/kernels.h and mathfn.h, so every output is the chain
// ARITHMETIC.md defines and the bits are the CPU's.
//
// One thread per output, always. No float atomics and no split-K: both would let the order of
// a sum depend on which thread ran first. Reductions are split only where the definition
// splits them (a convolution's weight gradient into per-image chains, combined in image order;
// a channel or tensor sum into the eight stripes of StripedSum, combined as it combines them),
// each part one thread's sequential chain, combined by another kernel in the defined order.
// The only atomics are on integers (confusion counts), exact in any order.
#pragma once

#include <cstdint>

#include "gpu/launch.h"
#include "pipeline/core/philox.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/conv_kernels.h"
#include "pipeline/train/kernels.h"
#include "pipeline/train/mathfn.h"

namespace petprep::gpu {

#define PETPREP_THREAD_INDEX(i, n) \
  const int64_t i = t.x();         \
  if (i >= (n)) return

// ---------------------------------------------------------------- elementwise and shape

struct ReluForwardK {
  const float* x;
  float* y;
  int64_t n;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, n);
    y[i] = ReluApply(x[i]);
  }
};

struct ReluBackwardK {
  const float* y;
  const float* dy;
  float* dx;
  int64_t n;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, n);
    dx[i] = ReluGrad(y[i], dy[i]);
  }
};

struct AddK {
  const float* a;
  const float* b;
  float* y;
  int64_t n;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, n);
    y[i] = a[i] + b[i];
  }
};

// y (N, Ca + Cb, H, W) from a and b; na, nb: the values per image of each.
struct ConcatForwardK {
  const float* a;
  const float* b;
  float* y;
  int64_t na, nb, total;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, total);
    const int64_t img = e / (na + nb), r = e % (na + nb);
    y[e] = r < na ? a[img * na + r] : b[img * nb + (r - na)];
  }
};

struct ConcatBackwardK {
  const float* dy;
  float* da;
  float* db;
  int64_t na, nb, total;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, total);
    const int64_t img = e / (na + nb), r = e % (na + nb);
    if (r < na) {
      da[img * na + r] = dy[e];
    } else {
      db[img * nb + (r - na)] = dy[e];
    }
  }
};

// One thread per group of four elements: the group's Philox block.
struct DropoutForwardK {
  const float* x;
  float* y;
  uint8_t* keep;
  int64_t n;
  float p, scale;
  PhiloxKey key;
  uint32_t layer;
  uint64_t step;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(blk, (n + 3) / 4);
    PhiloxCounter c = {{static_cast<uint32_t>(blk), layer, static_cast<uint32_t>(step),
                        static_cast<uint32_t>(step >> 32)}};
    PhiloxCounter r = Philox4x32_10(c, key);
    for (int j = 0; j < 4; ++j) {
      const int64_t e = blk * 4 + j;
      if (e >= n) break;
      const bool k = UniformFloat(r.v[j]) >= p;
      keep[e] = k ? 1 : 0;
      y[e] = k ? x[e] * scale : 0.0f;
    }
  }
};

struct DropoutBackwardK {
  const float* dy;
  const uint8_t* keep;
  float* dx;
  int64_t n;
  float scale;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, n);
    dx[e] = keep[e] ? dy[e] * scale : 0.0f;
  }
};

// One thread per output of y (planes x ho x wo).
struct MaxPoolForwardK {
  const float* x;
  float* y;
  uint8_t* argmax;
  int64_t planes;
  int h, w, ho, wo;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(o, planes * ho * wo);
    const int64_t pl = o / (static_cast<int64_t>(ho) * wo);
    const int i = static_cast<int>((o / wo) % ho), j = static_cast<int>(o % wo);
    const float* q = x + pl * h * w + static_cast<int64_t>(2 * i) * w + 2 * j;
    const int win = MaxPoolWinner(q[0], q[1], q[w], q[w + 1]);
    y[o] = q[(win / 2) * w + win % 2];
    argmax[o] = static_cast<uint8_t>(win);
  }
};

// dx is zero before; each output of the forward pass sends its gradient to its winner.
struct MaxPoolBackwardK {
  const float* dy;
  const uint8_t* argmax;
  float* dx;
  int64_t planes;
  int h, w, ho, wo;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(o, planes * ho * wo);
    const int64_t pl = o / (static_cast<int64_t>(ho) * wo);
    const int i = static_cast<int>((o / wo) % ho), j = static_cast<int>(o % wo);
    const int win = argmax[o];
    dx[pl * h * w + static_cast<int64_t>(2 * i + win / 2) * w + 2 * j + win % 2] = dy[o];
  }
};

// classes[n][p] = the first maximum over c channels.
struct ArgmaxK {
  const float* z;
  uint8_t* classes;
  int64_t pixels, plane;
  int c;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, pixels);
    const int64_t img = e / plane, i = e % plane;
    classes[e] = static_cast<uint8_t>(ArgmaxChannel(z + img * c * plane + i, plane, c));
  }
};

struct ConfusionK {
  const uint8_t* truth;
  const uint8_t* predicted;
  uint32_t* counts;
  int64_t pixels;
  int classes;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, pixels);
    const int a = truth[e], b = predicted[e];
    if (a < classes && b < classes) AtomicAddU32(counts + a * classes + b, 1u);
  }
};

struct AdamK {
  float* w;
  const float* g;
  float* m;
  float* v;
  int64_t n;
  AdamConstants k;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, n);
    w[i] = AdamUpdate(w[i], g[i], m + i, v + i, k.b1, k.c1, k.b2, k.c2, k.step, k.bc2_sqrt, k.eps);
  }
};

struct SgdK {
  float* w;
  const float* g;
  float* buf;
  int64_t n;
  SgdConstants k;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, n);
    w[i] = SgdUpdate(w[i], g[i], buf + i, k.first, k.momentum, k.lr);
  }
};

// ---------------------------------------------------------------- convolution layouts

// (planes, H, W) -> (planes, H + 2, W + 2) with a zero border; one thread per padded value.
struct PadK {
  const float* x;
  float* xp;
  int64_t planes;
  int h, w;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    const int hp = h + 2, wp = w + 2;
    PETPREP_THREAD_INDEX(o, planes * hp * wp);
    const int64_t pl = o / (static_cast<int64_t>(hp) * wp);
    const int y = static_cast<int>((o / wp) % hp) - 1, xx = static_cast<int>(o % wp) - 1;
    xp[o] = (y >= 0 && y < h && xx >= 0 && xx < w) ? x[(pl * h + y) * w + xx] : 0.0f;
  }
};

// wf[ci][co * 9 + t] = w[co][ci][8 - t]: the input gradient's weights (flipped, transposed).
struct Flip3x3K {
  const float* w;
  float* wf;
  int ci, co;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(o, static_cast<int64_t>(ci) * co * 9);
    const int64_t i = o / (static_cast<int64_t>(co) * 9), oc = (o / 9) % co, k = o % 9;
    wf[o] = w[(oc * ci + i) * 9 + 8 - k];
  }
};

// wt[ci][co] = w[co][ci].
struct Transpose1x1K {
  const float* w;
  float* wt;
  int ci, co;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(o, static_cast<int64_t>(ci) * co);
    const int64_t i = o / co, oc = o % co;
    wt[o] = w[oc * ci + i];
  }
};

// wab[ab][co][ci] = w[ci][co][a][b]: the transposed convolution's four phases.
struct PhaseWeightsK {
  const float* w;
  float* wab;
  int ci, co;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(o, 4 * static_cast<int64_t>(ci) * co);
    const int64_t ab = o / (static_cast<int64_t>(co) * ci), oc = (o / ci) % co, i = o % ci;
    wab[o] = w[(i * co + oc) * 4 + ab];
  }
};

// d[n][co * 4 + a * 2 + b][y][x] = dy[n][co][2y + a][2x + b].
struct PhaseSplitK {
  const float* dy;
  float* d;
  int64_t planes;  // n * co
  int h, w;        // the input's (half of dy's)
  PETPREP_HD void operator()(const ThreadPos& t) const {
    const int64_t plane = static_cast<int64_t>(h) * w;
    PETPREP_THREAD_INDEX(o, planes * 4 * plane);
    const int64_t pl = o / (4 * plane), ab = (o / plane) % 4, p = o % plane;
    const int a = static_cast<int>(ab / 2), b = static_cast<int>(ab % 2);
    const int y = static_cast<int>(p / w), x = static_cast<int>(p % w);
    d[o] = dy[pl * 4 * plane + static_cast<int64_t>(2 * y + a) * (2 * w) + 2 * x + b];
  }
};

// ---------------------------------------------------------------- the chains

// out[n][co][y][x] = ChainDot(...) as DotPlan states it (every pointer a device pointer).
struct DotK {
  DotPlan<float> p;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, static_cast<int64_t>(p.n) * p.co * p.h * p.w_out);
    const int x = static_cast<int>(i % p.w_out);
    const int y = static_cast<int>((i / p.w_out) % p.h);
    const int co = static_cast<int>((i / (static_cast<int64_t>(p.w_out) * p.h)) % p.co);
    const int n = static_cast<int>(i / (static_cast<int64_t>(p.w_out) * p.h * p.co));
    const float init = p.init != nullptr ? p.init[co] : 0.0f;
    p.out[n * p.out_n + (static_cast<int64_t>(co) * p.h + y) * p.w_out + x] =
        ChainDot(p.src + n * p.src_n + y * p.rs + x, p.off, p.k_count,
                 p.w + static_cast<int64_t>(co) * p.k_count, init);
  }
};

// The transposed convolution's forward pass: y[n][co][2y + a][2x + b] = the dot chain over ci of
// wab[ab][co] and x[n][.][y][x], from the bias.
struct ConvT2x2ForwardK {
  const float* x;
  const float* wab;
  const float* bias;
  const int64_t* off;  // ci * plane
  float* y;
  int n, ci, co, h, w;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    const int64_t plane = static_cast<int64_t>(h) * w;
    PETPREP_THREAD_INDEX(o, static_cast<int64_t>(n) * co * 4 * plane);
    const int ow = 2 * w, oh = 2 * h;
    const int X = static_cast<int>(o % ow), Y = static_cast<int>((o / ow) % oh);
    const int64_t oc = (o / (static_cast<int64_t>(ow) * oh)) % co;
    const int64_t img = o / (static_cast<int64_t>(ow) * oh * co);
    const int ab = (Y % 2) * 2 + X % 2, yy = Y / 2, xx = X / 2;
    const float init = bias != nullptr ? bias[oc] : 0.0f;
    y[o] = ChainDot(x + img * ci * plane + static_cast<int64_t>(yy) * w + xx, off, ci,
                    wab + (static_cast<int64_t>(ab) * co + oc) * ci, init);
  }
};

// The weight gradient's per-image chains: parts[n][c][k] = ChainGrad over image n of g's
// channel c (NCHW: channel stride g_c, positions contiguous) and src + off[k].
struct GradPartsK {
  const float* g;
  int64_t g_n, g_c;
  const float* src;
  int64_t src_n;
  const int64_t* off;
  int k_count;
  int64_t rs;
  int n, c_count, h, w;
  float* parts;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    const int64_t count = static_cast<int64_t>(c_count) * k_count;
    PETPREP_THREAD_INDEX(i, count * n);
    const int64_t img = i / count, c = (i % count) / k_count, k = i % k_count;
    parts[i] = ChainGrad(g + img * g_n + c * g_c, int64_t{1}, src + img * src_n + off[k], rs, h, w);
  }
};

// out[i] = ((P_0 + P_1) + P_2) + ... over the images in order.
struct CombinePartsK {
  const float* parts;
  float* out;
  int n;
  int64_t count;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, count);
    float acc = n > 0 ? parts[i] : 0.0f;
    for (int j = 1; j < n; ++j) acc = acc + parts[j * count + i];
    out[i] = acc;
  }
};

// ---------------------------------------------------------------- channel and tensor sums

// What a sum adds at element e of an (N, C, H, W) tensor (channel k, position i).
enum class SumTerm : int {
  kValue,          // a[e]
  kSquaredDiff,    // (a[e] - b[k])^2: BatchNorm's variance, b the means
  kProduct,        // a[e] * b[e]
  kProductTarget,  // a[e] * (labels[n][i] == k)
  kTarget,         // (labels[n][i] == k)
};

struct SumTerms {
  SumTerm term;
  const float* a;
  const float* b;
  const uint8_t* labels;
  int c;
  int64_t plane;
  PETPREP_HD_INLINE float At(int64_t img, int64_t k, int64_t i) const {
    const int64_t e = (img * c + k) * plane + i;
    switch (term) {
      case SumTerm::kValue:
        return a[e];
      case SumTerm::kSquaredDiff: {
        const float d = a[e] - b[k];
        return d * d;
      }
      case SumTerm::kProduct:
        return a[e] * b[e];
      case SumTerm::kProductTarget:
        return a[e] * (labels[img * plane + i] == k ? 1.0f : 0.0f);
      case SumTerm::kTarget:
        return labels[img * plane + i] == k ? 1.0f : 0.0f;
    }
    return 0.0f;
  }
};

// The terms of a sum; c and plane are filled in by the sum that uses them.
inline SumTerms Terms(SumTerm term, const float* a, const float* b = nullptr,
                      const uint8_t* labels = nullptr) {
  return SumTerms{term, a, b, labels, 0, 0};
}

// stripes[(p * 8) + j] = StripeSum of plane p (= n * C + k) for stripe j: one thread each.
struct PlaneStripesK {
  SumTerms f;
  int64_t planes;
  float* stripes;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, planes * 8);
    const int64_t p = i / 8, img = p / f.c, k = p % f.c;
    const int j = static_cast<int>(i % 8);
    const SumTerms terms = f;
    stripes[i] = StripeSum<float>(f.plane, j, [&](int64_t e) { return terms.At(img, k, e); });
  }
};

// A channel sum: sums[k] = the striped sums of channel k's planes added in image order.
struct ChannelCombineK {
  const float* stripes;
  int n, c;
  float* sums;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(k, c);
    float acc = 0.0f;
    for (int j = 0; j < n; ++j) {
      const float s = CombineStripes(stripes + (static_cast<int64_t>(j) * c + k) * 8);
      acc = j == 0 ? s : acc + s;
    }
    sums[k] = acc;
  }
};

// A tensor sum: *sum = the striped sums of every (n, c) plane added in (n, c) order. One
// thread: the combination is a sequential chain by definition.
struct TensorCombineK {
  const float* stripes;
  int64_t planes;
  float* sum;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, 1);
    (void)i;
    float acc = 0.0f;
    for (int64_t p = 0; p < planes; ++p) {
      const float s = CombineStripes(stripes + p * 8);
      acc = p == 0 ? s : acc + s;
    }
    *sum = acc;
  }
};

// ---------------------------------------------------------------- BatchNorm

// Per channel, from the channel sums: mean, and later the variance's consequences.
struct BatchNormMeanK {
  const float* sums;
  float* mean;
  int c;
  float count;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(k, c);
    mean[k] = sums[k] / count;
  }
};

struct BatchNormVarianceK {
  const float* sq_sums;
  const float* mean;
  float* inv_std;
  float* running_mean;
  float* running_var;
  int c;
  float count, eps, mom, keep;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(k, c);
    const float var = sq_sums[k] / count;
    inv_std[k] = 1.0f / sqrtf(var + eps);
    const float unbiased = count > 1.0f ? var * (count / (count - 1.0f)) : var;
    running_mean[k] = keep * running_mean[k] + mom * mean[k];
    running_var[k] = keep * running_var[k] + mom * unbiased;
  }
};

struct BatchNormApplyTrainK {
  const float* x;
  const float* mean;
  const float* inv_std;
  const float* gamma;
  const float* beta;
  float* xhat;
  float* y;
  int64_t total, plane;
  int c;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, total);
    const int64_t k = (e / plane) % c;
    const float xh = (x[e] - mean[k]) * inv_std[k];
    xhat[e] = xh;
    y[e] = gamma[k] * xh + beta[k];
  }
};

struct BatchNormEvalK {
  const float* x;
  const float* gamma;
  const float* beta;
  const float* running_mean;
  const float* running_var;
  float* y;
  int64_t total, plane;
  int c;
  float eps;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, total);
    const int64_t k = (e / plane) % c;
    const float inv = 1.0f / sqrtf(running_var[k] + eps);
    y[e] = BatchNormApply(x[e], running_mean[k], inv, gamma[k], beta[k]);
  }
};

struct BatchNormGradK {
  const float* dy;
  const float* xhat;
  const float* sb;  // dbeta
  const float* sg;  // dgamma
  const float* gamma;
  const float* inv_std;
  float* dx;
  int64_t total, plane;
  int c;
  float count;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, total);
    const int64_t k = (e / plane) % c;
    const float k1 = sb[k] / count, k2 = sg[k] / count, g = gamma[k] * inv_std[k];
    dx[e] = BatchNormGradInput(dy[e], xhat[e], k1, k2, g);
  }
};

// ---------------------------------------------------------------- losses

// Per pixel: the softmax cross-entropy loss and its gradient (ARITHMETIC.md).
struct SoftmaxPixelK {
  const float* z;
  const uint8_t* labels;
  float* loss;  // (N, 1, H, W)
  float* dz;
  int64_t pixels, plane;
  int c;
  float count;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, pixels);
    const int64_t img = e / plane, i = e % plane;
    const float* zp = z + img * c * plane + i;
    float m = zp[0];
    for (int k = 1; k < c; ++k) m = zp[k * plane] > m ? zp[k * plane] : m;
    float s = 0.0f;
    for (int k = 0; k < c; ++k) s = s + PetExp(zp[k * plane] - m);
    const int label = labels[e];
    loss[e] = (m + PetLog(s)) - zp[label * plane];
    float* d = dz + img * c * plane + i;
    for (int k = 0; k < c; ++k) {
      const float pk = PetExp(zp[k * plane] - m) / s;
      d[k * plane] = (k == label ? pk - 1.0f : pk) / count;
    }
  }
};

// out[0] = sum[0] / count.
struct MeanOfSumK {
  const float* sum;
  float* out;
  float count;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, 1);
    (void)i;
    out[0] = sum[0] / count;
  }
};

// Per element: the sigmoid and the BCE term.
struct BcePixelK {
  const float* z;
  const uint8_t* labels;
  float* prob;
  float* bce;
  int64_t total, plane;
  int c;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, total);
    const int64_t img = e / (c * plane), k = (e / plane) % c, i = e % plane;
    const float zz = z[e], tt = labels[img * plane + i] == k ? 1.0f : 0.0f;
    const float az = zz < 0.0f ? -zz : zz;
    prob[e] = 1.0f / (1.0f + PetExp(-zz));
    bce[e] = ((zz > 0.0f ? zz : 0.0f) - zz * tt) + PetLog(1.0f + PetExp(-az));
  }
};

// sums: [0] BCE, [1] intersection, [2] sum of p, [3] sum of t.
struct BceJaccardGradK {
  const float* prob;
  const uint8_t* labels;
  const float* sums;
  float* dz;
  int64_t total, plane;
  int c;
  float count;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(e, total);
    const int64_t img = e / (c * plane), k = (e / plane) % c, i = e % plane;
    const float inter = sums[1], s = sums[2] + sums[3];
    const float den = (s - inter) + 1.0f;
    const float den2 = den * den;
    const float p = prob[e], tt = labels[img * plane + i] == k ? 1.0f : 0.0f;
    const float djdp = (tt * den - (inter + 1.0f) * (1.0f - tt)) / den2;
    dz[e] = (p - tt) / count - djdp * (p * (1.0f - p));
  }
};

struct BceJaccardLossK {
  const float* sums;
  float* loss;
  float count;
  PETPREP_HD void operator()(const ThreadPos& t) const {
    PETPREP_THREAD_INDEX(i, 1);
    (void)i;
    const float inter = sums[1], s = sums[2] + sums[3];
    const float den = (s - inter) + 1.0f;
    const float jac = (inter + 1.0f) / den;
    loss[0] = sums[0] / count + (1.0f - jac);
  }
};

#undef PETPREP_THREAD_INDEX

}  // namespace petprep::gpu
