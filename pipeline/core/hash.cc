#include "pipeline/core/hash.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "pipeline/core/read_file.h"

namespace petprep {

std::string ToHex(const uint8_t* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

Hasher::Hasher(Kind kind) : kind_(kind), ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), kind == Kind::kMd5 ? EVP_md5() : EVP_sha256(),
                    nullptr);
}

Hasher::~Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Hasher::Update(const void* data, size_t size) {
  if (size > 0) EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

void Hasher::Finish(uint8_t* out) {
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len);
}

Md5Digest Md5Of(std::string_view data) {
  Md5 h;
  h.Update(data);
  return h.Finish();
}

Sha256Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

std::string Sha256Hex(std::string_view data) { return ToHex(Sha256Of(data)); }

uint64_t SampleKeyOf(std::string_view pet_id) {
  Md5Digest d = Md5Of(pet_id);
  uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | d[i];
  return key;
}

Result<Sha256Digest> Sha256OfFile(const std::string& path, const FileLimit& limit) {
  auto f = ReadableFile::Open(path, limit);
  if (!f.ok()) return f.status();
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    auto n = f->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    h.Update(buf.data(), *n);
  }
  return h.Finish();
}

}  // namespace petprep
