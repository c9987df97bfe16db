#include "pipeline/loader/preview.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

TEST(PreviewTest, DrawsTheSameGridForTheSameOptions) {
  testing::TempDir dir;
  auto reader = DatasetReader::Open(testing::MakeDataset(dir.path(), 30, 2, 64));
  const SplitReader* train = *(*reader)->Split("train");
  PreviewOptions o;
  o.count = 6;
  o.loader.seed = 3;
  ASSERT_TRUE(WritePreview(train, 64, o, dir / "a.png").ok());
  ASSERT_TRUE(WritePreview(train, 64, o, dir / "b.png").ok());
  EXPECT_EQ(*ReadFile(dir / "a.png"), *ReadFile(dir / "b.png"));
  cv::Mat grid = cv::imread(dir / "a.png");
  ASSERT_FALSE(grid.empty());
  EXPECT_EQ(grid.cols, 3 * (128 + 4) + 4) << "3 columns of tiles enlarged to 128";
  EXPECT_EQ(grid.rows, 2 * (128 + 18 + 4) + 4);
  o.loader.seed = 4;
  ASSERT_TRUE(WritePreview(train, 64, o, dir / "c.png").ok());
  EXPECT_NE(*ReadFile(dir / "a.png"), *ReadFile(dir / "c.png"));
  o.count = 0;
  EXPECT_FALSE(WritePreview(train, 64, o, dir / "d.png").ok());
}

}  // namespace
}  // namespace petprep
