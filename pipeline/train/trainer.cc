#include "pipeline/train/trainer.h"

#include <sys/stat.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/interrupt.h"
#include "pipeline/core/progress.h"
#include "pipeline/core/provenance.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/dataset/resize.h"
#include "pipeline/dataset/source_image.h"
#include "pipeline/loader/loader.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/checkpoint.h"
#include "pipeline/train/float_env.h"
#include "pipeline/train/metrics.h"
#include "pipeline/train/ops.h"
#include "pipeline/train/optim.h"
#include "pipeline/train/unet.h"

namespace petprep {
namespace {

using Json = nlohmann::ordered_json;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "-" : "") + std::to_string(v[i]);
  return s;
}

// The options that decide the results, as config.json and every checkpoint record them.
Json TrainingJson(const TrainOptions& o, const AugmentSpec& spec, uint64_t steps_per_epoch,
                  int image_size, const std::string& fingerprint) {
  Json t;
  t["seed"] = o.seed;
  t["epochs"] = o.epochs;
  t["steps_per_epoch"] = steps_per_epoch;
  t["batch"] = o.batch;
  t["lr"] = o.lr;
  t["loss"] = o.loss;
  t["augment"] = Json::parse(spec.ToJson());
  t["model"] = {{"arch", "unet"},
                {"widths", o.widths},
                {"dropout", o.dropout},
                {"in_channels", 3},
                {"classes", 3}};
  AdamOptions adam;
  t["optimizer"] = {
      {"name", "adam"}, {"beta1", adam.beta1}, {"beta2", adam.beta2}, {"eps", adam.eps}};
  t["image_size"] = image_size;
  t["dataset_fingerprint"] = fingerprint;
  return t;
}

// The validation spec: no augmentation, the training spec's normalisation.
AugmentSpec EvalSpec(const AugmentSpec& train) {
  AugmentSpec s = AugmentSpec::None();
  s.reference_normalize = train.reference_normalize;
  for (int c = 0; c < 3; ++c) {
    s.mean[c] = train.mean[c];
    s.std[c] = train.std[c];
  }
  return s;
}

// A batch's images and class ids on the backend.
struct DeviceBatch {
  DeviceTensor images, labels;
};

Status UploadBatch(Backend* backend, const Batch& b, DeviceBatch* out) {
  PETPREP_RETURN_IF_ERROR(
      backend->Upload(b.images.data(), Shape{b.size(), 3, b.side, b.side}, &out->images));
  return backend->UploadBytes(b.masks.data(), Shape{b.size(), 1, b.side, b.side}, &out->labels);
}

Status LossOf(Backend* backend, const std::string& kind, const DeviceTensor& logits,
              const DeviceTensor& labels, DeviceTensor* loss, DeviceTensor* dlogits) {
  return kind == "bce-jaccard" ? backend->BceJaccard(logits, labels, loss, dlogits)
                               : backend->SoftmaxCrossEntropy(logits, labels, loss, dlogits);
}

// Every batch of a split in stored order through the network in eval mode; the network runs
// on the calling thread, in `arena`.
Status EvaluateSplit(const SplitReader* split, int side, int batch, const AugmentSpec& spec,
                     int threads, const std::string& loss, UNet* net, tbb::task_arena* arena,
                     SegmentationMetrics* m) {
  LoaderOptions lo;
  lo.batch = batch;
  lo.shuffle = false;
  lo.augment = EvalSpec(spec);
  lo.threads = threads;
  Loader loader(split, side, lo);
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

Result<const SplitReader*> OptionalSplit(const DatasetReader& d, const std::string& name) {
  auto s = d.Split(name);
  if (!s.ok() || (*s)->size() == 0) return static_cast<const SplitReader*>(nullptr);
  return *s;
}

Status ReadJsonFile(const std::string& path, Json* out) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  try {
    *out = Json::parse(*text);
  } catch (const std::exception& e) {
    return Status::Corruption(path + ": not valid JSON (" + e.what() + ")");
  }
  return Status::Ok();
}

