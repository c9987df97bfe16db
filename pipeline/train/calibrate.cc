#include "pipeline/train/calibrate.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <filesystem>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/json_file.h"
#include "pipeline/core/shell_quote.h"
#include "pipeline/loader/loader.h"
#include "pipeline/train/evaluate.h"
#include "pipeline/train/mathfn.h"
#include "pipeline/train/run_folder.h"
#include "pipeline/train/train_options.h"

namespace petprep {

using Json = nlohmann::ordered_json;

uint64_t SplitLogits::pixels() const {
  uint64_t n = 0;
  for (const auto& l : labels) n += l.size();
  return n;
}

Status CollectLogits(const SplitReader* split, int side, int batch, const AugmentSpec& train_spec,
                     int threads, UNet* net, tbb::task_arena* arena, SplitLogits* out) {
  Loader loader(split, side, EvalLoaderOptions(batch, train_spec, threads));
  auto stream = loader.Open(0, loader.batches_per_epoch());
  if (!stream.ok()) return stream.status();
  Backend* backend = net->backend();
  out->side = side;
  out->logits.clear();
  out->labels.clear();
  const size_t px = static_cast<size_t>(side) * side;
  Batch b;
  DeviceBatch db;
  Tensor host;
  for (;;) {
    auto more = (*stream)->Next(&b);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    const Status ran = arena->execute([&]() -> Status {
      PETPREP_RETURN_IF_ERROR(UploadBatch(backend, b, &db));
      const DeviceTensor* logits = nullptr;
      PETPREP_RETURN_IF_ERROR(net->Forward(db.images, false, 0, 0, &logits));
      return backend->Download(*logits, &host);
    });
    PETPREP_RETURN_IF_ERROR(ran);
    for (int i = 0; i < b.size(); ++i) {
      const float* l = host.data() + static_cast<size_t>(i) * 3 * px;
      out->logits.emplace_back(l, l + 3 * px);
      const uint8_t* m = b.masks.data() + static_cast<size_t>(i) * px;
      out->labels.emplace_back(m, m + px);
    }
  }
}

namespace {

// One record's sums, in pixel order.
struct Partial {
  double nll = 0.0;
  uint64_t count[kCalibrationBins] = {};
  uint64_t correct[kCalibrationBins] = {};
  double confidence[kCalibrationBins] = {};
};

Partial RecordStats(const float* logits, const uint8_t* labels, size_t px, double inv_t) {
  Partial p;
  for (size_t j = 0; j < px; ++j) {
    const double a[3] = {static_cast<double>(logits[j]) * inv_t,
                         static_cast<double>(logits[px + j]) * inv_t,
                         static_cast<double>(logits[2 * px + j]) * inv_t};
    int best = 0;
    if (a[1] > a[best]) best = 1;
    if (a[2] > a[best]) best = 2;
    double sum = 0.0;
    for (int c = 0; c < 3; ++c) sum += c == best ? 1.0 : PetExpD(a[c] - a[best]);
    const int y = labels[j] < 3 ? labels[j] : 0;
    p.nll += (a[best] + PetLogD(sum)) - a[y];
    const double conf = 1.0 / sum;
    int bin = static_cast<int>(conf * kCalibrationBins);
    if (bin >= kCalibrationBins) bin = kCalibrationBins - 1;
    ++p.count[bin];
    p.correct[bin] += best == y ? 1 : 0;
    p.confidence[bin] += conf;
  }
  return p;
}

double NllAt(const SplitLogits& s, double t, tbb::task_arena* arena) {
  return StatsAt(s, t, arena).nll;
}

}  // namespace

Json CalibrationStats::BinsJson() const {
  Json out = Json::array();
  for (int i = 0; i < kCalibrationBins; ++i) {
    out.push_back(Json{{"from", static_cast<double>(i) / kCalibrationBins},
                       {"to", static_cast<double>(i + 1) / kCalibrationBins},
                       {"count", this->bins[i].count},
                       {"confidence", this->bins[i].confidence},
                       {"accuracy", this->bins[i].accuracy}});
  }
  return out;
}

CalibrationStats StatsAt(const SplitLogits& s, double temperature, tbb::task_arena* arena) {
  const size_t n = s.labels.size();
  const size_t px = static_cast<size_t>(s.side) * s.side;
  const double inv_t = 1.0 / temperature;
  std::vector<Partial> parts(n);
  arena->execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, n), [&](const tbb::blocked_range<size_t>& r) {
      for (size_t i = r.begin(); i != r.end(); ++i) {
        parts[i] = RecordStats(s.logits[i].data(), s.labels[i].data(), px, inv_t);
      }
    });
  });
  // The records in stored order: the same sums for any split of the work.
  CalibrationStats st;
  double nll = 0.0;
  uint64_t correct[kCalibrationBins] = {};
  double confidence[kCalibrationBins] = {};
  for (const Partial& p : parts) {
    nll += p.nll;
    for (int b = 0; b < kCalibrationBins; ++b) {
      st.bins[b].count += p.count[b];
      correct[b] += p.correct[b];
      confidence[b] += p.confidence[b];
    }
  }
  st.pixels = static_cast<uint64_t>(n) * px;
  if (st.pixels == 0) return st;
  st.nll = nll / static_cast<double>(st.pixels);
  for (int b = 0; b < kCalibrationBins; ++b) {
    ReliabilityBin& bin = st.bins[b];
    if (bin.count == 0) continue;
    bin.confidence = confidence[b] / static_cast<double>(bin.count);
    bin.accuracy = static_cast<double>(correct[b]) / static_cast<double>(bin.count);
    const double gap = bin.accuracy - bin.confidence;
    st.ece +=
        static_cast<double>(bin.count) / static_cast<double>(st.pixels) * (gap < 0 ? -gap : gap);
  }
  return st;
}

