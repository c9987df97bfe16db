// MD5 and SHA-256 digests (OpenSSL EVP), streaming or one-shot, and hex formatting.
//
// MD5 is used only where the contract names it (the partition fold, the sample key);
// every integrity check uses SHA-256. A Hasher is not thread-safe; use one per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pipeline/core/read_file.h"
#include "pipeline/core/status.h"

namespace petprep {

using Md5Digest = std::array<uint8_t, 16>;
using Sha256Digest = std::array<uint8_t, 32>;

// Lower-case hex of `size` bytes.
std::string ToHex(const uint8_t* data, size_t size);
template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& digest) {
  return ToHex(digest.data(), N);
}

// Streaming digest. Update() any number of times, then Finish() once.
class Hasher {
 public:
  enum class Kind { kMd5, kSha256 };
  explicit Hasher(Kind kind);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Writes the digest (16 or 32 bytes) to `out`. REQUIRES: called once.
  void Finish(uint8_t* out);
  size_t digest_size() const { return kind_ == Kind::kMd5 ? 16 : 32; }

 private:
  Kind kind_;
  void* ctx_;  // EVP_MD_CTX
};

class Sha256 {
 public:
  Sha256() : h_(Hasher::Kind::kSha256) {}
  void Update(const void* data, size_t size) { h_.Update(data, size); }
  void Update(std::string_view data) { h_.Update(data); }
  Sha256Digest Finish() {
    Sha256Digest d;
    h_.Finish(d.data());
    return d;
  }

 private:
  Hasher h_;
};

class Md5 {
 public:
  Md5() : h_(Hasher::Kind::kMd5) {}
  void Update(const void* data, size_t size) { h_.Update(data, size); }
  void Update(std::string_view data) { h_.Update(data); }
  Md5Digest Finish() {
    Md5Digest d;
    h_.Finish(d.data());
    return d;
  }

 private:
  Hasher h_;
};

Md5Digest Md5Of(std::string_view data);
Sha256Digest Sha256Of(std::string_view data);
std::string Sha256Hex(std::string_view data);

// A pet's sample key: the first 8 bytes of MD5(pet_id) read big-endian. Every random draw
// about a sample is counted by this key, never by its position in a batch or a stream.
uint64_t SampleKeyOf(std::string_view pet_id);

// SHA-256 of a regular file's bytes, read in 1 MiB blocks, refused past `limit`.
Result<Sha256Digest> Sha256OfFile(const std::string& path, const FileLimit& limit);

}  // namespace petprep