Status OptionsFromTraining(const Json& t, const std::string& source, TrainOptions* o,
                           AugmentSpec* spec) {
  std::string augment;
  try {
    o->seed = t.at("seed").get<uint64_t>();
    o->epochs = t.at("epochs").get<int>();
    o->steps_per_epoch = t.at("steps_per_epoch").get<uint64_t>();
    o->batch = t.at("batch").get<int>();
    o->lr = t.at("lr").get<double>();
    o->loss = t.at("loss").get<std::string>();
    o->widths = t.at("model").at("widths").get<std::vector<int>>();
    o->dropout = t.at("model").at("dropout").get<float>();
    augment = t.at("augment").dump();
  } catch (const std::exception& e) {
    return Status::Corruption(source + ": the training section is incomplete or mistyped (" +
                              e.what() + ")");
  }
  if (o->epochs < 1 || o->batch < 1 || o->widths.empty() || o->widths.size() > 8 ||
      *std::min_element(o->widths.begin(), o->widths.end()) < 1) {
    return Status::Corruption(source + ": the training section holds values out of range");
  }
  auto s = AugmentSpec::FromJson(augment, source + " (augment)");
  if (!s.ok()) return s.status();
  *spec = *s;
  return Status::Ok();
}

// config.json of a run, checked to be an object with a training section.
Status ReadRunConfig(const std::string& path, Json* config) {
  PETPREP_RETURN_IF_ERROR(ReadJsonFile(path, config));
  if (!config->is_object() || !config->contains("training") || !(*config)["training"].is_object()) {
    return Status::Corruption(path + ": not a run configuration (no training section)");
  }
  if (config->contains("data") && !(*config)["data"].is_string()) {
    return Status::Corruption(path + ": \"data\" must be a string");
  }
  return Status::Ok();
}

// Newest step checkpoint of a run, or the named one ("best" or a path).
Result<std::string> ChooseCheckpoint(const std::string& run, const std::string& which) {
  if (which == "best") {
    std::string p = run + "/checkpoints/best.ckpt";
    if (!Exists(p))
      return Status::NotFound(p + ": no best checkpoint (the run has not validated yet)");
    return p;
  }
  if (!which.empty()) return which;
  auto list = ListCheckpoints(run + "/checkpoints");
  if (list.empty()) {
    return Status::NotFound(run + "/checkpoints: no step checkpoint (run: petprep train --out " +
                            run + ")");
  }
  return list.back().second;
}

// A run's configuration, network and weights from a checkpoint.
struct LoadedRun {
  TrainOptions options;
  AugmentSpec spec;
  TrainState state;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<UNet> net;
  std::string data;
  int image_size = 0;
};

Status LoadRun(const std::string& run, const std::string& checkpoint, LoadedRun* r) {
  if (!Exists(run + "/config.json")) {
    return Status::NotFound(
        run + ": not a training run (no config.json; run: petprep train --out " + run + ")");
  }
  Json config;
  PETPREP_RETURN_IF_ERROR(ReadRunConfig(run + "/config.json", &config));
  PETPREP_RETURN_IF_ERROR(
      OptionsFromTraining(config["training"], run + "/config.json", &r->options, &r->spec));
  r->data = config.value("data", "");
  r->image_size = config["training"].value("image_size", 0);
  auto path = ChooseCheckpoint(run, checkpoint);
  if (!path.ok()) return path.status();
  UNetConfig mc;
  mc.widths = r->options.widths;
  mc.dropout = r->options.dropout;
  r->backend = NewCpuBackend();
  r->net = std::make_unique<UNet>(mc, r->backend.get());
  std::vector<DeviceAdamSlot> slots;
  return LoadCheckpoint(*path, &r->state, r->net.get(), &slots);
}

// metrics.jsonl without the lines after `step` (and a torn last line). The last kept step's
// loss and validation come back for the summary.
Status TruncateMetrics(const std::string& path, uint64_t step, float* last_loss,
                       Json* last_validation) {
  auto text = ReadFile(path);
  if (!text.ok()) return Status::Ok();
  std::string kept;
  std::istringstream in(*text);
  std::string line;
  size_t consumed = 0;
  uint64_t last_step = 0;
  while (std::getline(in, line)) {
    consumed += line.size() + 1;
    if (consumed > text->size()) break;  // no newline: torn
    try {
      Json j = Json::parse(line);
      const uint64_t at = j.value("step", uint64_t{0});
      if (at > step) continue;
      kept += line + "\n";
      if (j.contains("validation")) {
        *last_validation = j["validation"];
      } else if (j.contains("loss") && j["loss"].is_number()) {
        *last_loss = j["loss"].get<float>();
        last_step = at;
      }
    } catch (const std::exception&) {
      break;
    }
  }
  if (last_step != step) {
    return Status::Corruption(path + ": holds steps up to " + std::to_string(last_step) +
                              ", the checkpoint is at step " + std::to_string(step) +
                              " (lines are missing; start the run again)");
  }
  return WriteFileAtomic(path, kept);
}

