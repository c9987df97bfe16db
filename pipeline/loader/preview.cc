#include "pipeline/loader/preview.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "pipeline/core/atomic_file.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/overlay.h"

namespace petprep {

Status WritePreview(const SplitReader* split, int side, const PreviewOptions& o,
                    const std::string& out_path) {
  if (o.count < 1 || o.count > 1024) return Status::InvalidArgument("--count must be in 1..1024");
  LoaderOptions lo = o.loader;
  lo.batch = std::min<int>(o.count, static_cast<int>(split->size()));
  lo.drop_last = false;
  Loader loader(split, side, lo);
  Batch first;
  uint64_t step = static_cast<uint64_t>(o.epoch) * loader.batches_per_epoch();
  auto stream = loader.Open(step, step + 1);
  if (!stream.ok()) return stream.status();
  auto got = (*stream)->Next(&first);
  if (!got.ok()) return got.status();
  if (!*got) return Status::Internal("the loader made no batch for step " + std::to_string(step));
  const int n = first.size();
  const int cols = o.columns > 0 ? o.columns : static_cast<int>(std::ceil(std::sqrt(n)));
  const int rows = (n + cols - 1) / cols;
  const int tile = std::max(side, 128);  // small records are shown enlarged
  const int label = 18, gap = 4;
  cv::Mat canvas(rows * (tile + label + gap) + gap, cols * (tile + gap) + gap, CV_8UC3,
                 cv::Scalar(32, 32, 32));
  const size_t pixels = static_cast<size_t>(side) * side;
  const AugmentSpec& spec = lo.augment;
  for (int i = 0; i < n; ++i) {
    cv::Mat sample(side, side, CV_8UC3);
    const float* img = first.images.data() + static_cast<size_t>(i) * 3 * pixels;
    const uint8_t* mask = first.masks.data() + static_cast<size_t>(i) * pixels;
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x) {
        size_t k = static_cast<size_t>(y) * side + x;
        uint8_t rgb[3];
        for (int c = 0; c < 3; ++c) {
          float f = img[c * pixels + k];
          float v = spec.reference_normalize ? (f + 1.0f) * 128.0f
                                             : (f * spec.std[c] + spec.mean[c]) * 255.0f;
          rgb[c] = static_cast<uint8_t>(std::clamp(static_cast<int>(std::lround(v)), 0, 255));
        }
        TintByClass(mask[k], rgb);
        sample.at<cv::Vec3b>(y, x) = cv::Vec3b(rgb[0], rgb[1], rgb[2]);
      }
    }
    if (tile != side) cv::resize(sample, sample, cv::Size(tile, tile), 0, 0, cv::INTER_NEAREST);
    int x0 = gap + (i % cols) * (tile + gap), y0 = gap + (i / cols) * (tile + label + gap);
    sample.copyTo(canvas(cv::Rect(x0, y0, tile, tile)));
    std::string text = first.pet_ids[i] + " e" + std::to_string(first.epoch);
    double scale = 0.38;
    int base = 0;
    cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
    if (size.width > tile) scale *= static_cast<double>(tile) / size.width;
    cv::putText(canvas, text, cv::Point(x0 + 2, y0 + tile + 13), cv::FONT_HERSHEY_SIMPLEX, scale,
                cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
  }
  Image out(canvas.cols, canvas.rows, 3);
  for (int y = 0; y < canvas.rows; ++y)
    std::copy_n(canvas.ptr<uint8_t>(y), canvas.cols * 3, out.row(y));
  auto png = EncodePng(out);
  if (!png.ok()) return png.status();
  return WriteFileAtomic(out_path, *png);
}

}  // namespace petprep
