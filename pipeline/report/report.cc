#include "pipeline/report/report.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "pipeline/augment/augment.h"
#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/json_file.h"
#include "pipeline/core/read_file.h"
#include "pipeline/core/shell_quote.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/dataset/overlay.h"
#include "pipeline/report/chart.h"
#include "pipeline/train/calibrate.h"
#include "pipeline/train/metrics.h"
#include "pipeline/train/run_folder.h"
#include "pipeline/train/train_options.h"

namespace petprep {

namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string Html(const std::string& s) { return EscapeMarkup(s); }

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Fixed(double v, int digits = 4) {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A record's picture, its true mask and the predicted one, side by side (scaled up to at least
// 128 px with nearest neighbours).
Image Tile(const Image& rgb, const Image& truth, const Image& predicted) {
  const int k = std::max(1, 128 / std::max(1, rgb.width));
  const int w = rgb.width * k, h = rgb.height * k, gap = 4;
  Image out(3 * w + 2 * gap, h, 3, 255);
  const Image panels[3] = {rgb, OverlayClasses(rgb, truth), OverlayClasses(rgb, predicted)};
  for (int p = 0; p < 3; ++p) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const uint8_t* src = panels[p].at(x / k, y / k);
        uint8_t* dst = out.at(p * (w + gap) + x, y);
        dst[0] = src[0];
        dst[1] = src[1];
        dst[2] = src[2];
      }
    }
  }
  return out;
}

struct Prediction {
  std::string pet_id;
  double iou = 0;  // mean over the classes present in the truth or the prediction
  std::string png;
};

// The test split through the network, a batch at a time, with each record's mean IoU and
// its tile (kept for the first `keep` records and, at the end, the worst ones).
Status PredictTest(const LoadedRun& r, const SplitReader* split, int threads,
                   std::vector<Prediction>* out) {
  const int side = r.state.image_size;
  const size_t px = static_cast<size_t>(side) * side;
  const AugmentParams p = DrawAugmentParams(EvalSpec(r.spec), 0, 0, 0, side, side, side);
  tbb::task_arena arena(threads > 0 ? threads : tbb::this_task_arena::max_concurrency());
  const size_t n = split->size();
  DeviceTensor dx, classes;
  std::vector<uint8_t> predicted;
  for (size_t first = 0; first < n; first += 8) {
    const size_t count = std::min<size_t>(8, n - first);
    std::vector<Image> images(count), masks(count);
    std::vector<std::string> ids(count);
    Tensor x(static_cast<int>(count), 3, side, side);
    for (size_t i = 0; i < count; ++i) {
      auto rec = split->Read(first + i);
      if (!rec.ok()) return rec.status();
      auto img = DecodeRecordImage(rec->image());
      auto mask = DecodeRecordImage(rec->mask());
      if (!img.ok()) return img.status().WithContext("test record " + rec->pet_id());
      if (!mask.ok()) return mask.status().WithContext("test record " + rec->pet_id());
      if (img->width != side || img->height != side || img->channels != 3 || mask->width != side ||
          mask->height != side || mask->channels != 1) {
        return Status::Corruption("test record " + rec->pet_id() + ": " +
                                  std::to_string(img->width) + "x" + std::to_string(img->height) +
                                  ", the run takes " + std::to_string(side) + "x" +
                                  std::to_string(side));
      }
      images[i] = std::move(*img);
      masks[i] = std::move(*mask);
      ids[i] = rec->pet_id();
      std::vector<uint8_t> unused(px);
      AugmentSampleCpu(p, images[i].data.data(), masks[i].data.data(), x.data() + i * 3 * px,
                       unused.data());
    }
    const Status ran = arena.execute([&]() -> Status {
      PETPREP_RETURN_IF_ERROR(r.backend->Upload(x, &dx));
      const DeviceTensor* logits = nullptr;
      PETPREP_RETURN_IF_ERROR(r.net->Forward(dx, false, 0, 0, &logits));
      PETPREP_RETURN_IF_ERROR(r.backend->Argmax(*logits, &classes));
      return r.backend->DownloadBytes(classes, &predicted);
    });
    PETPREP_RETURN_IF_ERROR(ran);
    for (size_t i = 0; i < count; ++i) {
      Image pred(side, side, 1);
      std::copy(predicted.begin() + static_cast<std::ptrdiff_t>(i * px),
                predicted.begin() + static_cast<std::ptrdiff_t>((i + 1) * px), pred.data.begin());
      uint64_t inter[3] = {}, truth[3] = {}, guess[3] = {};
      for (size_t j = 0; j < px; ++j) {
        const uint8_t t = std::min<uint8_t>(masks[i].data[j], 2),
                      g = std::min<uint8_t>(pred.data[j], 2);
        ++truth[t];
        ++guess[g];
        if (t == g) ++inter[t];
      }
      double sum = 0;
      int present = 0;
      for (int c = 0; c < 3; ++c) {
        const uint64_t uni = truth[c] + guess[c] - inter[c];
        if (uni == 0) continue;
        sum += static_cast<double>(inter[c]) / static_cast<double>(uni);
        ++present;
      }
      auto png = EncodePng(Tile(images[i], masks[i], pred));
      if (!png.ok()) return png.status();
      out->push_back(Prediction{ids[i], present > 0 ? sum / present : 0.0, std::move(*png)});
    }
  }
  return Status::Ok();
}