class MetricsLog {
 public:
  ~MetricsLog() {
    if (f_ != nullptr) std::fclose(f_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "ab");
    if (f_ == nullptr) return Status::IoError(path + ": cannot open for writing");
    return Status::Ok();
  }
  // Makes every line written so far durable (before a checkpoint that depends on them).
  Status Sync() {
    if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0)
      return Status::IoError(path_ + ": fsync failed");
    return Status::Ok();
  }
  Status Write(const Json& j) {
    std::string line = j.dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0) {
      return Status::IoError(path_ + ": write failed");
    }
    return Status::Ok();
  }

 private:
  std::string path_;
  FILE* f_ = nullptr;
};

}  // namespace

Status ApplyConfigFile(const std::string& path, TrainOptions* o, std::vector<std::string>* notes) {
  Json j;
  PETPREP_RETURN_IF_ERROR(ReadJsonFile(path, &j));
  if (!j.is_object()) return Status::InvalidArgument(path + ": expected a JSON object");
  const char* known =
      "batch_size, epochs, iterations, learning_rate, model_arch, steps_per_epoch, seed, loss, "
      "widths, dropout";
  auto bad = [&](const std::string& key, const std::string& want) {
    return Status::InvalidArgument(path + ": '" + key + "' must be " + want);
  };
  auto set = [&](const std::string& flag) { return o->given.count(flag) == 0; };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "batch_size") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 100000)
        return bad(k, "an integer in [1, 100000]");
      if (set("batch")) o->batch = v.get<int>();
    } else if (k == "epochs") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1000000)
        return bad(k, "an integer in [1, 1000000]");
      if (set("epochs")) o->epochs = v.get<int>();
    } else if (k == "steps_per_epoch") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 100000000)
        return bad(k, "an integer in [1, 100000000]");
      if (set("steps-per-epoch")) o->steps_per_epoch = v.get<uint64_t>();
    } else if (k == "learning_rate") {
      if (!v.is_number() || !(v.get<double>() > 0)) return bad(k, "a number > 0");
      if (set("lr")) o->lr = v.get<double>();
    } else if (k == "iterations") {
      notes->push_back(path + ": 'iterations' (" + v.dump() +
                       ") is accepted and ignored: an epoch is steps_per_epoch steps, as in the "
                       "reference's Keras loop");
    } else if (k == "model_arch") {
      if (!v.is_string()) return bad(k, "a string");
      const std::string a = v.get<std::string>();
      if (a == "MobileNetV2" || a == "VGG19") {
        notes->push_back(path + ": model_arch " + a +
                         ": pretrained ImageNet weights cannot be shipped (petprep runs offline), "
                         "so the U-Net is trained from scratch");
      } else if (a != "unet" && a != "UNet") {
        return bad(k, "unet, MobileNetV2 or VGG19 (the last two train the U-Net with a note)");
      }
    } else if (k == "seed") {
      if (!v.is_number_unsigned()) return bad(k, "an integer >= 0");
      if (set("seed")) o->seed = v.get<uint64_t>();
    } else if (k == "loss") {
      if (!v.is_string() || (v != "ce" && v != "bce-jaccard"))
        return bad(k, "\"ce\" or \"bce-jaccard\"");
      if (set("loss")) o->loss = v.get<std::string>();
    } else if (k == "widths") {
      if (!v.is_array() || v.empty() || v.size() > 8)
        return bad(k, "a list of 1 to 8 channel counts");
      std::vector<int> w;
      for (const Json& e : v) {
        if (!e.is_number_integer() || e.get<int>() < 1 || e.get<int>() > 1024)
          return bad(k, "a list of integers in [1, 1024]");
        w.push_back(e.get<int>());
      }
      if (set("widths")) o->widths = w;
    } else if (k == "dropout") {
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() >= 1)
        return bad(k, "a number in [0, 1)");
      if (set("dropout")) o->dropout = v.get<float>();
    } else {
      return Status::InvalidArgument(path + ": unknown key '" + k + "' (known: " + known + ")");
    }
  }
  return Status::Ok();
}

