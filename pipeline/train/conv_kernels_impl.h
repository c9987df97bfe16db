// The blocked bodies of the dot and gradient chains for one vector type V; included by
// conv_kernels_{scalar,avx2,avx512}.cc inside an anonymous namespace, each with its own V:
//   V::R          the register type, L floats wide (V::kL)
//   V::Load(p)    L floats from p (unaligned)
//   V::Set1(x)    x in every lane
//   V::Fma(a,b,c) lane-wise a * b + c rounded once
//   V::Store(p,r) L floats to p (unaligned)
// and its blocking: kDotCo output channels by kDotXv vectors of pixels for the dot,
// kGradK k values by kGradCv vectors of channels for the gradient.
// Each lane runs exactly the chain of kernels.h for its own output, so every V gives the
// same bits. No library code is used here: this file is compiled for several ISAs.

// One scalar lane, for the tails of every V.
struct V1 {
  using R = float;
  static constexpr int kL = 1;
  static R Load(const float* p) { return *p; }
  static R Set1(float x) { return x; }
  static R Fma(R a, R b, R c) { return __builtin_fmaf(a, b, c); }
  static void Store(float* p, R r) { *p = r; }
};

// Outputs co0..co0+CO-1 at row y, pixels x0..x0+XV*L-1.
template <typename W, int CO, int XV>
inline void DotTile(const DotPlan<float>& p, const float* src, float* out, int co0, int y, int x0) {
  using R = typename W::R;
  constexpr int L = W::kL;
  R acc[CO][XV];
  for (int c = 0; c < CO; ++c) {
    float init = p.init != nullptr ? p.init[co0 + c] : 0.0f;
    for (int j = 0; j < XV; ++j) acc[c][j] = W::Set1(init);
  }
  const float* s = src + y * p.rs + x0;
  const float* wr = p.w + static_cast<int64_t>(co0) * p.k_count;
  const int64_t kc = p.k_count;
  for (int64_t k = 0; k < kc; ++k) {
    const float* sk = s + p.off[k];
    R sv[XV];
    for (int j = 0; j < XV; ++j) sv[j] = W::Load(sk + j * L);
    for (int c = 0; c < CO; ++c) {
      R wv = W::Set1(wr[c * kc + k]);
      for (int j = 0; j < XV; ++j) acc[c][j] = W::Fma(wv, sv[j], acc[c][j]);
    }
  }
  const int64_t plane = static_cast<int64_t>(p.h) * p.w_out;
  for (int c = 0; c < CO; ++c) {
    float* o = out + (co0 + c) * plane + static_cast<int64_t>(y) * p.w_out + x0;
    for (int j = 0; j < XV; ++j) W::Store(o + j * L, acc[c][j]);
  }
}

template <typename V, int CO>
inline void DotRow(const DotPlan<float>& p, const float* src, float* out, int co0, int y) {
  constexpr int kWide = V::kDotXv * V::kL;
  int x = 0;
  for (; x + kWide <= p.w_out; x += kWide) DotTile<V, CO, V::kDotXv>(p, src, out, co0, y, x);
  for (; x + V::kL <= p.w_out; x += V::kL) DotTile<V, CO, 1>(p, src, out, co0, y, x);
  for (; x < p.w_out; ++x) DotTile<V1, CO, 1>(p, src, out, co0, y, x);
}

template <typename V, int CO>
inline void DotRowTail(int rem, const DotPlan<float>& p, const float* src, float* out, int co0,
                       int y) {
  if constexpr (CO > 0) {
    if (rem == CO) {
      DotRow<V, CO>(p, src, out, co0, y);
    } else {
      DotRowTail<V, CO - 1>(rem, p, src, out, co0, y);
    }
  }
}

