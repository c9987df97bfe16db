#include "pipeline/dataset/partition.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/dataset/resize.h"
#include "pipeline/dataset/synth.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

namespace fs = std::filesystem;

TEST(FoldTest, KnownAnswers) {
  EXPECT_EQ(FoldOf("Abyssinian_1"), 8);
  EXPECT_EQ(FoldOf("Abyssinian_2"), 2);
  EXPECT_EQ(FoldOf("Abyssinian_34"), 9);
  EXPECT_EQ(FoldOf("Bengal_1"), 7);
  EXPECT_EQ(FoldOf("staffordshire_bull_terrier_2"), 7);
  EXPECT_EQ(FoldOf("beagle_116"), 8);
  EXPECT_EQ(FoldOf("american_bulldog_8"), 8);
  EXPECT_EQ(FoldOf("Abyssinian_1.jpg"), 3) << "the file name is the wrong key";
}

// An independent computation: long division of the hex digest's digits by 10, and the
// digest as an unsigned 128-bit number.
TEST(PetIdTest, UnicodeAndCaseAreKeptTheCharactersThatBreakFilesAreRefused) {
  for (const char* good : {"Abyssinian_1", "Café_1", "日本猫_1", "Abyssinian-1", "a b", "x'y"}) {
    EXPECT_TRUE(CheckPetId(good).ok()) << good;
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"a\nb", "U+000A, a control character"},
      {std::string("a\0b", 3), "U+0000"},
      {"a\x1f", "U+001F"},
      {"a\x7f", "U+007F"},
      {"a/b", "U+002F '/'"},
      {"a\\b", "U+005C"},
      {"a,b", "U+002C ','"},
      {"a\"b", "U+0022"},
      {"", "an empty pet id"}};
  for (const auto& [id, says] : bad) {
    const Status s = CheckPetId(id);
    ASSERT_FALSE(s.ok()) << id;
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
  }
}

TEST(FoldTest, TenThousandIdsAgreeWithIndependentArithmetic) {
  std::mt19937 rng(12345);
  const char* alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789é";
  std::string chars = alphabet;
  for (int n = 0; n < 10000; ++n) {
    std::string id;
    int len = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < len; ++i) id += chars[rng() % chars.size()];
    std::string hex = ToHex(Md5Of(id));
    int r = 0;
    for (char c : hex) r = (r * 16 + (c <= '9' ? c - '0' : c - 'a' + 10)) % 10;
    unsigned __int128 v = 0;
    for (uint8_t b : Md5Of(id)) v = (v << 8) | b;
    ASSERT_EQ(FoldOf(id), r) << id;
    ASSERT_EQ(FoldOf(id), static_cast<int>(v % 10)) << id;
  }
}

TEST(SplitMapTest, BlogE2eAndSpecs) {
  auto blog = SplitMap::Parse("blog");
  ASSERT_TRUE(blog.ok());
  EXPECT_EQ(blog->Canonical(), "train=0-6,validation=7,calibration=8,test=9");
  EXPECT_EQ(blog->SplitOf(8), "calibration");
  auto e2e = SplitMap::Parse("e2e");
  ASSERT_TRUE(e2e.ok());
  EXPECT_EQ(e2e->SplitOf(8), "test");
  EXPECT_EQ(e2e->SplitOf(9), "calibration");
  EXPECT_EQ(e2e->splits(),
            (std::vector<std::string>{"train", "validation", "test", "calibration"}));
  auto spec = SplitMap::Parse("test=9,train=0-5+8,validation=6-7");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->Canonical(), "train=0-5+8,validation=6-7,test=9");
  for (const char* bad : {"train=0-6,validation=7", "train=0-7,validation=7-9", "Train=0-9",
                          "train=0-9,x", "train=9-0", "train=0-9,train=5", "nope"}) {
    auto r = SplitMap::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(bad), std::string::npos);
  }
}