Status Train(TrainOptions o, TrainResult* result, Backend* backend) {
  const auto t0 = std::chrono::steady_clock::now();
  const FloatEnv fp_before = ClearFlushToZero();
  if (!fp_before.ok()) {
    result->notes.push_back("the CPU's " + fp_before.Describe() +
                            " mode was on; cleared for training (subnormals as IEEE requires)");
  }
  const std::string ckpt_dir = o.out + "/checkpoints";
  const std::string config_path = o.out + "/config.json";
  AugmentSpec spec;
  Json config;
  if (o.resume) {
    if (!Exists(config_path)) {
      return Status::NotFound(config_path + ": nothing to resume (run without --resume to start " +
                              o.out + ")");
    }
    PETPREP_RETURN_IF_ERROR(ReadRunConfig(config_path, &config));
    TrainOptions from = o;
    PETPREP_RETURN_IF_ERROR(OptionsFromTraining(config["training"], config_path, &from, &spec));
    for (const char* flag :
         {"seed", "epochs", "steps-per-epoch", "batch", "lr", "loss", "widths", "dropout"}) {
      if (o.given.count(flag) != 0) {
        result->notes.push_back(std::string("--") + flag +
                                " is ignored with --resume: the run keeps its own (" + config_path +
                                ")");
      }
    }
    if (!o.config_path.empty() || !o.augment_path.empty()) {
      result->notes.push_back(
          "--config and --augment are ignored with --resume: the run keeps its own");
    }
    if (o.given.count("hash-every") != 0) {
      result->notes.push_back(
          "--hash-every given with --resume: metrics.jsonl hashes the weights at other steps than "
          "the run began with");
    }
    if (o.given.count("data") == 0) from.data = config.value("data", "");
    if (o.given.count("hash-every") == 0)
      from.hash_every = config.value("hash_every", o.hash_every);
    o = from;
  } else {
    if (!o.config_path.empty())
      PETPREP_RETURN_IF_ERROR(ApplyConfigFile(o.config_path, &o, &result->notes));
    if (o.augment_path.empty()) {
      spec = AugmentSpec();
    } else {
      auto s = AugmentSpec::FromFile(o.augment_path);
      if (!s.ok()) return s.status();
      spec = *s;
    }
    if (o.loss != "ce" && o.loss != "bce-jaccard") {
      return Status::InvalidArgument("--loss " + o.loss + ": expected ce or bce-jaccard");
    }
    if (o.widths.empty() || o.widths.size() > 8)
      return Status::InvalidArgument("--widths: 1 to 8 levels");
    for (int w : o.widths) {
      if (w < 1 || w > 1024)
        return Status::InvalidArgument("--widths " + std::to_string(w) +
                                       ": each width must be in [1, 1024]");
    }
  }

  auto dataset = DatasetReader::Open(o.data);
  if (!dataset.ok()) return dataset.status();
  const DatasetReader& d = **dataset;
  const int side = d.image_size();
  const int levels = static_cast<int>(o.widths.size());
  if (side % (1 << (levels - 1)) != 0) {
    return Status::InvalidArgument(o.data + ": images are " + std::to_string(side) +
                                   " px, not a multiple of " + std::to_string(1 << (levels - 1)) +
                                   " as a " + std::to_string(levels) +
                                   "-level U-Net needs (partition with --size a multiple of it)");
  }
  auto train_split = d.Split("train");
  if (!train_split.ok()) return train_split.status();
  if ((*train_split)->size() == 0)
    return Status::InvalidArgument(o.data + ": the train split is empty");
  auto val = OptionalSplit(d, "validation");
  auto test = OptionalSplit(d, "test");
  if (*val == nullptr)
    result->notes.push_back(o.data + ": no validation records: epochs are not validated");

  LoaderOptions lo;
  lo.batch = o.batch;
  lo.seed = o.seed;
  lo.augment = spec;
  lo.threads = o.threads;
  Loader loader(*train_split, side, lo);
  const uint64_t per_epoch = o.steps_per_epoch > 0 ? o.steps_per_epoch : loader.batches_per_epoch();
  const uint64_t total = per_epoch * static_cast<uint64_t>(o.epochs);
  const uint64_t end = o.max_steps > 0 ? std::min(o.max_steps, total) : total;
  Json training = TrainingJson(o, spec, per_epoch, side, d.fingerprint());

  UNetConfig mc;
  mc.widths = o.widths;
  mc.dropout = o.dropout;
  std::unique_ptr<Backend> own_backend;
  if (backend == nullptr) {
    own_backend = NewCpuBackend();
    backend = own_backend.get();
  }
  // The step's ops run on the trainer's thread, in an arena of o.threads.
  tbb::task_arena arena(o.threads > 0 ? o.threads : tbb::this_task_arena::max_concurrency());
  UNet net(mc, backend);
  PETPREP_RETURN_IF_ERROR(arena.execute([&] { return net.Init(o.seed); }));
  std::vector<DeviceAdamSlot> slots;
  DeviceBatch db;
  DeviceTensor dl, loss_t;
  TrainState state;
  state.config_json = training.dump();
  state.dataset_fingerprint = d.fingerprint();
  state.image_size = side;
  state.seed = o.seed;

  const std::string metrics_path = o.out + "/metrics.jsonl";
  float last_loss = std::numeric_limits<float>::quiet_NaN();
  Json last_validation;
  double last_val_iou = std::numeric_limits<double>::quiet_NaN();
  if (o.resume) {
    auto list = ListCheckpoints(ckpt_dir);
    if (list.empty()) {
      // Stopped (killed) before its first checkpoint: the run starts over, as it began.
      result->notes.push_back(ckpt_dir + ": no checkpoint yet; the run starts again from step 0");
      PETPREP_RETURN_IF_ERROR(WriteFileAtomic(metrics_path, ""));
    }
  }
  if (o.resume && !ListCheckpoints(ckpt_dir).empty()) {
    auto list = ListCheckpoints(ckpt_dir);
    auto peek = PeekCheckpoint(list.back().second);
    if (!peek.ok()) return peek.status();
    if (peek->image_size != side) {
      return Status::InvalidArgument(list.back().second + ": the run trains on " +
                                     std::to_string(peek->image_size) + " px images, " + o.data +
                                     " holds " + std::to_string(side) +
                                     " px: resume with the run's dataset");
    }
    if (peek->dataset_fingerprint != d.fingerprint()) {
      return Status::InvalidArgument(list.back().second + ": the run trains on dataset " +
                                     peek->dataset_fingerprint + ", " + o.data + " is " +
                                     d.fingerprint() + ": resume with the run's dataset");
    }
    PETPREP_RETURN_IF_ERROR(LoadCheckpoint(list.back().second, &state, &net, &slots));
    PETPREP_RETURN_IF_ERROR(
        TruncateMetrics(metrics_path, state.step, &last_loss, &last_validation));
  } else if (!o.resume) {
    if (Exists(metrics_path) || !ListCheckpoints(ckpt_dir).empty()) {
      return Status::AlreadyExists(
          o.out + " holds a training run: --resume to continue it, or choose another --out");
    }
    PETPREP_RETURN_IF_ERROR(MakeDirs(ckpt_dir));
    config = Json();
    config["training"] = training;
    config["data"] = o.data;
    config["hash_every"] = o.hash_every;
    config["config_file"] = o.config_path.empty() ? Json() : Json(o.config_path);
    config["notes"] = result->notes;
    config["provenance"] = ProvenanceJson(CollectProvenance());
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(config_path, config.dump(2) + "\n"));
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(metrics_path, ""));
  }
  MetricsLog log;
  PETPREP_RETURN_IF_ERROR(log.Open(metrics_path));

  auto save = [&](const std::string& path) {
    LoaderState ls = loader.StateAt(state.step);
    state.loader_epoch = ls.epoch;
    state.loader_position = ls.position;
    return SaveCheckpoint(path, state, &net, slots);
  };
  auto save_step = [&]() -> Status {
    PETPREP_RETURN_IF_ERROR(log.Sync());  // no checkpoint is ahead of the lines it resumes
    PETPREP_RETURN_IF_ERROR(save(ckpt_dir + "/" + CheckpointName(state.step)));
    auto list = ListCheckpoints(ckpt_dir);
    for (size_t i = 0; i + static_cast<size_t>(std::max(1, o.keep_checkpoints)) < list.size();
         ++i) {
      std::remove(list[i].second.c_str());
    }
    return Status::Ok();
  };
  auto validate = [&]() -> Status {
    if (*val == nullptr) return Status::Ok();
    SegmentationMetrics m;
    PETPREP_RETURN_IF_ERROR(
        EvaluateSplit(*val, side, o.batch, spec, o.threads, o.loss, &net, &arena, &m));
    last_validation = m.ToJson();
    last_val_iou = m.MeanIou();
    Json line;
    line["epoch"] = (state.step - 1) / per_epoch;
    line["step"] = state.step;
    line["validation"] = last_validation;
    PETPREP_RETURN_IF_ERROR(log.Write(line));
    if (m.Loss() < state.best_val_loss) {
      state.best_val_loss = m.Loss();
      state.best_step = state.step;
      state.pending_validation = false;
      PETPREP_RETURN_IF_ERROR(save(ckpt_dir + "/best.ckpt"));
    }
    return Status::Ok();
  };

  ProgressOptions po = ProgressDefaults();
  if (o.quiet) po.quiet = true;
  Progress progress("train", end, Progress::Unit::kItems, "steps", po);
  progress.Set(state.step);
  const uint64_t start_step = state.step;
  const AdamOptions adam{o.lr};
  Status status;
  // The epoch that ends at a checkpoint's step is validated before the checkpoint is written,
  // unless a Ctrl-C came first: then the checkpoint says so and the resumed run validates.
  uint64_t validated = state.pending_validation ? 0 : state.step;
  if (state.pending_validation && state.step > 0) {
    status = validate();
    if (status.ok()) {
      state.pending_validation = false;
      validated = state.step;
      status = save_step();  // the checkpoint no longer asks for it
    }
  }
  // One stream for the whole run: the next batches decode while a step, or a validation, runs.
  std::unique_ptr<BatchStream> stream;
  if (status.ok() && state.step < end) {
    auto opened = loader.Open(state.step, end);
    if (opened.ok()) {
      stream = std::move(*opened);
    } else {
      status = opened.status();
    }
  }
  Batch b;
  auto train_step = [&]() -> Status {
    for (uint8_t c : b.masks) {
      if (c > 2) {
        return Status::Corruption(o.data + ": a mask of step " + std::to_string(state.step + 1) +
                                  " holds class " + std::to_string(c) +
                                  " (0 pet, 1 background, 2 border expected)");
      }
    }
    PETPREP_RETURN_IF_ERROR(UploadBatch(backend, b, &db));
    const DeviceTensor* logits = nullptr;
    PETPREP_RETURN_IF_ERROR(net.Forward(db.images, true, o.seed, state.step, &logits));
    PETPREP_RETURN_IF_ERROR(LossOf(backend, o.loss, *logits, db.labels, &loss_t, &dl));
    auto loss_or = backend->ReadScalar(loss_t);
    if (!loss_or.ok()) return loss_or.status();
    const float loss = *loss_or;
    if (!std::isfinite(loss)) {
      return Status::Internal("the loss is " + std::to_string(loss) + " at step " +
                              std::to_string(state.step + 1) + " (try a lower --lr)");
    }
    PETPREP_RETURN_IF_ERROR(net.Backward(dl));
    PETPREP_RETURN_IF_ERROR(
        AdamStep(backend, adam, state.step + 1, net.Params(), net.Grads(), &slots));
    ++state.step;
    last_loss = loss;
    Json line;
    line["step"] = state.step;
    line["epoch"] = (state.step - 1) / per_epoch;
    line["loss"] = loss;
    line["lr"] = o.lr;
    line["batch_sha256"] = ToHex(b.Digest());
    if ((o.hash_every > 0 && state.step % o.hash_every == 0) || state.step == total) {
      auto digest = net.WeightsDigest();
      if (!digest.ok()) return digest.status();
      line["weights_sha256"] = ToHex(*digest);
    }
    PETPREP_RETURN_IF_ERROR(log.Write(line));
    char note[96];
    std::snprintf(
        note, sizeof note, "loss %.4f  val mIoU %s", loss,
        std::isnan(last_val_iou) ? "-" : std::to_string(last_val_iou).substr(0, 5).c_str());
    progress.SetNote(note);
    progress.Set(state.step);
    return Status::Ok();
  };
  while (status.ok() && state.step < end) {
    auto more = stream->Next(&b);
    if (!more.ok()) {
      status = more.status();
      break;
    }
    if (!*more || b.step != state.step) {
      status = Status::Internal("the loader's stream gave no batch for step " +
                                std::to_string(state.step + 1));
      break;
    }
    status = arena.execute(train_step);
    if (status.ok()) status = CheckInterrupt();
    const bool epoch_end = state.step % per_epoch == 0;
    if (status.ok() && epoch_end) {
      state.pending_validation = true;
      status = validate();
      if (status.ok()) state.pending_validation = false, validated = state.step;
    }
    if (status.ok() && (epoch_end || state.step == end)) status = save_step();
  }
  stream.reset();
  if (status.IsInterrupted()) {
    progress.Finish();
    // Stopped right after an epoch's last step (the loader reports the interrupt on return).
    state.pending_validation =
        state.step > 0 && state.step % per_epoch == 0 && validated != state.step;
    Status s = save_step();
    if (!s.ok()) return s;
    return Status::Interrupted("interrupted at step " + std::to_string(state.step) +
                               "; checkpoint " + ckpt_dir + "/" + CheckpointName(state.step) +
                               " written (petprep train --out " + o.out + " --resume)");
  }
  PETPREP_RETURN_IF_ERROR(status);
  progress.Finish();

  Json test_metrics;
  if (*test != nullptr) {
    SegmentationMetrics m;
    PETPREP_RETURN_IF_ERROR(
        EvaluateSplit(*test, side, o.batch, spec, o.threads, o.loss, &net, &arena, &m));
    test_metrics = m.ToJson();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result->steps = state.step;
  result->finished = state.step == total;
  auto digest = net.WeightsDigest();
  if (!digest.ok()) return digest.status();
  result->weights_sha256 = ToHex(*digest);
  Json s;
  s["weights_sha256"] = result->weights_sha256;
  s["steps"] = state.step;
  s["total_steps"] = total;
  s["finished"] = result->finished;
  s["last_loss"] = last_loss;
  s["best_val_loss"] = std::isfinite(state.best_val_loss) ? Json(state.best_val_loss) : Json();
  s["best_step"] = state.best_step;
  s["validation"] = last_validation;
  s["test"] = test_metrics;
  s["time_s"] = seconds;
  s["steps_per_s"] = seconds > 0 ? static_cast<double>(state.step - start_step) / seconds : 0.0;
  s["threads"] = o.threads;
  s["model"] = "unet " + Join(o.widths) + " at " + std::to_string(side) + " px";
  result->summary = s;
  return WriteFileAtomic(o.out + "/summary.json", s.dump(2) + "\n");
}

