#include "pipeline/train/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace petprep {
namespace {

TEST(MetricsTest, CountsGiveIouF1AndAccuracy) {
  SegmentationMetrics m;
  // truth: pet pet bg bg border; predicted: pet bg bg bg pet.
  m.Add({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0});
  m.AddLoss(0.5, 5);
  EXPECT_EQ(m.pixels(), 5u);
  EXPECT_DOUBLE_EQ(m.PixelAccuracy(), 3.0 / 5);
  std::vector<double> iou = m.Iou();
  EXPECT_DOUBLE_EQ(iou[0], 1.0 / 3);  // TP 1, FP 1, FN 1
  EXPECT_DOUBLE_EQ(iou[1], 2.0 / 3);  // TP 2, FP 1
  EXPECT_DOUBLE_EQ(iou[2], 0.0);      // TP 0, FN 1
  EXPECT_DOUBLE_EQ(m.MeanIou(), (1.0 / 3 + 2.0 / 3 + 0) / 3);
  EXPECT_DOUBLE_EQ(m.Loss(), 0.5);
}

TEST(MetricsTest, TheSummaryRoundTripsThroughJson) {
  SegmentationMetrics m;
  m.Add({0, 1, 1, 0}, {0, 1, 0, 0});  // no border anywhere: its IoU is NaN (null)
  m.AddLoss(0.25, 4);
  MetricsSummary s = m.Summary();
  EXPECT_TRUE(std::isnan(s.iou[2]));
  nlohmann::ordered_json j = s.ToJson();
  EXPECT_EQ(j.dump(), m.ToJson().dump());
  EXPECT_TRUE(j["iou"]["border"].is_null());
  EXPECT_EQ(j["pixels"], 4);
  MetricsSummary back = MetricsSummary::FromJson(nlohmann::ordered_json::parse(j.dump()));
  EXPECT_EQ(back.ToJson().dump(), j.dump());
  EXPECT_EQ(back.mean_iou, s.mean_iou);
  MetricsSummary none = MetricsSummary::FromJson(nlohmann::ordered_json());
  EXPECT_TRUE(std::isnan(none.loss));
  EXPECT_EQ(none.pixels, 0u);
}

}  // namespace
}  // namespace petprep