double FitTemperature(const SplitLogits& s, tbb::task_arena* arena) {
  const double phi = 0.61803398874989484820;  // (sqrt(5) - 1) / 2
  double lo = -kLogTemperatureRange, hi = kLogTemperatureRange;
  double x1 = hi - phi * (hi - lo), x2 = lo + phi * (hi - lo);
  double f1 = NllAt(s, PetExpD(x1), arena), f2 = NllAt(s, PetExpD(x2), arena);
  for (int i = 0; i < kTemperatureIterations; ++i) {
    if (f1 <= f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - phi * (hi - lo);
      f1 = NllAt(s, PetExpD(x1), arena);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + phi * (hi - lo);
      f2 = NllAt(s, PetExpD(x2), arena);
    }
  }
  const double u = f1 <= f2 ? x1 : x2;
  const double t = PetExpD(u);
  return NllAt(s, t, arena) < NllAt(s, 1.0, arena) ? t : 1.0;
}

namespace {

Json StatsJson(const CalibrationStats& before, const CalibrationStats& after) {
  return Json{{"nll_before", before.nll},
              {"nll_after", after.nll},
              {"ece_before", before.ece},
              {"ece_after", after.ece},
              {"pixels", before.pixels}};
}

}  // namespace

Json CalibrationReport::ToJson() const {
  Json j;
  j["temperature"] = temperature;
  j["calibration"] = StatsJson(calibration_before, calibration_after);
  j["test"] = test_before ? StatsJson(*test_before, *test_after) : Json();
  j["step"] = step;
  j["checkpoint"] = checkpoint;
  j["weights_sha256"] = weights_sha256;
  j["search"] =
      Json{{"method", "golden-section on ln T"},
           {"range", Json::array({PetExpD(-kLogTemperatureRange), PetExpD(kLogTemperatureRange)})},
           {"iterations", kTemperatureIterations}};
  j["bins"] = kCalibrationBins;
  Json rel;
  rel["calibration"] =
      Json{{"before", calibration_before.BinsJson()}, {"after", calibration_after.BinsJson()}};
  if (test_before) {
    rel["test"] = Json{{"before", test_before->BinsJson()}, {"after", test_after->BinsJson()}};
  }
  j["reliability"] = rel;
  return j;
}

