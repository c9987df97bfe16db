#include "pipeline/dataset/verify.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipeline/core/atomic_file.h"
#include "pipeline/dataset/partition.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

namespace fs = std::filesystem;

class VerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    data_ = testing::MakePetset(dir_->path(), 30, 2, false);
  }
  static void TearDownTestSuite() { delete dir_; }
  // A fresh dataset beside the shared petset.
  std::string Fresh(const std::string& name) {
    PartitionOptions o;
    o.input = data_ + "/petset";
    o.output = data_ + "/" + name;
    o.size = 48;
    o.shard_records = 8;
    auto r = Partition(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    fingerprint_ = r->fingerprint;
    return o.output;
  }
  static testing::TempDir* dir_;
  static std::string data_;
  std::string fingerprint_;
};
testing::TempDir* VerifyTest::dir_ = nullptr;
std::string VerifyTest::data_;

TEST_F(VerifyTest, AnUntouchedDatasetVerifies) {
  std::string ds = Fresh("ok");
  auto r = VerifyDataset(ds, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->problems.empty()) << r->problems[0];
  EXPECT_EQ(r->fingerprint, fingerprint_);
  EXPECT_EQ(r->records_checked, 30);
  auto cli = testing::RunPetprep("-q verify " + ds);
  EXPECT_EQ(cli.exit_code, 0);
  EXPECT_EQ(cli.out, "dataset verified: " + fingerprint_ + "\n");
}

TEST_F(VerifyTest, AFlippedByteNamesTheShard) {
  std::string ds = Fresh("flip");
  std::string shard = ds + "/train/shard-00001.rec";
  std::string bytes = *ReadFile(shard);
  bytes[bytes.size() / 2] ^= 0x20;
  ASSERT_TRUE(WriteFileAtomic(shard, bytes).ok());
  auto r = VerifyDataset(ds, false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_EQ(r->problems[0].rfind("changed: train/shard-00001.rec", 0), 0u) << r->problems[0];
  auto deep = VerifyDataset(ds, true);
  bool crc = false;
  for (const auto& p : deep->problems) crc |= p.find("CRC") != std::string::npos;
  EXPECT_TRUE(crc) << "deep mode reads the frames";
  auto cli = testing::RunPetprep("-q verify " + ds);
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.out.find("train/shard-00001.rec"), std::string::npos) << cli.out;
}

TEST_F(VerifyTest, MissingAndExtraFilesAreNamed) {
  std::string ds = Fresh("gone");
  fs::remove(ds + "/test/shard-00000.rec");
  ASSERT_TRUE(WriteFileAtomic(ds + "/train/notes.txt", "x").ok());
  auto r = VerifyDataset(ds, false);
  ASSERT_TRUE(r.ok());
  std::string all;
  for (const auto& p : r->problems) all += p + "\n";
  EXPECT_NE(all.find("missing: test/shard-00000.rec"), std::string::npos) << all;
  EXPECT_NE(all.find("extra: train/notes.txt"), std::string::npos) << all;
}

TEST_F(VerifyTest, AnEditedManifestOrSourceIsCaught) {
  std::string ds = Fresh("edit");
  std::string text = *ReadFile(ds + "/manifest.json");
  size_t at = text.find("\"size\": 48");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 10, "\"size\": 49");
  ASSERT_TRUE(WriteFileAtomic(ds + "/manifest.json", text).ok());
  auto r = VerifyDataset(ds, false);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->problems.empty());
  EXPECT_NE(r->problems[0].find("manifest.json"), std::string::npos);

  std::string ds2 = Fresh("source");
  std::string meta = data_ + "/petset/Bengal_1/mask.tiff";
  std::string saved = *ReadFile(meta);
  std::string changed = saved;
  changed[changed.size() - 1] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(meta, changed).ok());
  auto deep = VerifyDataset(ds2, true);
  ASSERT_TRUE(WriteFileAtomic(meta, saved).ok());
  ASSERT_TRUE(deep.ok());
  ASSERT_EQ(deep->problems.size(), 1u);
  EXPECT_NE(deep->problems[0].find("changed source: " + meta), std::string::npos)
      << deep->problems[0];
}

// Every count a reader is shown is checked against the records: an edited per-class,
// per-split or total count fails verify, naming the key.
TEST_F(VerifyTest, AnEditedCountIsCaught) {
  const std::string ds = Fresh("counts");
  const std::string original = *ReadFile(ds + "/manifest.json");
  const nlohmann::json m = nlohmann::json::parse(original);
  const std::string cls = m["counts"]["per_class"]["train"].begin().key();
  struct Edit {
    std::vector<std::string> path;
    std::string key;
  };
  const std::vector<Edit> edits = {
      {{"per_class", "train", cls}, "counts.per_class.train." + cls},
      {{"per_split", "train"}, "counts.per_split.train"},
      {{"records"}, "counts.records"},
  };
  for (const Edit& e : edits) {
    nlohmann::json edited = m;
    nlohmann::json* at = &edited["counts"];
    for (const std::string& k : e.path) at = &(*at)[k];
    *at = at->get<int>() + 1;
    ASSERT_TRUE(WriteFileAtomic(ds + "/manifest.json", edited.dump(2)).ok());
    auto r = VerifyDataset(ds, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->problems.size(), 1u) << e.key;
    EXPECT_EQ(r->problems[0].rfind("changed: manifest.json " + e.key + " says ", 0), 0u)
        << r->problems[0];
  }
  // A class counted that no record has.
  nlohmann::json extra = m;
  extra["counts"]["per_class"]["train"]["99"] = 1;
  ASSERT_TRUE(WriteFileAtomic(ds + "/manifest.json", extra.dump(2)).ok());
  auto r = VerifyDataset(ds, false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_NE(r->problems[0].find("counts.per_class.train.99 says 1, the records hold 0"),
            std::string::npos)
      << r->problems[0];
  ASSERT_TRUE(WriteFileAtomic(ds + "/manifest.json", original).ok());
  auto back = VerifyDataset(ds, false);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->problems.empty());
}

TEST_F(VerifyTest, NotADataset) {
  auto r = VerifyDataset(data_ + "/petset", false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("manifest.json"), std::string::npos);
  EXPECT_EQ(testing::RunPetprep("-q verify " + data_ + "/nothing").exit_code, 1);
}

}  // namespace
}  // namespace petprep
