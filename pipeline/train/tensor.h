// Tensor: a dense NCHW array of float (or double, for the gradient checks), 64-byte aligned.
//
// A Tensor owns its storage; copying copies the data. Shapes are (n, c, h, w); a vector is
// (n, 1, 1, 1) by convention. Not thread-safe for concurrent writes of the same elements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/core/hash.h"

namespace petprep {

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}  // NOLINT: rebinding
  T* allocate(size_t n) {
    size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  // Default-initialisation: growing a tensor whose every element is written next does not
  // zero it first.
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const AlignedAllocator<U>&) const {
    return false;
  }
};

template <typename T>
class TensorT {
 public:
  TensorT() = default;
  TensorT(int n, int c, int h, int w) { Resize(n, c, h, w); }

  // Sets the shape; the contents are zero afterwards.
  void Resize(int n, int c, int h, int w) {
    n_ = n;
    c_ = c;
    h_ = h;
    w_ = w;
    data_.assign(static_cast<size_t>(n) * c * h * w, T(0));
  }
  // Sets the shape for an op that writes every element: the contents are unspecified until
  // then (an unchanged size keeps the storage).
  void Reshape(int n, int c, int h, int w) {
    n_ = n;
    c_ = c;
    h_ = h;
    w_ = w;
    data_.resize(static_cast<size_t>(n) * c * h * w);
  }
  void Zero() { data_.assign(data_.size(), T(0)); }
  bool SameShape(const TensorT& o) const {
    return n_ == o.n_ && c_ == o.c_ && h_ == o.h_ && w_ == o.w_;
  }

  int n() const { return n_; }
  int c() const { return c_; }
  int h() const { return h_; }
  int w() const { return w_; }
  size_t size() const { return data_.size(); }
  size_t plane() const { return static_cast<size_t>(h_) * w_; }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T& at(int n, int c, int y, int x) {
    return data_[((static_cast<size_t>(n) * c_ + c) * h_ + y) * w_ + x];
  }
  const T& at(int n, int c, int y, int x) const {
    return data_[((static_cast<size_t>(n) * c_ + c) * h_ + y) * w_ + x];
  }
  // "NxCxHxW"
  std::string ShapeString() const {
    return std::to_string(n_) + "x" + std::to_string(c_) + "x" + std::to_string(h_) + "x" +
           std::to_string(w_);
  }

 private:
  int n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  std::vector<T, AlignedAllocator<T>> data_;
};

using Tensor = TensorT<float>;
using TensorD = TensorT<double>;

// Adds the tensor's bytes (little-endian IEEE) to a hash.
inline void HashTensor(const Tensor& t, Sha256* h) {
  h->Update(t.data(), t.size() * sizeof(float));
}

}  // namespace petprep