Status EvaluateRun(const std::string& run, const std::string& split, const std::string& data,
                   const std::string& checkpoint, int threads, nlohmann::ordered_json* metrics) {
  LoadedRun r;
  PETPREP_RETURN_IF_ERROR(LoadRun(run, checkpoint, &r));
  const std::string dir = data.empty() ? r.data : data;
  auto dataset = DatasetReader::Open(dir);
  if (!dataset.ok()) return dataset.status();
  if ((*dataset)->image_size() != r.state.image_size) {
    return Status::InvalidArgument(
        dir + ": images are " + std::to_string((*dataset)->image_size()) +
        " px, the run was trained at " + std::to_string(r.state.image_size) + " px");
  }
  auto s = (*dataset)->Split(split);
  if (!s.ok()) return s.status();
  if ((*s)->size() == 0) return Status::InvalidArgument(dir + ": the " + split + " split is empty");
  SegmentationMetrics m;
  tbb::task_arena arena(threads > 0 ? threads : tbb::this_task_arena::max_concurrency());
  PETPREP_RETURN_IF_ERROR(EvaluateSplit(*s, r.state.image_size, r.options.batch, r.spec, threads,
                                        r.options.loss, r.net.get(), &arena, &m));
  Json j = m.ToJson();
  j["split"] = split;
  j["records"] = (*s)->size();
  j["step"] = r.state.step;
  auto digest = r.net->WeightsDigest();
  if (!digest.ok()) return digest.status();
  j["weights_sha256"] = ToHex(*digest);
  j["dataset_fingerprint"] = (*dataset)->fingerprint();
  *metrics = j;
  return WriteFileAtomic(run + "/eval-" + split + ".json", j.dump(2) + "\n");
}

