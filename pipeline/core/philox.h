// Philox4x32-10 (Salmon et al., Random123) and petprep's one scheme for every random draw.
//
// The scheme: the key comes from (seed, purpose), the counter from (sample key, epoch,
// draw block); never from a thread, a worker, a batch position or an arrival order.
//   key     = words 0,1 of Philox(counter = {purpose, 0, 0, 0}, key = {seed lo, seed hi})
//   counter = {sample lo, sample hi, epoch, block}
// Each block gives four 32-bit words; a PhiloxStream hands them out in order, so draw d of a
// stream is word d % 4 of block d / 4. Derived values use exact integer rules (no std::
// distributions, whose output differs between standard libraries):
//   uniform float in [0, 1):  (u >> 8) * 2^-24                (24 bits, exact in float)
//   integer in [0, n):        (u * n) >> 32 over 64-bit        (multiply-shift)
// All functions are PETPREP_HD and thread-safe (pure).
#pragma once

#include <cstdint>

#include "pipeline/core/hd.h"

namespace petprep {

struct PhiloxCounter {
  uint32_t v[4];
};
struct PhiloxKey {
  uint32_t v[2];
};

// The purposes a key is derived for; values are part of the format and never reused.
enum class RandomPurpose : uint32_t {
  kSynth = 1,    // synthetic dataset content
  kShuffle = 2,  // epoch order
  kAugment = 3,  // augmentation parameters
  kDropout = 4,  // dropout masks
  kInit = 5,     // weight initialisation
};

PETPREP_HD_INLINE void PhiloxMulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

// Philox4x32 with 10 rounds.
PETPREP_HD_INLINE PhiloxCounter Philox4x32_10(PhiloxCounter c, PhiloxKey k) {
  const uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  const uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k.v[0] += kW0;
      k.v[1] += kW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    PhiloxMulHiLo(kM0, c.v[0], &hi0, &lo0);
    PhiloxMulHiLo(kM1, c.v[2], &hi1, &lo1);
    PhiloxCounter n;
    n.v[0] = hi1 ^ c.v[1] ^ k.v[0];
    n.v[1] = lo1;
    n.v[2] = hi0 ^ c.v[3] ^ k.v[1];
    n.v[3] = lo0;
    c = n;
  }
  return c;
}

PETPREP_HD_INLINE PhiloxKey DeriveKey(uint64_t seed, RandomPurpose purpose) {
  PhiloxCounter c = {{static_cast<uint32_t>(purpose), 0u, 0u, 0u}};
  PhiloxKey k = {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  PhiloxCounter r = Philox4x32_10(c, k);
  return PhiloxKey{{r.v[0], r.v[1]}};
}

PETPREP_HD_INLINE float UniformFloat(uint32_t u) {
  return static_cast<float>(u >> 8) * (1.0f / 16777216.0f);
}

PETPREP_HD_INLINE uint32_t BoundedInt(uint32_t u, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(u) * n) >> 32);
}

// Draws in order from the blocks of one (key, sample, epoch).
class PhiloxStream {
 public:
  PETPREP_HD PhiloxStream(PhiloxKey key, uint64_t sample, uint32_t epoch, uint32_t first_block = 0)
      : key_(key), sample_(sample), epoch_(epoch), block_(first_block), used_(4) {}

  PETPREP_HD uint32_t NextU32() {
    if (used_ == 4) {
      PhiloxCounter c = {
          {static_cast<uint32_t>(sample_), static_cast<uint32_t>(sample_ >> 32), epoch_, block_++}};
      buf_ = Philox4x32_10(c, key_);
      used_ = 0;
    }
    return buf_.v[used_++];
  }
  // Uniform in [0, 1).
  PETPREP_HD float Uniform() { return UniformFloat(NextU32()); }
  // Uniform in [lo, hi).
  PETPREP_HD float Uniform(float lo, float hi) { return lo + (hi - lo) * Uniform(); }
  // Integer in [0, n). REQUIRES: n > 0.
  PETPREP_HD uint32_t Below(uint32_t n) { return BoundedInt(NextU32(), n); }
  // Integer in [lo, hi] inclusive. REQUIRES: lo <= hi.
  PETPREP_HD int Between(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<uint32_t>(hi - lo + 1)));
  }
  PETPREP_HD bool Bernoulli(float p) { return Uniform() < p; }

 private:
  PhiloxKey key_;
  uint64_t sample_;
  uint32_t epoch_;
  uint32_t block_;
  uint32_t used_;
  PhiloxCounter buf_ = {{0, 0, 0, 0}};
};

}  // namespace petprep
