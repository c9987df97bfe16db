#include "pipeline/core/hash.h"

#include <gtest/gtest.h>

#include <string>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

std::string Md5Hex(const std::string& s) { return ToHex(Md5Of(s)); }

// RFC 1321, appendix A.5.
TEST(HashTest, Md5Rfc1321Vectors) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(Md5Hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(Md5Hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  std::string digits;
  for (int i = 0; i < 8; ++i) digits += "1234567890";
  EXPECT_EQ(Md5Hex(digits), "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(HashTest, Sha256KnownAnswers) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HashTest, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>((i * 7919) >> 3));
  for (size_t chunk : {1u, 3u, 64u, 1000u, 65537u}) {
    Sha256 sha;
    Md5 md5;
    for (size_t off = 0; off < data.size(); off += chunk) {
      size_t n = std::min(chunk, data.size() - off);
      sha.Update(data.data() + off, n);
      md5.Update(data.data() + off, n);
    }
    EXPECT_EQ(sha.Finish(), Sha256Of(data)) << "chunk " << chunk;
    EXPECT_EQ(md5.Finish(), Md5Of(data)) << "chunk " << chunk;
  }
}

TEST(HashTest, Sha256OfFileMatchesBytes) {
  testing::TempDir dir;
  std::string data(3 << 20, 'x');
  data[12345] = 'y';
  ASSERT_TRUE(WriteFileAtomic(dir / "f", data).ok());
  auto digest = Sha256OfFile(dir / "f", kArchiveFileLimit);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, Sha256Of(data));
  auto missing = Sha256OfFile(dir / "nope", kArchiveFileLimit);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir / "nope"), std::string::npos);
}

// The first 8 bytes of MD5 read big-endian; the values come from Python's hashlib.
TEST(HashTest, SampleKeyIsMd5PrefixBigEndian) {
  EXPECT_EQ(SampleKeyOf("Abyssinian_1"), 0x4f51e517a08d6f38ull);
  EXPECT_EQ(SampleKeyOf("Abyssinian_2"), 0xe148ecfa15c0dd9cull);
}

TEST(HashTest, ToHexIsLowerCase) {
  const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(ToHex(bytes, 4), "000fa0ff");
}

}  // namespace
}  // namespace petprep
