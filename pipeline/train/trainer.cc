#include "pipeline/train/trainer.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/folder_lock.h"
#include "pipeline/core/interrupt.h"
#include "pipeline/core/progress.h"
#include "pipeline/core/shell_quote.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/loader/loader.h"
#include "pipeline/provenance/provenance.h"
#include "pipeline/train/checkpoint.h"
#include "pipeline/train/evaluate.h"
#include "pipeline/train/float_env.h"
#include "pipeline/train/optim.h"
#include "pipeline/train/run_folder.h"
#include "pipeline/train/trace.h"
#include "pipeline/train/unet.h"

namespace petprep {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string Join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "-" : "") + std::to_string(v[i]);
  return s;
}

Result<const SplitReader*> OptionalSplit(const DatasetReader& d, const std::string& name) {
  auto s = d.Split(name);
  if (!s.ok() || (*s)->size() == 0) return static_cast<const SplitReader*>(nullptr);
  return *s;
}

// One training run, from its options to summary.json.
class Training {
 public:
  Training(TrainOptions o, TrainResult* result, Backend* backend)
      : o_(std::move(o)), result_(result), folder_(o_.out), backend_(backend) {}

  Status Run() {
    const auto t0 = std::chrono::steady_clock::now();
    PETPREP_RETURN_IF_ERROR(LockRunFolder());
    Status ready = ResolveOptions();
    if (ready.ok()) ready = OpenDataset();
    if (ready.ok()) ready = MakeNetwork();
    if (!ready.ok()) {
      // A new run refused before it began leaves no folder behind that it made.
      if (made_out_ && !o_.resume) {
        lock_.reset();
        std::error_code ec;
        fs::remove(o_.out + "/" + kRunLockName, ec);
        fs::remove(o_.out, ec);  // only if empty
      }
      return ready;
    }
    PETPREP_RETURN_IF_ERROR(o_.resume ? Resume() : Begin());
    PETPREP_RETURN_IF_ERROR(log_.Open(folder_.metrics_path()));
    const uint64_t start_step = state_.step;
    PETPREP_RETURN_IF_ERROR(Loop());
    if (test_ != nullptr) {
      SegmentationMetrics m;
      PETPREP_RETURN_IF_ERROR(EvaluateSplit(test_, side_, o_.batch, spec_, o_.threads, o_.loss,
                                            net_.get(), arena_.get(), &m));
      result_->test = m.Summary();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return WriteSummary(seconds, state_.step - start_step);
  }

 private:
  // The run folder, locked for this command's life before anything in it is read: a new run
  // needs an absent or empty folder, a resume a petprep run.
  Status LockRunFolder() {
    const std::string& out = o_.out;
    if (out.empty()) return Status::InvalidArgument("--out: a run folder is needed");
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(out, ec);
    if (fs::exists(st) && !fs::is_directory(st)) {
      return Status::InvalidArgument(out + ": exists and is not a folder: choose another --out");
    }
    const std::string holder = DatasetHolding(out);
    if (!holder.empty()) {
      return Status::InvalidArgument("--out " + out + " is inside the dataset " + holder +
                                     ": choose a folder outside it");
    }
    // Nothing lands in a folder that is not petprep's, not even the lock file.
    auto check = [&]() -> Status {
      if (o_.resume) {
        if (!folder_.HasConfig()) {
          return Status::NotFound(folder_.config_path() +
                                  ": nothing to resume (run without --resume to start " + out +
                                  ")");
        }
        return Status::Ok();
      }
      if (folder_.HasConfig()) {
        return Status::AlreadyExists(
            out + " holds a training run: --resume to continue it, or choose another --out");
      }
      for (const auto& e : fs::directory_iterator(out, ec)) {
        if (e.path().filename() != kRunLockName) {
          return Status::InvalidArgument(out + ": not empty and not a petprep run (it holds " +
                                         e.path().filename().string() +
                                         "): a new run needs an empty or new --out folder");
        }
      }
      return Status::Ok();
    };
    // A folder with a lock file is petprep's: checked once the lock is ours (another petprep may
    // be half-way through making it a run).
    if ((fs::exists(st) || o_.resume) && !fs::exists(out + "/" + kRunLockName, ec)) {
      PETPREP_RETURN_IF_ERROR(check());
    }
    made_out_ = !fs::exists(st);
    PETPREP_RETURN_IF_ERROR(MakeDirs(out));
    auto lock = FolderLock::Acquire(out, out + "/" + kRunLockName);
    if (!lock.ok()) return lock.status();
    lock_ = std::move(*lock);
    PETPREP_RETURN_IF_ERROR(check());  // again, now that no other petprep can change it
    if (o_.resume) {
      for (const std::string& dir : {out, folder_.checkpoints_dir()}) {
        const int removed = RemoveStaleTempFiles(dir);
        if (removed > 0) {
          result_->notes.push_back(dir + ": removed " + std::to_string(removed) +
                                   " temporary files of a process that is gone");
        }
      }
    }
    return Status::Ok();
  }

  // Options: a new run's from the command line and its files, a resumed run's from config.json.
  Status ResolveOptions() {
    if (!o_.resume) {
      PETPREP_RETURN_IF_ERROR(ResolveNewRun(&o_, &spec_, &result_->notes));
    } else {
      if (!folder_.HasConfig()) {
        return Status::NotFound(folder_.config_path() +
                                ": nothing to resume (run without --resume " + "to start " +
                                o_.out + ")");
      }
      PETPREP_RETURN_IF_ERROR(folder_.ReadConfig(&config_));
      PETPREP_RETURN_IF_ERROR(
          ResolveResumedRun(config_, folder_.config_path(), &o_, &spec_, &result_->notes));
    }
    return ResolveTrace();
  }

  // --trace-steps / --trace-tensors, and the test-only fault switch (trace.h).
  Status ResolveTrace() {
    TraceSpec spec;
    if (!o_.trace_steps.empty()) {
      auto parsed = TraceSpec::Parse(o_.trace_steps);
      if (!parsed.ok()) return parsed.status();
      spec = *parsed;
    } else if (o_.trace_tensors) {
      return Status::InvalidArgument("--trace-tensors needs --trace-steps A:B (which steps)");
    }
    spec.tensors = o_.trace_tensors;
    auto fault = FaultSpec::FromEnvironment();
    if (!fault.ok()) return fault.status();
    if (fault->enabled()) {
      result_->notes.push_back("PETPREP_FAULT=\"" + fault->ToString() +
                               "\": a test-only fault changes one op's result; this run's "
                               "numbers are not petprep's");
    }
    trace_ = std::make_unique<OpTrace>(o_.out, spec, *fault);
    if (!trace_->wanted()) trace_.reset();
    return Status::Ok();
  }

  Status OpenDataset() {
    auto dataset = DatasetReader::Open(o_.data);
    if (!dataset.ok()) return dataset.status();
    dataset_ = std::move(*dataset);
    side_ = dataset_->image_size();
    const int levels = static_cast<int>(o_.widths.size());
    if (side_ % (1 << (levels - 1)) != 0) {
      return Status::InvalidArgument(o_.data + ": images are " + std::to_string(side_) +
                                     " px, not a multiple of " + std::to_string(1 << (levels - 1)) +
                                     " as a " + std::to_string(levels) +
                                     "-level U-Net needs (partition with --size a multiple of it)");
    }
    auto train_split = dataset_->Split("train");
    if (!train_split.ok()) return train_split.status();
    if ((*train_split)->size() == 0)
      return Status::InvalidArgument(o_.data + ": the train split is empty");
    val_ = *OptionalSplit(*dataset_, "validation");
    test_ = *OptionalSplit(*dataset_, "test");
    if (val_ == nullptr)
      result_->notes.push_back(o_.data + ": no validation records: epochs are not validated");
    LoaderOptions lo;
    lo.batch = o_.batch;
    lo.seed = o_.seed;
    lo.augment = spec_;
    lo.threads = o_.threads;
    loader_ = std::make_unique<Loader>(*train_split, side_, lo);
    per_epoch_ = o_.steps_per_epoch > 0 ? o_.steps_per_epoch : loader_->batches_per_epoch();
    total_ = per_epoch_ * static_cast<uint64_t>(o_.epochs);
    end_ = o_.max_steps > 0 ? std::min(o_.max_steps, total_) : total_;
    return Status::Ok();
  }

  // The network at its seeded initialisation, on the backend; the step's ops run on this
  // thread in an arena of o.threads.
  Status MakeNetwork() {
    if (backend_ == nullptr) {
      auto made = MakeBackend(o_.device);
      if (!made.ok()) return made.status();
      own_backend_ = std::move(*made);
      backend_ = own_backend_.get();
    }
    o_.device = backend_->name();
    result_->device = backend_->Describe();
    if (o_.on_device) o_.on_device(result_->device);
    arena_ = std::make_unique<tbb::task_arena>(
        o_.threads > 0 ? o_.threads : tbb::this_task_arena::max_concurrency());
    UNetConfig mc;
    mc.widths = o_.widths;
    mc.dropout = o_.dropout;
    net_ = std::make_unique<UNet>(mc, backend_);
    PETPREP_RETURN_IF_ERROR(arena_->execute([&] { return net_->Init(o_.seed); }));
    net_->SetTrace(trace_.get());
    training_ = TrainingJson(o_, spec_, per_epoch_, side_, dataset_->fingerprint());
    state_.config_json = training_.dump();
    state_.dataset_fingerprint = dataset_->fingerprint();
    state_.image_size = side_;
    state_.seed = o_.seed;
    return Status::Ok();
  }

  // A new run: config.json and an empty metrics.jsonl.
  Status Begin() {
    Json config;
    config["training"] = training_;
    config["data"] = o_.data;
    config["hash_every"] = o_.hash_every;
    if (!o_.trace_steps.empty()) {
      config["trace"] = Json{{"steps", o_.trace_steps}, {"tensors", o_.trace_tensors}};
    }
    config["config_file"] = o_.config_path.empty() ? Json() : Json(o_.config_path);
    config["notes"] = result_->notes;
    config["provenance"] = ProvenanceJson(CollectProvenance());
    config["segments"] = Json::array({Segment(0)});
    return folder_.Create(config);
  }

  // Where a stretch of the run's steps ran, from `step` on: config.json's "segments".
  Json Segment(uint64_t step) const {
    return Json{{"from_step", step},
                {"device", o_.device},
                {"describe", result_->device},
                {"threads", arena_->max_concurrency()}};
  }

  // A resumed run's new segment, recorded in config.json before its first step.
  Status RecordSegment() {
    if (!config_.contains("segments") || !config_["segments"].is_array()) {
      config_["segments"] = Json::array();
    }
    config_["segments"].push_back(Segment(state_.step));
    return WriteFileAtomic(folder_.config_path(), config_.dump(2) + "\n");
  }

  // A resumed run: the newest checkpoint's weights, moments and state, and metrics.jsonl cut
  // back to its step.
  Status Resume() {
    auto list = folder_.StepCheckpoints();
    if (list.empty()) {
      // Stopped (killed) before its first checkpoint: the run starts over, as it began.
      result_->notes.push_back(folder_.checkpoints_dir() +
                               ": no checkpoint yet; the run starts again from step 0");
      PETPREP_RETURN_IF_ERROR(RecordSegment());
      if (trace_ != nullptr) PETPREP_RETURN_IF_ERROR(trace_->TruncateAfter(0));
      return folder_.ClearMetrics();
    }
    const std::string& newest = list.back().second;
    auto peek = PeekCheckpoint(newest);
    if (!peek.ok()) return peek.status();
    if (peek->image_size != side_) {
      return Status::InvalidArgument(
          newest + ": the run trains on " + std::to_string(peek->image_size) + " px images, " +
          o_.data + " holds " + std::to_string(side_) + " px: resume with the run's dataset");
    }
    if (peek->dataset_fingerprint != dataset_->fingerprint()) {
      return Status::InvalidArgument(newest + ": the run trains on dataset " +
                                     peek->dataset_fingerprint + ", " + o_.data + " is " +
                                     dataset_->fingerprint() + ": resume with the run's dataset");
    }
    PETPREP_RETURN_IF_ERROR(LoadCheckpoint(newest, &state_, net_.get(), &slots_));
    Json last_validation;
    PETPREP_RETURN_IF_ERROR(
        folder_.TruncateMetrics(state_.step, &result_->last_loss, &last_validation));
    if (last_validation.is_object()) {
      result_->validation = MetricsSummary::FromJson(last_validation);
    }
    if (trace_ != nullptr) PETPREP_RETURN_IF_ERROR(trace_->TruncateAfter(state_.step));
    return RecordSegment();
  }

  Status Save(const std::string& path) {
    LoaderState ls = loader_->StateAt(state_.step);
    state_.loader_epoch = ls.epoch;
    state_.loader_position = ls.position;
    return SaveCheckpoint(path, state_, net_.get(), slots_);
  }

  // A step checkpoint, after the metrics lines it resumes are durable; the oldest rotate out.
  Status SaveStep() {
    PETPREP_RETURN_IF_ERROR(log_.Sync());
    PETPREP_RETURN_IF_ERROR(Save(folder_.step_checkpoint(state_.step)));
    folder_.RotateCheckpoints(o_.keep_checkpoints);
    return Status::Ok();
  }

  // The validation split after an epoch: a metrics line, and best.ckpt when the loss is the
  // lowest yet.
  Status Validate() {
    if (val_ == nullptr) return Status::Ok();
    SegmentationMetrics m;
    PETPREP_RETURN_IF_ERROR(EvaluateSplit(val_, side_, o_.batch, spec_, o_.threads, o_.loss,
                                          net_.get(), arena_.get(), &m));
    result_->validation = m.Summary();
    Json line;
    line["epoch"] = (state_.step - 1) / per_epoch_;
    line["step"] = state_.step;
    line["validation"] = m.ToJson();
    PETPREP_RETURN_IF_ERROR(log_.Write(line));
    if (m.Loss() < state_.best_val_loss) {
      state_.best_val_loss = m.Loss();
      state_.best_step = state_.step;
      state_.pending_validation = false;
      PETPREP_RETURN_IF_ERROR(Save(folder_.best_checkpoint()));
    }
    return Status::Ok();
  }

  // One step on batch b: forward, loss, backward, Adam; its metrics line.
  Status Step(const Batch& b) {
    for (uint8_t c : b.masks) {
      if (c > 2) {
        return Status::Corruption(o_.data + ": a mask of step " + std::to_string(state_.step + 1) +
                                  " holds class " + std::to_string(c) +
                                  " (0 pet, 1 background, 2 border expected)");
      }
    }
    if (trace_ != nullptr) trace_->BeginStep(state_.step + 1);
    auto note = [&](const std::string& op, const char* kind, DeviceTensor* t) {
      return trace_ != nullptr ? trace_->Note(op, kind, t) : Status::Ok();
    };
    PETPREP_RETURN_IF_ERROR(UploadBatch(backend_, b, &batch_));
    PETPREP_RETURN_IF_ERROR(note("input", "forward", &batch_.images));
    const DeviceTensor* logits = nullptr;
    PETPREP_RETURN_IF_ERROR(net_->Forward(batch_.images, true, o_.seed, state_.step, &logits));
    PETPREP_RETURN_IF_ERROR(LossOf(backend_, o_.loss, *logits, batch_.labels, &loss_, &dlogits_));
    PETPREP_RETURN_IF_ERROR(note("loss", "forward", &loss_));
    PETPREP_RETURN_IF_ERROR(note("loss", "backward", &dlogits_));
    auto loss_or = backend_->ReadScalar(loss_);
    if (!loss_or.ok()) return loss_or.status();
    const float loss = *loss_or;
    if (!std::isfinite(loss)) {
      return Status::Internal("the loss is " + std::to_string(loss) + " at step " +
                              std::to_string(state_.step + 1) + " (try a lower --lr)");
    }
    PETPREP_RETURN_IF_ERROR(net_->Backward(dlogits_));
    PETPREP_RETURN_IF_ERROR(AdamStep(backend_, AdamOptions{o_.lr}, state_.step + 1, net_->Params(),
                                     net_->Grads(), &slots_));
    if (trace_ != nullptr && trace_->active()) {
      const std::vector<std::string> names = net_->ParamNames();
      const std::vector<DeviceTensor*> params = net_->Params();
      for (size_t i = 0; i < params.size(); ++i) {
        PETPREP_RETURN_IF_ERROR(note(names[i], "update", params[i]));
      }
    }
    if (trace_ != nullptr) PETPREP_RETURN_IF_ERROR(trace_->EndStep());
    ++state_.step;
    result_->last_loss = loss;
    Json line;
    line["step"] = state_.step;
    line["epoch"] = (state_.step - 1) / per_epoch_;
    line["loss"] = loss;
    line["lr"] = o_.lr;
    line["batch_sha256"] = ToHex(b.Digest());
    line["pet_ids"] = b.pet_ids;
    Json samples = Json::array();
    for (const Sha256Digest& d : b.SampleDigests()) samples.push_back(ToHex(d).substr(0, 16));
    line["sample_sha256"] = samples;
    if ((o_.hash_every > 0 && state_.step % o_.hash_every == 0) || state_.step == total_) {
      auto digest = net_->WeightsDigest();
      if (!digest.ok()) return digest.status();
      line["weights_sha256"] = ToHex(*digest);
    }
    line["device"] = o_.device;
    return log_.Write(line);
  }

  std::string ProgressNote() const {
    const double iou = result_->validation ? result_->validation->mean_iou : NAN;
    char note[96];
    std::snprintf(note, sizeof note, "loss %.4f  val mIoU %s", result_->last_loss,
                  std::isnan(iou) ? "-" : std::to_string(iou).substr(0, 5).c_str());
    return note;
  }

  // Steps up to end_, validating and checkpointing at each epoch's end. The epoch that ends at
  // a checkpoint's step is validated before the checkpoint is written, unless a Ctrl-C came
  // first: then the checkpoint says so and the resumed run validates.
  Status Loop() {
    ProgressOptions po = ProgressDefaults();
    if (o_.quiet) po.quiet = true;
    Progress progress("train", end_, Progress::Unit::kItems, "steps", po);
    progress.Set(state_.step);
    Status status;
    uint64_t validated = state_.pending_validation ? 0 : state_.step;
    if (state_.pending_validation && state_.step > 0) {
      status = Validate();
      if (status.ok()) {
        state_.pending_validation = false;
        validated = state_.step;
        status = SaveStep();  // the checkpoint no longer asks for it
      }
    }
    // One stream for the whole run: the next batches decode while a step or a validation runs.
    std::unique_ptr<BatchStream> stream;
    if (status.ok() && state_.step < end_) {
      auto opened = loader_->Open(state_.step, end_);
      if (opened.ok()) {
        stream = std::move(*opened);
      } else {
        status = opened.status();
      }
    }
    Batch b;
    while (status.ok() && state_.step < end_) {
      auto more = stream->Next(&b);
      if (!more.ok()) {
        status = more.status();
        break;
      }
      if (!*more || b.step != state_.step) {
        status = Status::Internal("the loader's stream gave no batch for step " +
                                  std::to_string(state_.step + 1));
        break;
      }
      status = arena_->execute([&] { return Step(b); });
      if (!status.ok()) break;
      progress.SetNote(ProgressNote());
      progress.Set(state_.step);
      status = CheckInterrupt();
      const bool epoch_end = state_.step % per_epoch_ == 0;
      if (status.ok() && epoch_end) {
        state_.pending_validation = true;
        status = Validate();
        if (status.ok()) state_.pending_validation = false, validated = state_.step;
      }
      if (status.ok() && (epoch_end || state_.step == end_)) status = SaveStep();
    }
    stream.reset();
    if (status.IsInterrupted()) {
      progress.Finish();
      // Stopped right after an epoch's last step, before its validation.
      state_.pending_validation =
          state_.step > 0 && state_.step % per_epoch_ == 0 && validated != state_.step;
      PETPREP_RETURN_IF_ERROR(SaveStep());
      return Status::Interrupted(
          "interrupted at step " + std::to_string(state_.step) + "; checkpoint " +
          folder_.step_checkpoint(state_.step) + " written (" +
          ShellCommand({"petprep", "train", "--out", o_.out, "--resume"}) + ")");
    }
    PETPREP_RETURN_IF_ERROR(status);
    progress.Finish();
    return Status::Ok();
  }

  Status WriteSummary(double seconds, uint64_t steps_run) {
    auto digest = net_->WeightsDigest();
    if (!digest.ok()) return digest.status();
    TrainResult& r = *result_;
    r.steps = state_.step;
    r.total_steps = total_;
    r.finished = state_.step == total_;
    r.weights_sha256 = ToHex(*digest);
    r.model = "unet " + Join(o_.widths) + " at " + std::to_string(side_) + " px";
    Json s;
    s["weights_sha256"] = r.weights_sha256;
    s["steps"] = r.steps;
    s["total_steps"] = r.total_steps;
    s["finished"] = r.finished;
    s["last_loss"] = r.last_loss;
    s["best_val_loss"] = std::isfinite(state_.best_val_loss) ? Json(state_.best_val_loss) : Json();
    s["best_step"] = state_.best_step;
    s["validation"] = r.validation ? r.validation->ToJson() : Json();
    s["test"] = r.test ? r.test->ToJson() : Json();
    s["time_s"] = seconds;
    s["steps_per_s"] = seconds > 0 ? static_cast<double>(steps_run) / seconds : 0.0;
    s["threads"] = o_.threads;
    s["device"] = r.device;
    s["model"] = r.model;
    return WriteFileAtomic(folder_.summary_path(), s.dump(2) + "\n");
  }

  TrainOptions o_;
  TrainResult* result_;
  RunFolder folder_;
  Json config_;  // a resumed run's config.json
  Json training_;
  AugmentSpec spec_;
  std::unique_ptr<DatasetReader> dataset_;
  int side_ = 0;
  const SplitReader* val_ = nullptr;
  const SplitReader* test_ = nullptr;
  std::unique_ptr<Loader> loader_;
  uint64_t per_epoch_ = 0, total_ = 0, end_ = 0;
  Backend* backend_;
  std::unique_ptr<Backend> own_backend_;
  std::unique_ptr<tbb::task_arena> arena_;
  std::unique_ptr<UNet> net_;
  std::unique_ptr<OpTrace> trace_;  // null: no trace and no fault
  std::vector<DeviceAdamSlot> slots_;
  DeviceBatch batch_;
  DeviceTensor loss_, dlogits_;
  TrainState state_;
  MetricsLog log_;
  std::unique_ptr<FolderLock> lock_;
  bool made_out_ = false;  // this command made the run folder
};

}  // namespace

Status Train(TrainOptions o, TrainResult* result, Backend* backend) {
  const FloatEnv fp_before = ClearFlushToZero();
  if (!fp_before.ok()) {
    result->notes.push_back("the CPU's " + fp_before.Describe() +
                            " mode was on; cleared for training (subnormals as IEEE requires)");
  }
  Training training(std::move(o), result, backend);
  return training.Run();
}

}  // namespace petprep
