// Tensor: a dense NCHW array of float (or double, for the gradient checks), 64-byte aligned.
//
// A Tensor owns its storage (or is a view of a backend's, see View); copying copies the data.
// Shapes are (n, c, h, w); a vector is (n, 1, 1, 1) by convention. Not thread-safe for concurrent
// writes of the same elements.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
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
  TensorT(const TensorT& o) { CopyFrom(o); }
  TensorT& operator=(const TensorT& o) {
    if (this != &o) CopyFrom(o);
    return *this;
  }
  TensorT(TensorT&& o) noexcept { MoveFrom(o); }
  TensorT& operator=(TensorT&& o) noexcept {
    if (this != &o) MoveFrom(o);
    return *this;
  }

  // A tensor over memory it does not own (a backend's buffer): its element count is fixed, and
  // Resize / Reshape REQUIRE the same count. Copying a view copies the data into an owner.
  static TensorT View(T* data, int n, int c, int h, int w) {
    TensorT t;
    t.n_ = n;
    t.c_ = c;
    t.h_ = h;
    t.w_ = w;
    t.ptr_ = data;
    t.size_ = static_cast<size_t>(n) * c * h * w;
    t.view_ = true;
    return t;
  }

  // Sets the shape; the contents are zero afterwards.
  void Resize(int n, int c, int h, int w) {
    SetShape(n, c, h, w);
    if (view_) {
      std::fill(ptr_, ptr_ + size_, T(0));
    } else {
      data_.assign(size_, T(0));
      ptr_ = data_.data();
    }
  }
  // Sets the shape for an op that writes every element: the contents are unspecified until
  // then (an unchanged size keeps the storage).
  void Reshape(int n, int c, int h, int w) {
    SetShape(n, c, h, w);
    if (!view_) {
      data_.resize(size_);
      ptr_ = data_.data();
    }
  }
  void Zero() { std::fill(ptr_, ptr_ + size_, T(0)); }
  bool SameShape(const TensorT& o) const {
    return n_ == o.n_ && c_ == o.c_ && h_ == o.h_ && w_ == o.w_;
  }

  int n() const { return n_; }
  int c() const { return c_; }
  int h() const { return h_; }
  int w() const { return w_; }
  size_t size() const { return size_; }
  size_t plane() const { return static_cast<size_t>(h_) * w_; }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  T& operator[](size_t i) { return ptr_[i]; }
  const T& operator[](size_t i) const { return ptr_[i]; }
  T& at(int n, int c, int y, int x) {
    return ptr_[((static_cast<size_t>(n) * c_ + c) * h_ + y) * w_ + x];
  }
  const T& at(int n, int c, int y, int x) const {
    return ptr_[((static_cast<size_t>(n) * c_ + c) * h_ + y) * w_ + x];
  }
  // "NxCxHxW"
  std::string ShapeString() const {
    return std::to_string(n_) + "x" + std::to_string(c_) + "x" + std::to_string(h_) + "x" +
           std::to_string(w_);
  }

 private:
  void SetShape(int n, int c, int h, int w) {
    const size_t size = static_cast<size_t>(n) * c * h * w;
    if (view_ && size != size_) {
      std::fprintf(stderr,
                   "petprep: internal error: a tensor view of %zu elements reshaped to %s\n", size_,
                   (std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" +
                    std::to_string(w))
                       .c_str());
      std::abort();
    }
    n_ = n;
    c_ = c;
    h_ = h;
    w_ = w;
    size_ = size;
  }
  void CopyFrom(const TensorT& o) {
    n_ = o.n_;
    c_ = o.c_;
    h_ = o.h_;
    w_ = o.w_;
    size_ = o.size_;
    view_ = false;
    data_.assign(o.ptr_, o.ptr_ + o.size_);
    ptr_ = data_.data();
  }
  void MoveFrom(TensorT& o) {
    n_ = o.n_;
    c_ = o.c_;
    h_ = o.h_;
    w_ = o.w_;
    size_ = o.size_;
    view_ = o.view_;
    data_ = std::move(o.data_);
    ptr_ = view_ ? o.ptr_ : data_.data();
    o.n_ = o.c_ = o.h_ = o.w_ = 0;
    o.size_ = 0;
    o.ptr_ = nullptr;
    o.view_ = false;
    o.data_.clear();
  }

  int n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  size_t size_ = 0;
  T* ptr_ = nullptr;
  bool view_ = false;
  std::vector<T, AlignedAllocator<T>> data_;
};

using Tensor = TensorT<float>;
using TensorD = TensorT<double>;

// Adds the tensor's bytes (little-endian IEEE) to a hash.
inline void HashTensor(const Tensor& t, Sha256* h) {
  h->Update(t.data(), t.size() * sizeof(float));
}

}  // namespace petprep
