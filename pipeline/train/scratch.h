// Temporaries of the CPU ops (padded copies, channels-last transposes, gradient partials) taken
// from a pool of the calling thread and given back at the end of their scope, so that a training
// step reuses the memory of the step before instead of asking the system for fresh pages (and
// having them zero-filled) on every call. Contents on taking are unspecified. Taking and giving
// back are re-entrant: an op that a waiting thread picks up inside another op's parallel loop
// takes its own buffers.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace petprep {

template <typename T>
class Scratch {
 public:
  explicit Scratch(size_t count) : count_(count) {
    std::vector<std::vector<T>>& pool = Pool();
    // The smallest pooled buffer that holds `count`; else the largest, grown.
    size_t pick = pool.size();
    for (size_t i = 0; i < pool.size(); ++i) {
      const size_t have = pool[i].size();
      if (pick == pool.size()) {
        pick = i;
        continue;
      }
      const size_t best = pool[pick].size();
      const bool fits = have >= count, best_fits = best >= count;
      if ((fits && (!best_fits || have < best)) || (!fits && !best_fits && have > best)) pick = i;
    }
    if (pick < pool.size()) {
      buf_ = std::move(pool[pick]);
      pool[pick] = std::move(pool.back());
      pool.pop_back();
    }
    if (buf_.size() < count) {
      buf_ = std::vector<T>();  // give the old memory back before taking the larger
      buf_.resize(count);
    }
  }
  ~Scratch() {
    std::vector<std::vector<T>>& pool = Pool();
    if (pool.size() < kMaxPooled) pool.push_back(std::move(buf_));
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  T* data() { return buf_.data(); }
  const T* data() const { return buf_.data(); }
  size_t size() const { return count_; }

 private:
  static constexpr size_t kMaxPooled = 16;
  static std::vector<std::vector<T>>& Pool() {
    static thread_local std::vector<std::vector<T>> pool;
    return pool;
  }
  std::vector<T> buf_;
  size_t count_;
};

}  // namespace petprep