std::string Figure(const Prediction& p) {
  return "<figure><img alt=\"" + Html(p.pet_id) + "\" src=\"data:image/png;base64," +
         Base64(p.png) + "\"><figcaption>" + Html(p.pet_id) + " &middot; IoU " + Fixed(p.iou, 3) +
         "</figcaption></figure>";
}

std::string MetricsRow(const std::string& name, const Json& m) {
  if (!m.is_object()) return "";
  const MetricsSummary s = MetricsSummary::FromJson(m);
  return "<tr><th>" + Html(name) + "</th><td>" + Fixed(s.iou[0]) + "</td><td>" + Fixed(s.iou[1]) +
         "</td><td>" + Fixed(s.iou[2]) + "</td><td>" + Fixed(s.mean_iou) + "</td><td>" +
         Fixed(s.f1) + "</td><td>" + Fixed(s.pixel_accuracy) + "</td><td>" + Fixed(s.loss) +
         "</td></tr>";
}

void FlattenRows(const Json& j, const std::string& prefix, std::string* rows) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      FlattenRows(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), rows);
    }
    return;
  }
  *rows += "<tr><th>" + Html(prefix) + "</th><td><code>" +
           Html(j.is_string() ? j.get<std::string>() : j.dump()) + "</code></td></tr>";
}

Chart ReliabilityChart(const Json& bins_before, const Json& bins_after, const std::string& split,
                       double t) {
  Chart c;
  c.title = "Reliability on the " + split + " split (T = " + Fixed(t, 4) + ")";
  c.x_label = "confidence";
  c.y_label = "accuracy";
  c.x_lo = 0, c.x_hi = 1, c.y_lo = 0, c.y_hi = 1;
  c.legend = Chart::Legend::kTopLeft;  // no pixel of 3 classes is less than 1/3 confident
  c.series.push_back(ChartSeries{"perfect calibration", "#999999", {{0, 0}, {1, 1}}, false, true});
  auto series = [](const Json& bins, const std::string& name, const std::string& color) {
    ChartSeries s{name, color, {}, true, false};
    for (const Json& b : bins.get<std::vector<Json>>()) {
      if (b.at("count").get<uint64_t>() == 0) continue;
      s.points.emplace_back(b.at("confidence").get<double>(), b.at("accuracy").get<double>());
    }
    return s;
  };
  c.series.push_back(series(bins_before, "before (T = 1)", "#d62728"));
  c.series.push_back(series(bins_after, "after", "#2ca02c"));
  return c;
}

const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;"
    "text-align:left;font-size:13px}code,pre{font-family:monospace;font-size:12px}"
    "pre{background:#f6f6f6;padding:8px;overflow-x:auto}figure{display:inline-block;margin:6px;"
    "text-align:center}figure img{image-rendering:pixelated;display:block}"
    "figcaption{font-size:12px}.plots svg{margin:4px;border:1px solid #eee}.key{font-size:13px}"
    ".warn{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px}";

}  // namespace

