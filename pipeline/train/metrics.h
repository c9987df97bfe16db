// Segmentation metrics from integer confusion counts (exact, so the same for any batch or
// thread split): per-class IoU, their mean, macro F1, pixel accuracy, and the mean loss.
// Classes: 0 pet, 1 background, 2 border. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "pipeline/train/tensor.h"

namespace petprep {

extern const char* const kClassNames[3];  // "pet", "background", "border"

// The predicted class of each pixel: the first maximum of the logits over channels.
std::vector<uint8_t> ArgmaxClasses(const Tensor& logits);

// SegmentationMetrics' numbers as a value; NaN where there is none (JSON null).
struct MetricsSummary {
  double loss = 0, mean_iou = 0, f1 = 0, pixel_accuracy = 0;
  std::array<double, 3> iou{};  // pet, background, border
  uint64_t pixels = 0;

  // {"loss", "mean_iou", "iou": {"pet", "background", "border"}, "f1", "pixel_accuracy",
  // "pixels"}.
  nlohmann::ordered_json ToJson() const;
  // The inverse of ToJson (a missing or null number reads as NaN).
  static MetricsSummary FromJson(const nlohmann::ordered_json& j);
};

class SegmentationMetrics {
 public:
  explicit SegmentationMetrics(int classes = 3)
      : classes_(classes), confusion_(classes * classes, 0) {}

  // Counts prediction against truth for every pixel (both N*H*W class ids).
  void Add(const std::vector<uint8_t>& truth, const std::vector<uint8_t>& predicted);
  // Adds a confusion matrix counted elsewhere: counts[truth * classes + predicted].
  void AddCounts(const std::vector<uint32_t>& counts);
  // A batch's mean loss over `pixels` pixels; Loss() is the pixel-weighted mean.
  void AddLoss(double mean_loss, uint64_t pixels);

  uint64_t pixels() const;
  double Loss() const;
  double PixelAccuracy() const;
  // Per class: TP / (TP + FP + FN); a class absent from truth and prediction has none (NaN).
  std::vector<double> Iou() const;
  double MeanIou() const;  // over the classes that have an IoU
  double F1() const;       // macro mean of 2 TP / (2 TP + FP + FN), same classes
  uint64_t count(int truth, int predicted) const {
    return confusion_[truth * classes_ + predicted];
  }

  MetricsSummary Summary() const;
  nlohmann::ordered_json ToJson() const { return Summary().ToJson(); }

 private:
  struct Counts {
    uint64_t tp, fp, fn;
  };
  Counts CountsOf(int c) const;

  int classes_;
  std::vector<uint64_t> confusion_;  // [truth][predicted]
  double loss_sum_ = 0;
  uint64_t loss_pixels_ = 0;
};

}  // namespace petprep