Status CalibrateRun(const std::string& run, const std::string& checkpoint, int threads,
                    const std::string& device, CalibrationReport* report) {
  LoadedRun r;
  PETPREP_RETURN_IF_ERROR(LoadRun(run, checkpoint, device, &r));
  auto dataset = OpenRunDataset(r, "");
  if (!dataset.ok()) return dataset.status();
  auto split = (*dataset)->Split("calibration");
  if (!split.ok()) {
    return Status::InvalidArgument(r.data +
                                   ": no calibration split (partition with a split map "
                                   "that has one, e.g. --split-map blog)");
  }
  if ((*split)->size() == 0) {
    return Status::InvalidArgument(r.data +
                                   ": the calibration split is empty: nothing to fit a "
                                   "temperature on");
  }
  tbb::task_arena arena(threads > 0 ? threads : tbb::this_task_arena::max_concurrency());
  const int side = r.state.image_size;
  SplitLogits cal;
  PETPREP_RETURN_IF_ERROR(
      CollectLogits(*split, side, r.options.batch, r.spec, threads, r.net.get(), &arena, &cal));
  CalibrationReport rep;
  rep.temperature = FitTemperature(cal, &arena);
  rep.step = r.state.step;
  rep.checkpoint = checkpoint.empty() ? "newest" : checkpoint;
  auto digest = r.net->WeightsDigest();
  if (!digest.ok()) return digest.status();
  rep.weights_sha256 = ToHex(*digest);
  rep.calibration_before = StatsAt(cal, 1.0, &arena);
  rep.calibration_after = StatsAt(cal, rep.temperature, &arena);
  auto test = (*dataset)->Split("test");
  if (test.ok() && (*test)->size() > 0) {
    SplitLogits t;
    PETPREP_RETURN_IF_ERROR(
        CollectLogits(*test, side, r.options.batch, r.spec, threads, r.net.get(), &arena, &t));
    rep.test_before = StatsAt(t, 1.0, &arena);
    rep.test_after = StatsAt(t, rep.temperature, &arena);
  }
  *report = rep;
  return WriteFileAtomic(RunFolder(run).calibration_path(), rep.ToJson().dump(2) + "\n");
}

void CalibratedProbabilities(const float* logits, size_t px, double temperature, float* out) {
  const double inv_t = 1.0 / temperature;
  for (size_t j = 0; j < px; ++j) {
    const double a[3] = {static_cast<double>(logits[j]) * inv_t,
                         static_cast<double>(logits[px + j]) * inv_t,
                         static_cast<double>(logits[2 * px + j]) * inv_t};
    const double m = a[0] > a[1] ? (a[0] > a[2] ? a[0] : a[2]) : (a[1] > a[2] ? a[1] : a[2]);
    double e[3], sum = 0.0;
    for (int c = 0; c < 3; ++c) {
      e[c] = PetExpD(a[c] - m);
      sum += e[c];
    }
    for (int c = 0; c < 3; ++c)
      out[static_cast<size_t>(c) * px + j] = static_cast<float>(e[c] / sum);
  }
}

Result<std::optional<double>> ReadTemperature(const std::string& run,
                                              const std::string& weights_sha256,
                                              std::string* note) {
  const std::string path = RunFolder(run).calibration_path();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<double>();
  Json j;
  PETPREP_RETURN_IF_ERROR(ReadJsonFile(path, &j));
  const std::string again = " (run: " + ShellCommand({"petprep", "calibrate", run}) + ")";
  double t = 0;
  std::string fitted_for;
  PETPREP_RETURN_IF_ERROR(ReadJsonFields(path, [&]() -> Status {
    if (!j.is_object()) return Status::Corruption(path + ": not a JSON object" + again);
    t = j.at("temperature").get<double>();
    fitted_for = j.at("weights_sha256").get<std::string>();
    return Status::Ok();
  }));
  // calibrate writes only temperatures inside its search range; anything else was made
  // elsewhere and would turn probabilities into nonsense.
  const double lo = PetExpD(-kLogTemperatureRange), hi = PetExpD(kLogTemperatureRange);
  if (!(t >= lo && t <= hi)) {
    return Status::Corruption(path + ": temperature " + Json(t).dump() +
                              " is outside the range calibrate searches (" + Json(lo).dump() +
                              " to " + Json(hi).dump() + ")" + again);
  }
  if (fitted_for.size() != 64 ||
      fitted_for.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::Corruption(path + ": at /weights_sha256: not a SHA-256 in hex" + again);
  }
  if (fitted_for != weights_sha256) {
    return ReadJsonFields(path, [&]() -> Result<std::optional<double>> {
      *note = path + " was fitted for other weights (step " +
              std::to_string(j.value("step", uint64_t{0})) + ", " +
              j.value("checkpoint", std::string("?")) +
              " checkpoint); these are uncalibrated: run " +
              ShellCommand({"petprep", "calibrate", run}) +
              " with the same --checkpoint to calibrate them";
      return std::optional<double>();
    });
  }
  return std::optional<double>(t);
}

}  // namespace petprep
