#include "pipeline/provenance/provenance.h"

#include <gtest/gtest.h>

namespace petprep {
namespace {

TEST(ProvenanceTest, NamesEveryLibraryWithAVersion) {
  Provenance p = CollectProvenance();
  std::vector<std::string> want = {"OpenCV",   "libjpeg-turbo", "libpng",    "libtiff",
                                   "giflib",   "zlib",          "OpenSSL",   "oneTBB",
                                   "protobuf", "libcurl",       "libarchive"};
  for (const std::string& name : want) {
    bool found = false;
    for (const auto& [n, v] : p.libraries) {
      if (n != name) continue;
      found = true;
      EXPECT_FALSE(v.empty()) << name;
      EXPECT_NE(v.find_first_of("0123456789"), std::string::npos) << name << ": " << v;
    }
    EXPECT_TRUE(found) << name;
  }
  EXPECT_FALSE(p.version.empty());
  EXPECT_GT(p.threads, 0);
}

TEST(ProvenanceTest, TextEndsWithTheCudaLine) {
  Provenance p = CollectProvenance();
  std::string text = ProvenanceText(p);
  size_t last = text.rfind("\nCUDA: ");
  ASSERT_NE(last, std::string::npos) << text;
  EXPECT_EQ(text.find('\n', last + 1), text.size() - 1) << "the CUDA line is last";
  auto j = ProvenanceJson(p);
  EXPECT_EQ(j["cuda"]["status"], p.cuda);
  EXPECT_TRUE(j["libraries"].contains("oneTBB"));
  EXPECT_FALSE(ToolVersionsJson(p).contains("cpu"))
      << "tool versions hold nothing machine-specific";
}

}  // namespace
}  // namespace petprep
