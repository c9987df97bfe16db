#include "pipeline/train/evaluate.h"

#include <vector>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/loader/loader.h"
#include "pipeline/train/calibrate.h"
#include "pipeline/train/run_folder.h"

namespace petprep {

using Json = nlohmann::ordered_json;

Status UploadBatch(Backend* backend, const Batch& b, DeviceBatch* out) {
  return backend->UploadImagesAndLabels(b.images.data(), Shape{b.size(), 3, b.side, b.side},
                                        b.masks.data(), Shape{b.size(), 1, b.side, b.side},
                                        &out->images, &out->labels);
}

Status LossOf(Backend* backend, LossKind kind, const DeviceTensor& logits,
              const DeviceTensor& labels, DeviceTensor* loss, DeviceTensor* dlogits) {
  switch (kind) {
    case LossKind::kBceJaccard:
      return backend->BceJaccard(logits, labels, loss, dlogits);
    case LossKind::kCrossEntropy:
      break;
  }
  return backend->SoftmaxCrossEntropy(logits, labels, loss, dlogits);
}

LoaderOptions EvalLoaderOptions(int batch, const AugmentSpec& train_spec, int threads) {
  LoaderOptions lo;
  lo.batch = batch;
  lo.shuffle = false;
  lo.augment = EvalSpec(train_spec);
  lo.threads = threads;
  return lo;
}

Status EvaluateSplit(const SplitReader* split, int side, int batch, const AugmentSpec& train_spec,
                     int threads, LossKind loss, UNet* net, tbb::task_arena* arena,
                     SegmentationMetrics* m) {
  Loader loader(split, side, EvalLoaderOptions(batch, train_spec, threads));
  auto stream = loader.Open(0, loader.batches_per_epoch());
  if (!stream.ok()) return stream.status();
  Backend* backend = net->backend();
  Batch b;
  DeviceBatch db;
  DeviceTensor dl, lt, predicted, counts;
  std::vector<uint32_t> host_counts;
  for (;;) {
    auto more = (*stream)->Next(&b);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    const Status step = arena->execute([&]() -> Status {
      PETPREP_RETURN_IF_ERROR(UploadBatch(backend, b, &db));
      const DeviceTensor* logits = nullptr;
      PETPREP_RETURN_IF_ERROR(net->Forward(db.images, false, 0, 0, &logits));
      PETPREP_RETURN_IF_ERROR(LossOf(backend, loss, *logits, db.labels, &lt, &dl));
      PETPREP_RETURN_IF_ERROR(backend->Argmax(*logits, &predicted));
      PETPREP_RETURN_IF_ERROR(backend->Confusion(db.labels, predicted, 3, &counts));
      auto l = backend->ReadScalar(lt);
      if (!l.ok()) return l.status();
      PETPREP_RETURN_IF_ERROR(backend->DownloadWords(counts, &host_counts));
      m->AddLoss(*l, b.masks.size());
      m->AddCounts(host_counts);
      return Status::Ok();
    });
    PETPREP_RETURN_IF_ERROR(step);
  }
}

Status EvaluateRun(const std::string& run, const std::string& split, const std::string& data,
                   const std::string& checkpoint, int threads, const std::string& device,
                   EvalResult* result) {
  LoadedRun r;
  PETPREP_RETURN_IF_ERROR(LoadRun(run, checkpoint, device, &r));
  const std::string dir = data.empty() ? r.data : data;
  auto dataset = OpenRunDataset(r, dir);
  if (!dataset.ok()) return dataset.status();
  auto s = (*dataset)->Split(split);
  if (!s.ok()) return s.status();
  if ((*s)->size() == 0) return Status::InvalidArgument(dir + ": the " + split + " split is empty");
  SegmentationMetrics m;
  tbb::task_arena arena(threads > 0 ? threads : tbb::this_task_arena::max_concurrency());
  PETPREP_RETURN_IF_ERROR(EvaluateSplit(*s, r.state.image_size, r.options.batch, r.spec, threads,
                                        r.options.loss, r.net.get(), &arena, &m));
  auto digest = r.net->WeightsDigest();
  if (!digest.ok()) return digest.status();
  EvalResult e;
  e.split = split;
  e.records = (*s)->size();
  e.step = r.state.step;
  e.metrics = m.Summary();
  e.weights_sha256 = ToHex(*digest);
  e.dataset_fingerprint = (*dataset)->fingerprint();
  Json j = e.metrics.ToJson();
  j["split"] = e.split;
  j["records"] = e.records;
  j["step"] = e.step;
  j["weights_sha256"] = e.weights_sha256;
  j["dataset_fingerprint"] = e.dataset_fingerprint;
  auto temperature = ReadTemperature(run, e.weights_sha256, &e.calibration_note);
  if (!temperature.ok()) return temperature.status();
  if (temperature->has_value()) {
    SplitLogits logits;
    PETPREP_RETURN_IF_ERROR(CollectLogits(*s, r.state.image_size, r.options.batch, r.spec, threads,
                                          r.net.get(), &arena, &logits));
    const CalibrationStats before = StatsAt(logits, 1.0, &arena);
    const CalibrationStats after = StatsAt(logits, **temperature, &arena);
    e.calibrated = CalibratedEval{**temperature, before.nll, after.nll, before.ece, after.ece};
    j["calibration"] = Json{{"temperature", **temperature},
                            {"nll_before", before.nll},
                            {"nll_after", after.nll},
                            {"ece_before", before.ece},
                            {"ece_after", after.ece}};
  }
  *result = e;
  return WriteFileAtomic(RunFolder(run).eval_path(split), j.dump(2) + "\n");
}

}  // namespace petprep