Status WriteReport(const ReportOptions& o, ReportResult* result) {
  RunFolder folder(o.run);
  if (!folder.HasConfig()) {
    return Status::NotFound(o.run + ": not a training run (no config.json; run: " +
                            ShellCommand({"petprep", "train", "--out", o.run}) + ")");
  }
  Json config, summary, calibration;
  PETPREP_RETURN_IF_ERROR(folder.ReadConfig(&config));
  std::error_code ec;
  if (!fs::exists(folder.summary_path(), ec)) {
    return Status::InvalidArgument(
        folder.summary_path() + ": missing; the run has not finished (resume it: " +
        ShellCommand({"petprep", "train", "--out", o.run, "--resume"}) + ")");
  }
  PETPREP_RETURN_IF_ERROR(ReadJsonFile(folder.summary_path(), &summary));
  const bool calibrated = fs::exists(folder.calibration_path(), ec);
  if (calibrated) PETPREP_RETURN_IF_ERROR(ReadJsonFile(folder.calibration_path(), &calibration));

  // The curves from metrics.jsonl.
  auto metrics = ReadFile(folder.metrics_path(), kMetricsLogLimit);
  if (!metrics.ok()) return metrics.status();
  ChartSeries loss{"training loss", "#1f77b4", {}, false, false};
  ChartSeries val{"validation mean IoU", "#ff7f0e", {}, true, false};
  {
    std::istringstream in(*metrics);
    std::string line;
    size_t number = 0;
    while (std::getline(in, line)) {
      Json j;
      PETPREP_RETURN_IF_ERROR(ParseJsonLine(line, folder.metrics_path(), ++number, &j));
      PETPREP_RETURN_IF_ERROR(ReadJsonFields(
          folder.metrics_path() + ": line " + std::to_string(number), [&]() -> Status {
            if (j.contains("validation")) {
              val.points.emplace_back(j.at("epoch").get<double>() + 1,
                                      j.at("validation").at("mean_iou").get<double>());
            } else if (j.contains("loss")) {
              loss.points.emplace_back(j.at("step").get<double>(), j.at("loss").get<double>());
            }
            return Status::Ok();
          }));
    }
  }
  Chart loss_chart{"Training loss per step", "step", "loss", {loss}};
  Chart val_chart{"Validation mean IoU per epoch", "epoch", "mean IoU", {val}};
  val_chart.y_lo = 0, val_chart.y_hi = 1;
  val_chart.legend = Chart::Legend::kBottomRight;

  // Test predictions.
  LoadedRun r;
  PETPREP_RETURN_IF_ERROR(LoadRun(o.run, o.checkpoint, o.device, &r));
  auto shown_digest = r.net->WeightsDigest();
  if (!shown_digest.ok()) return shown_digest.status();
  const std::string shown_weights = ToHex(*shown_digest);
  auto dataset = OpenRunDataset(r, "");
  if (!dataset.ok()) return dataset.status();
  std::vector<Prediction> predictions;
  auto test = (*dataset)->Split("test");
  if (test.ok() && (*test)->size() > 0) {
    PETPREP_RETURN_IF_ERROR(PredictTest(r, *test, o.threads, &predictions));
  }

  // Where the page and its pictures go.
  const std::string html_path = o.out.empty() ? o.run + "/report.html" : o.out;
  const fs::path html_fs(html_path);
  const std::string dir = html_fs.has_parent_path() ? html_fs.parent_path().string() : ".";
  const std::string stem = html_fs.stem().string();
  PETPREP_RETURN_IF_ERROR(MakeDirs(dir));
  std::vector<std::pair<std::string, Chart>> charts = {{"loss", loss_chart},
                                                       {"validation-iou", val_chart}};
  std::string calibration_html;
  if (calibrated) {
    std::string other_weights;  // said when T was fitted for weights other than those shown
    auto fits = ReadTemperature(o.run, shown_weights, &other_weights);
    if (!fits.ok()) return fits.status();
    PETPREP_RETURN_IF_ERROR(ReadJsonFields(folder.calibration_path(), [&]() -> Status {
      const double t = calibration.at("temperature").get<double>();
      const Json& rel = calibration.at("reliability");
      const std::string split = rel.contains("test") ? "test" : "calibration";
      charts.emplace_back("reliability", ReliabilityChart(rel.at(split).at("before"),
                                                          rel.at(split).at("after"), split, t));
      calibration_html =
          "<p>Temperature <b>T = " + Html(Json(t).dump()) +
          "</b>, fitted on the calibration split (" +
          Html(calibration.at("search").at("method").get<std::string>()) +
          ").</p><table><tr><th>split"
          "</th><th>NLL before</th><th>NLL after</th><th>ECE before</th><th>ECE after"
          "</th></tr>";
      for (const char* s : {"calibration", "test"}) {
        if (!calibration.contains(s)) continue;
        const Json& c = calibration.at(s);
        calibration_html += std::string("<tr><th>") + s + "</th><td>" +
                            Fixed(c.at("nll_before").get<double>()) + "</td><td>" +
                            Fixed(c.at("nll_after").get<double>()) + "</td><td>" +
                            Fixed(c.at("ece_before").get<double>()) + "</td><td>" +
                            Fixed(c.at("ece_after").get<double>()) + "</td></tr>";
      }
      calibration_html += "</table>";
      if (!other_weights.empty()) {
        calibration_html = "<p class=\"warn\">" + Html(other_weights) + ".</p>" + calibration_html;
      }
      return Status::Ok();
    }));
  } else {
    calibration_html = "<p>Not calibrated: <code>" +
                       Html(ShellCommand({"petprep", "calibrate", o.run})) +
                       "</code> fits a temperature on the calibration split, then this report "
                       "shows its reliability diagram.</p>";
  }
  std::string plots;
  for (const auto& [name, chart] : charts) {
    plots += ChartSvg(chart);
    auto png = EncodePng(ChartImage(chart));
    if (!png.ok()) return png.status();
    const std::string path = dir + "/" + stem + "-" + name + ".png";
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(path, *png));
    result->pngs.push_back(path);
  }
  const std::string calibration_plot =
      calibrated && charts.size() > 2 ? ChartSvg(charts[2].second) : "";
  const std::string training_plots = ChartSvg(charts[0].second) + ChartSvg(charts[1].second);

  // The commands that reproduce the run, every word through ShellQuote.
  const ManifestLayout& layout = (*dataset)->layout();
  std::string commands =
      "petprep download --out DATA        # or petprep synth / download --from, as the dataset "
      "was made\n" +
      ShellCommand({"petprep", "partition", "--input", "DATA/petset", "--output", r.data, "--size",
                    std::to_string(layout.image_size), "--split-map", layout.split_map, "--codec",
                    layout.codec}) +
      "\n";
  std::string fingerprint;
  PETPREP_RETURN_IF_ERROR(ReadJsonFields(folder.config_path(), [&]() -> Status {
    const Json& t = config.at("training");
    fingerprint = t.at("dataset_fingerprint").get<std::string>();
    std::vector<std::string> train = {"petprep",
                                      "train",
                                      "--data",
                                      r.data,
                                      "--out",
                                      o.run,
                                      "--seed",
                                      std::to_string(t.at("seed").get<uint64_t>()),
                                      "--epochs",
                                      std::to_string(t.at("epochs").get<int64_t>()),
                                      "--steps-per-epoch",
                                      std::to_string(t.at("steps_per_epoch").get<uint64_t>()),
                                      "--batch",
                                      std::to_string(t.at("batch").get<int64_t>()),
                                      "--lr",
                                      Json(t.at("lr").get<double>()).dump(),
                                      "--loss",
                                      t.at("loss").get<std::string>(),
                                      "--widths"};
    for (const Json& w : t.at("model").at("widths").get<std::vector<Json>>()) {
      train.push_back(std::to_string(w.get<int64_t>()));
    }
    for (const std::string& w :
         {std::string("--dropout"), Json(t.at("model").at("dropout").get<double>()).dump(),
          std::string("--augment"), std::string("augment.json")}) {
      train.push_back(w);
    }
    commands += ShellCommand({"petprep", "verify", r.data}) + "    # dataset fingerprint " +
                ShellQuote(fingerprint) + "\n" +
                ShellCommand({"printf", "%s\\n", t.at("augment").dump()}) + " > augment.json\n" +
                ShellCommand(train) + "\n";
    return Status::Ok();
  }));
  if (calibrated) commands += ShellCommand({"petprep", "calibrate", o.run}) + "\n";
  commands += ShellCommand({"petprep", "report", o.run}) + "\n";

  std::string weights, header;
  std::string metrics_rows;
  PETPREP_RETURN_IF_ERROR(ReadJsonFields(folder.summary_path(), [&]() -> Status {
    weights = summary.at("weights_sha256").get<std::string>();
    header = Html(summary.at("model").get<std::string>()) + ", " +
             std::to_string(summary.at("steps").get<uint64_t>()) + " of " +
             std::to_string(summary.at("total_steps").get<uint64_t>()) + " steps" +
             (summary.at("finished").get<bool>() ? "" : " (stopped early)") + ", " +
             Html(summary.at("device").get<std::string>());
    metrics_rows = MetricsRow("validation", summary.value("validation", Json())) +
                   MetricsRow("test", summary.value("test", Json()));
    return Status::Ok();
  }));
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>petprep report: " +
       Html(o.run) + "</title><style>" + kStyle + "</style></head><body>\n";
  h += "<h1>petprep report: " + Html(o.run) + "</h1>\n<p class=\"key\">" + header +
       ".<br>Weights SHA-256: <code id=\"weights\">" + Html(weights) +
       "</code><br>Dataset fingerprint: <code>" + Html(fingerprint) + "</code></p>\n";
  h += "<h2>Training</h2>\n<div class=\"plots\">" + training_plots + "</div>\n";
  h += "<h2>Metrics</h2>\n<table><tr><th>split</th><th>IoU pet</th><th>IoU background</th>"
       "<th>IoU border</th><th>mean IoU</th><th>F1 (macro)</th><th>pixel accuracy</th>"
       "<th>loss</th></tr>" +
       metrics_rows + "</table>\n";
  h += "<h2>Calibration</h2>\n" + calibration_html + "<div class=\"plots\">" + calibration_plot +
       "</div>\n";
  h += "<h2>Test predictions</h2>\n";
  if (predictions.empty()) {
    h += "<p>The dataset has no test records.</p>\n";
  } else {
    h += "<p>Each: the picture, the true trimap and the prediction (pet orange, border "
         "yellow), with the record's mean IoU; the first " +
         std::to_string(std::min<size_t>(o.grid, predictions.size())) + " of " +
         std::to_string(predictions.size()) + " test records in stored order, step " +
         std::to_string(r.state.step) + "'s weights.</p>\n<div>";
    for (size_t i = 0; i < predictions.size() && i < static_cast<size_t>(o.grid); ++i) {
      h += Figure(predictions[i]);
    }
    h += "</div>\n<h2>Worst test cases by IoU</h2>\n<div>";
    std::vector<size_t> order(predictions.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return predictions[a].iou < predictions[b].iou; });
    for (size_t i = 0; i < order.size() && i < static_cast<size_t>(o.worst); ++i) {
      h += Figure(predictions[order[i]]);
    }
    h += "</div>\n";
  }
  h += "<h2>Reproduce</h2>\n<pre>" + Html(commands) + "</pre>\n";
  std::string rows;
  FlattenRows(config.value("provenance", Json::object()), "", &rows);
  std::string sources;
  FlattenRows((*dataset)->manifest().value("sources", Json::object()), "sources", &sources);
  h += "<h2>Provenance and fingerprints</h2>\n<table><tr><th>weights_sha256</th><td><code>" +
       Html(weights) + "</code></td></tr><tr><th>dataset fingerprint</th><td><code>" +
       Html(fingerprint) + "</code></td></tr>" + sources + rows +
       "</table>\n<p class=\"key\">Made by <code>petprep report</code>; the page loads nothing "
       "from the network. The plots are also in " +
       Html(stem) + "-*.png beside it.</p>\n</body></html>\n";
  PETPREP_RETURN_IF_ERROR(WriteFileAtomic(html_path, h));
  result->html = html_path;
  result->weights_sha256 = weights;
  result->test_records = static_cast<int>(predictions.size());
  return Status::Ok();
}

}  // namespace petprep