Status PredictRun(const std::string& run, const std::vector<std::string>& images,
                  const std::string& out_dir, const std::string& checkpoint,
                  std::vector<std::string>* written) {
  LoadedRun r;
  PETPREP_RETURN_IF_ERROR(LoadRun(run, checkpoint, &r));
  PETPREP_RETURN_IF_ERROR(MakeDirs(out_dir));
  const int side = r.state.image_size;
  const AugmentParams p = DrawAugmentParams(EvalSpec(r.spec), 0, 0, 0, side, side, side);
  // Every input is read and decoded, and every output name checked, before anything is written.
  struct Input {
    std::string path, stem;
    Image rgb;
  };
  std::vector<Input> inputs;
  std::set<std::string> stems;
  for (const std::string& path : images) {
    auto bytes = ReadFile(path);
    if (!bytes.ok()) return bytes.status();
    auto src = ReadSourceImage(*bytes);
    if (!src.ok()) return src.status().WithContext(path);
    Input in;
    in.path = path;
    in.rgb = src->rgb;
    if (in.rgb.empty()) {
      auto decoded = DecodeJpeg(*bytes);
      if (!decoded.ok()) return decoded.status().WithContext(path);
      in.rgb = *decoded;
    }
    // OUT/<stem>; a petset folder's image.jpg is named after its pet (the folder).
    const size_t slash = path.find_last_of('/');
    std::string base = path.substr(slash == std::string::npos ? 0 : slash + 1);
    base = base.substr(0, base.find_last_of('.'));
    if (base == "image" && slash != std::string::npos && slash > 0) {
      const std::string parent = path.substr(0, slash);
      base = parent.substr(parent.find_last_of('/') + 1);
    }
    if (!stems.insert(base).second) {
      return Status::InvalidArgument(path + ": another input also makes " + out_dir + "/" + base +
                                     ".mask.png (give files of different names)");
    }
    in.stem = base;
    inputs.push_back(std::move(in));
  }
  DeviceTensor dx, classes;
  for (const Input& in : inputs) {
    const Image& rgb = in.rgb;
    Image small = ResizeBilinear(rgb, side, side);
    std::vector<uint8_t> blank(static_cast<size_t>(side) * side, 1), unused(blank.size());
    Tensor x(1, 3, side, side);
    AugmentSampleCpu(p, small.data.data(), blank.data(), x.data(), unused.data());
    PETPREP_RETURN_IF_ERROR(r.backend->Upload(x, &dx));
    const DeviceTensor* logits = nullptr;
    PETPREP_RETURN_IF_ERROR(r.net->Forward(dx, false, 0, 0, &logits));
    PETPREP_RETURN_IF_ERROR(r.backend->Argmax(*logits, &classes));
    Image mask_small(side, side, 1);
    PETPREP_RETURN_IF_ERROR(r.backend->DownloadBytes(classes, &mask_small.data));
    Image mask = ResizeNearest(mask_small, rgb.width, rgb.height);
    Image overlay = rgb;
    for (int y = 0; y < rgb.height; ++y) {
      for (int xx = 0; xx < rgb.width; ++xx) {
        const uint8_t c = mask.at(xx, y)[0];
        if (c == 1) continue;  // pet orange, border yellow, blended half and half
        const int tint[2][3] = {{255, 120, 0}, {255, 230, 0}};
        uint8_t* px = overlay.at(xx, y);
        for (int k = 0; k < 3; ++k)
          px[k] = static_cast<uint8_t>((px[k] + tint[c == 0 ? 0 : 1][k]) / 2);
      }
    }
    auto mask_png = EncodePng(mask);
    auto overlay_png = EncodePng(overlay);
    if (!mask_png.ok()) return mask_png.status().WithContext(in.path);
    if (!overlay_png.ok()) return overlay_png.status().WithContext(in.path);
    const std::string mp = out_dir + "/" + in.stem + ".mask.png";
    const std::string op = out_dir + "/" + in.stem + ".overlay.png";
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(mp, *mask_png));
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(op, *overlay_png));
    written->push_back(mp);
    written->push_back(op);
  }
  return Status::Ok();
}

}  // namespace petprep