TEST(SplitMapTest, SynthIdsSplitSeventyTenTenTen) {
  auto blog = SplitMap::Parse("blog");
  std::map<std::string, int> n;
  std::vector<std::string> ids = SynthPetIds(2000);
  for (const std::string& id : ids) ++n[blog->SplitOf(FoldOf(id))];
  EXPECT_NEAR(n["train"] / 2000.0, 0.70, 0.025);
  EXPECT_NEAR(n["validation"] / 2000.0, 0.10, 0.025);
  EXPECT_NEAR(n["calibration"] / 2000.0, 0.10, 0.025);
  EXPECT_NEAR(n["test"] / 2000.0, 0.10, 0.025);
}

TEST(CodecTest, Parse) {
  EXPECT_EQ(Codec::Parse("png")->ToString(), "png");
  EXPECT_EQ(Codec::Parse("raw")->ToString(), "raw");
  EXPECT_EQ(Codec::Parse("jpeg:90")->quality, 90);
  for (const char* bad : {"jpeg", "jpeg:0", "jpeg:101", "jpeg:9x", "webp"}) {
    EXPECT_FALSE(Codec::Parse(bad).ok()) << bad;
  }
}

class PartitionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    data_ = testing::MakePetset(dir_->path(), 50, 4, true);
  }
  static void TearDownTestSuite() { delete dir_; }
  static PartitionOptions Options(const std::string& out, int jobs) {
    PartitionOptions o;
    o.input = data_ + "/petset";
    o.output = out;
    o.size = 64;
    o.shard_records = 7;
    o.jobs = jobs;
    return o;
  }
  static std::string TreeOf(const std::string& dir) {
    std::string all;
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.is_regular_file()) files.push_back(fs::relative(e.path(), dir).string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) all += f + " " + Sha256Hex(*ReadFile(dir + "/" + f)) + "\n";
    return all;
  }
  static testing::TempDir* dir_;
  static std::string data_;
};
testing::TempDir* PartitionTest::dir_ = nullptr;
std::string PartitionTest::data_;

TEST_F(PartitionTest, SameBytesForAnyJobsAndOnARerun) {
  testing::TempDir out;
  std::string tree, fingerprint;
  for (int jobs : {1, 2, 8}) {
    PartitionOptions o = Options(out / ("j" + std::to_string(jobs)), jobs);
    auto r = Partition(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string t = TreeOf(o.output);
    if (tree.empty()) {
      tree = t;
      fingerprint = r->fingerprint;
    }
    EXPECT_EQ(t, tree) << "jobs " << jobs;
    EXPECT_EQ(r->fingerprint, fingerprint);
  }
  PartitionOptions again = Options(out / "j1", 2);
  EXPECT_EQ(Partition(again).status().code(), Status::Code::kAlreadyExists);
  again.force = true;
  auto r = Partition(again);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(TreeOf(again.output), tree) << "a forced rerun is identical";
  EXPECT_FALSE(fs::exists(again.output + ".partial"));

  PartitionOptions bigger = Options(out / "s", 2);
  bigger.size = 72;
  PartitionOptions e2e = Options(out / "e", 2);
  e2e.split_map = "e2e";
  PartitionOptions raw = Options(out / "r", 2);
  raw.codec = "raw";
  for (const auto& o : {bigger, e2e, raw}) {
    auto other = Partition(o);
    ASSERT_TRUE(other.ok());
    EXPECT_NE(other->fingerprint, fingerprint) << o.output;
  }
  nlohmann::json m = nlohmann::json::parse(*ReadFile(out / "j1/manifest.json"));
  EXPECT_EQ(m["fingerprint"], fingerprint);
  EXPECT_EQ(DatasetFingerprint(m), fingerprint);
  std::string text = *ReadFile(out / "j1/manifest.json");
  EXPECT_EQ(text.find(out.path()), std::string::npos) << "no path in the manifest";
  EXPECT_EQ(text.find("jobs"), std::string::npos);
}

TEST_F(PartitionTest, RecordsHoldTheResizedPetset) {
  testing::TempDir out;
  PartitionOptions o = Options(out / "ds", 2);
  auto r = Partition(o);
  ASSERT_TRUE(r.ok());
  auto reader = DatasetReader::Open(o.output);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  size_t pets = 0;
  for (const auto& e : fs::directory_iterator(data_ + "/petset")) pets += e.is_directory();
  size_t total = 0;
  std::string csv = "pet_id,fold,split\n";
  for (const std::string& split : (*reader)->splits()) {
    const SplitReader* s = *(*reader)->Split(split);
    std::string prev;
    for (size_t i = 0; i < s->size(); ++i) {
      auto rec = s->Read(i);
      ASSERT_TRUE(rec.ok()) << rec.status().ToString();
      EXPECT_EQ(rec->split(), split);
      EXPECT_EQ(static_cast<int>(rec->fold()), FoldOf(rec->pet_id()));
      EXPECT_LT(prev, rec->pet_id()) << "sorted by pet id bytes";
      prev = rec->pet_id();
      csv += rec->pet_id() + "," + std::to_string(rec->fold()) + "," + split + "\n";
      std::string dir = data_ + "/petset/" + rec->pet_id();
      auto img = DecodeRecordImage(rec->image());
      auto mask = DecodeRecordImage(rec->mask());
      ASSERT_TRUE(img.ok() && mask.ok());
      for (uint8_t v : mask->data) ASSERT_LE(v, 2);
      auto src_mask = DecodeTiff(*ReadFile(dir + "/mask.tiff"));
      EXPECT_EQ(mask->data, ResizeNearest(*src_mask, 64, 64).data) << rec->pet_id();
      if (fs::exists(dir + "/image.tiff")) {
        auto src = DecodeTiff(*ReadFile(dir + "/image.tiff"));
        EXPECT_EQ(img->data, ResizeBilinear(*src, 64, 64).data) << rec->pet_id();
      }
      EXPECT_EQ(rec->mask_sha256(), Sha256Hex(*ReadFile(dir + "/mask.tiff")));
      ++total;
    }
  }
  EXPECT_EQ(total, pets);
  EXPECT_EQ(*ReadFile(o.output + "/splits.csv"), csv);
  EXPECT_EQ(r->records, static_cast<int>(pets));
  auto missing = (*reader)->Split("holdout");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("train"), std::string::npos);
}

