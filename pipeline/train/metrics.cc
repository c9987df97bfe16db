#include "pipeline/train/metrics.h"

#include <cmath>
#include <limits>

#include "pipeline/train/kernels.h"

namespace petprep {

const char* const kClassNames[3] = {"pet", "background", "border"};

std::vector<uint8_t> ArgmaxClasses(const Tensor& logits) {
  const int64_t plane = static_cast<int64_t>(logits.plane());
  std::vector<uint8_t> out(static_cast<size_t>(logits.n()) * plane);
  for (int n = 0; n < logits.n(); ++n) {
    const float* z = logits.data() + static_cast<int64_t>(n) * logits.c() * plane;
    for (int64_t i = 0; i < plane; ++i) {
      out[n * plane + i] = static_cast<uint8_t>(ArgmaxChannel(z + i, plane, logits.c()));
    }
  }
  return out;
}

void SegmentationMetrics::Add(const std::vector<uint8_t>& truth,
                              const std::vector<uint8_t>& predicted) {
  for (size_t i = 0; i < truth.size() && i < predicted.size(); ++i) {
    if (truth[i] < classes_ && predicted[i] < classes_)
      ++confusion_[truth[i] * classes_ + predicted[i]];
  }
}

void SegmentationMetrics::AddCounts(const std::vector<uint32_t>& counts) {
  for (size_t i = 0; i < counts.size() && i < confusion_.size(); ++i) confusion_[i] += counts[i];
}

void SegmentationMetrics::AddLoss(double mean_loss, uint64_t pixels) {
  loss_sum_ += mean_loss * static_cast<double>(pixels);
  loss_pixels_ += pixels;
}

uint64_t SegmentationMetrics::pixels() const {
  uint64_t n = 0;
  for (uint64_t v : confusion_) n += v;
  return n;
}

double SegmentationMetrics::Loss() const {
  return loss_pixels_ == 0 ? std::numeric_limits<double>::quiet_NaN()
                           : loss_sum_ / static_cast<double>(loss_pixels_);
}

double SegmentationMetrics::PixelAccuracy() const {
  uint64_t right = 0;
  for (int c = 0; c < classes_; ++c) right += count(c, c);
  const uint64_t all = pixels();
  return all == 0 ? std::numeric_limits<double>::quiet_NaN()
                  : static_cast<double>(right) / static_cast<double>(all);
}

SegmentationMetrics::Counts SegmentationMetrics::CountsOf(int c) const {
  Counts k{count(c, c), 0, 0};
  for (int o = 0; o < classes_; ++o) {
    if (o == c) continue;
    k.fp += count(o, c);
    k.fn += count(c, o);
  }
  return k;
}

std::vector<double> SegmentationMetrics::Iou() const {
  std::vector<double> out(classes_);
  for (int c = 0; c < classes_; ++c) {
    const Counts k = CountsOf(c);
    const uint64_t u = k.tp + k.fp + k.fn;
    out[c] = u == 0 ? std::numeric_limits<double>::quiet_NaN()
                    : static_cast<double>(k.tp) / static_cast<double>(u);
  }
  return out;
}

double SegmentationMetrics::MeanIou() const {
  double s = 0;
  int n = 0;
  for (double v : Iou()) {
    if (!std::isnan(v)) s += v, ++n;
  }
  return n == 0 ? std::numeric_limits<double>::quiet_NaN() : s / n;
}

double SegmentationMetrics::F1() const {
  double s = 0;
  int n = 0;
  for (int c = 0; c < classes_; ++c) {
    const Counts k = CountsOf(c);
    if (k.tp + k.fp + k.fn == 0) continue;
    s += 2.0 * static_cast<double>(k.tp) / static_cast<double>(2 * k.tp + k.fp + k.fn);
    ++n;
  }
  return n == 0 ? std::numeric_limits<double>::quiet_NaN() : s / n;
}

nlohmann::ordered_json SegmentationMetrics::ToJson() const {
  auto num = [](double v) {
    return std::isnan(v) ? nlohmann::ordered_json() : nlohmann::ordered_json(v);
  };
  nlohmann::ordered_json j;
  j["loss"] = num(Loss());
  j["mean_iou"] = num(MeanIou());
  nlohmann::ordered_json iou;
  std::vector<double> v = Iou();
  for (int c = 0; c < classes_ && c < 3; ++c) iou[kClassNames[c]] = num(v[c]);
  j["iou"] = iou;
  j["f1"] = num(F1());
  j["pixel_accuracy"] = num(PixelAccuracy());
  j["pixels"] = pixels();
  return j;
}

}  // namespace petprep
