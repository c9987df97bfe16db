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

MetricsSummary SegmentationMetrics::Summary() const {
  MetricsSummary m;
  m.loss = Loss();
  m.mean_iou = MeanIou();
  std::vector<double> v = Iou();
  for (int c = 0; c < 3; ++c)
    m.iou[c] = c < classes_ ? v[c] : std::numeric_limits<double>::quiet_NaN();
  m.f1 = F1();
  m.pixel_accuracy = PixelAccuracy();
  m.pixels = pixels();
  return m;
}

nlohmann::ordered_json MetricsSummary::ToJson() const {
  auto num = [](double v) {
    return std::isnan(v) ? nlohmann::ordered_json() : nlohmann::ordered_json(v);
  };
  nlohmann::ordered_json j;
  j["loss"] = num(loss);
  j["mean_iou"] = num(mean_iou);
  nlohmann::ordered_json per_class;
  for (int c = 0; c < 3; ++c) per_class[kClassNames[c]] = num(iou[c]);
  j["iou"] = per_class;
  j["f1"] = num(f1);
  j["pixel_accuracy"] = num(pixel_accuracy);
  j["pixels"] = pixels;
  return j;
}

MetricsSummary MetricsSummary::FromJson(const nlohmann::ordered_json& j) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto num = [&](const nlohmann::ordered_json& o, const char* key) {
    return o.is_object() && o.contains(key) && o[key].is_number() ? o[key].get<double>() : nan;
  };
  MetricsSummary m;
  m.loss = num(j, "loss");
  m.mean_iou = num(j, "mean_iou");
  const nlohmann::ordered_json none;
  const nlohmann::ordered_json& per_class = j.is_object() && j.contains("iou") ? j["iou"] : none;
  for (int c = 0; c < 3; ++c) m.iou[c] = num(per_class, kClassNames[c]);
  m.f1 = num(j, "f1");
  m.pixel_accuracy = num(j, "pixel_accuracy");
  m.pixels = j.is_object() && j.contains("pixels") && j["pixels"].is_number_unsigned()
                 ? j["pixels"].get<uint64_t>()
                 : 0;
  return m;
}

}  // namespace petprep