TEST_F(PartitionTest, AFailureMidwayKeepsTheOldDataset) {
  testing::TempDir out;
  PartitionOptions o = Options(out / "ds", 2);
  ASSERT_TRUE(Partition(o).ok());
  std::string before = TreeOf(o.output);
  o.force = true;
  o.fail_after_records = 10;
  o.size = 32;
  ASSERT_FALSE(Partition(o).ok());
  EXPECT_EQ(TreeOf(o.output), before);
  EXPECT_FALSE(fs::exists(o.output + ".partial"));
}

TEST_F(PartitionTest, BadPetsetsAreNamed) {
  testing::TempDir out;
  PartitionOptions o = Options(out / "ds", 1);
  o.input = out / "nowhere";
  auto r = Partition(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(out / "nowhere"), std::string::npos);
  EXPECT_NE(r.status().message().find("petprep download"), std::string::npos);

  // An empty petset, then one pet without its mask, then an unreadable image.
  std::string petset = out / "petset";
  fs::create_directories(petset);
  ASSERT_TRUE(WriteFileAtomic(petset + "/conversion_report.json",
                              *ReadFile(data_ + "/petset/conversion_report.json"))
                  .ok());
  o.input = petset;
  r = Partition(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no pets"), std::string::npos);
  fs::copy(data_ + "/petset/Bengal_1", petset + "/Bengal_1");
  fs::remove(petset + "/Bengal_1/mask.tiff");
  r = Partition(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Bengal_1/mask.tiff"), std::string::npos);
  fs::copy(data_ + "/petset/Bengal_1/mask.tiff", petset + "/Bengal_1/mask.tiff");
  ASSERT_TRUE(WriteFileAtomic(petset + "/Bengal_1/image.jpg", "not a jpeg").ok());
  r = Partition(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Bengal_1/image.jpg"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(fs::exists(o.output));
}

}  // namespace
}  // namespace petprep