template <typename V>
inline void DotBlock(const DotPlan<float>& p, int n, int co0, int co1, int y0, int y1) {
  const float* src = p.src + n * p.src_n;
  float* out = p.out + n * p.out_n;
  for (int y = y0; y < y1; ++y) {
    int co = co0;
    for (; co + V::kDotCo <= co1; co += V::kDotCo) DotRow<V, V::kDotCo>(p, src, out, co, y);
    if (co < co1) DotRowTail<V, V::kDotCo - 1>(co1 - co, p, src, out, co, y);
  }
}

// Partial gradients of channels c0..c0+CV*L-1 (those below c_end stored) and k0..k0+KB-1.
template <typename W, int KB, int CV>
inline void GradTile(const GradPlan<float>& p, const float* g, const float* src, int c0, int c_end,
                     int k0, float* part) {
  using R = typename W::R;
  constexpr int L = W::kL;
  R acc[KB][CV];
  for (int j = 0; j < KB; ++j) {
    for (int v = 0; v < CV; ++v) acc[j][v] = W::Set1(0.0f);
  }
  const float* sk[KB];
  for (int j = 0; j < KB; ++j) sk[j] = src + p.off[k0 + j];
  for (int y = 0; y < p.h; ++y) {
    const float* gy = g + static_cast<int64_t>(y) * p.w * p.gs + c0;
    const int64_t ry = y * p.rs;
    for (int x = 0; x < p.w; ++x) {
      const float* gp = gy + x * p.gs;
      R gv[CV];
      for (int v = 0; v < CV; ++v) gv[v] = W::Load(gp + v * L);
      for (int j = 0; j < KB; ++j) {
        R sv = W::Set1(sk[j][ry + x]);
        for (int v = 0; v < CV; ++v) acc[j][v] = W::Fma(gv[v], sv, acc[j][v]);
      }
    }
  }
  float lanes[CV * L];
  for (int j = 0; j < KB; ++j) {
    for (int v = 0; v < CV; ++v) W::Store(lanes + v * L, acc[j][v]);
    for (int l = 0; l < CV * L && c0 + l < c_end; ++l) {
      part[static_cast<int64_t>(c0 + l) * p.k_count + k0 + j] = lanes[l];
    }
  }
}

template <typename V, int KB, int CV>
inline void GradTail(int rem, const GradPlan<float>& p, const float* g, const float* src, int c0,
                     int c_end, int k0, float* part) {
  if constexpr (KB > 0) {
    if (rem == KB) {
      GradTile<V, KB, CV>(p, g, src, c0, c_end, k0, part);
    } else {
      GradTail<V, KB - 1, CV>(rem, p, g, src, c0, c_end, k0, part);
    }
  }
}

// Channels c0.. of every k in k0..k1-1, CV vectors of channels at a time.
template <typename V, int CV>
inline void GradChannels(const GradPlan<float>& p, const float* g, const float* src, int c0,
                         int c_end, int k0, int k1, float* part) {
  int k = k0;
  for (; k + V::kGradK <= k1; k += V::kGradK) {
    GradTile<V, V::kGradK, CV>(p, g, src, c0, c_end, k, part);
  }
  if (k < k1) GradTail<V, V::kGradK - 1, CV>(k1 - k, p, g, src, c0, c_end, k, part);
}

// The wide tile (kGradCv vectors of channels) where it would leave less than one vector unused,
// else one vector at a time: which tile computes a lane never changes its value.
template <typename V>
inline void GradBlock(const GradPlan<float>& p, int n, int c0, int c1, int k0, int k1,
                      float* part) {
  const float* g = p.g + n * p.g_n;
  const float* src = p.src + n * p.src_n;
  constexpr int kCw = V::kGradCv * V::kL;
  int c = c0;
  for (; c1 - c > kCw - V::kL; c += kCw) {
    GradChannels<V, V::kGradCv>(p, g, src, c, c1, k0, k1, part);
  }
  for (; c < c1; c += V::kL) GradChannels<V, 1>(p, g, src, c, c1, k0, k1, part);
}
