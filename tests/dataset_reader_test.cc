#include "pipeline/dataset/dataset_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

TEST(DatasetReaderTest, ReadsAcrossShardsInOrder) {
  testing::TempDir dir;
  std::string dataset = testing::MakeDataset(dir.path(), 40, 6, 32, 3, "raw");
  auto manifest = nlohmann::json::parse(*ReadFile(dataset + "/manifest.json"));
  auto reader = DatasetReader::Open(dataset);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->fingerprint(), manifest["fingerprint"]);
  EXPECT_EQ((*reader)->image_size(), 32);
  EXPECT_EQ((*reader)->splits(),
            (std::vector<std::string>{"train", "validation", "calibration", "test"}));
  const SplitReader* train = *(*reader)->Split("train");
  ASSERT_GT(train->size(), 6u) << "several shards";
  std::vector<std::string> forward;
  for (size_t i = 0; i < train->size(); ++i) forward.push_back(train->Read(i)->pet_id());
  for (size_t i = train->size(); i-- > 0;) EXPECT_EQ(train->Read(i)->pet_id(), forward[i]);
  EXPECT_TRUE(std::is_sorted(forward.begin(), forward.end()));
  auto rec = train->Read(4);
  auto img = DecodeRecordImage(rec->image());
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->width, 32);
  EXPECT_EQ(img->channels, 3);
  EXPECT_FALSE(train->Read(train->size()).ok());
}

TEST(DatasetReaderTest, MissingManifestSaysWhatToRun) {
  testing::TempDir dir;
  auto r = DatasetReader::Open(dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("petprep partition"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(dir / "manifest.json", "{nope").ok());
  EXPECT_EQ(DatasetReader::Open(dir.path()).status().code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace petprep
