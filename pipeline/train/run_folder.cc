#include "pipeline/train/run_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <sstream>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/read_file.h"
#include "pipeline/core/shell_quote.h"

namespace petprep {

using Json = nlohmann::ordered_json;

namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

std::string RunFolder::step_checkpoint(uint64_t step) const {
  return checkpoints_dir() + "/" + CheckpointName(step);
}

bool RunFolder::HasConfig() const { return Exists(config_path()); }

Status RunFolder::ReadConfig(Json* config) const {
  const std::string path = config_path();
  PETPREP_RETURN_IF_ERROR(ReadJsonFile(path, config));
  if (!config->is_object() || !config->contains("training") || !(*config)["training"].is_object()) {
    return Status::Corruption(path + ": not a run configuration (no training section)");
  }
  if (!config->contains("data") || !(*config)["data"].is_string() ||
      (*config)["data"].get<std::string>().empty()) {
    return Status::Corruption(path + ": at /data: the run's dataset folder is missing (a string)");
  }
  return Status::Ok();
}

Status RunFolder::Create(const Json& config) const {
  if (Exists(metrics_path()) || !StepCheckpoints().empty()) {
    return Status::AlreadyExists(
        dir_ + " holds a training run: --resume to continue it, or choose another --out");
  }
  PETPREP_RETURN_IF_ERROR(MakeDirs(checkpoints_dir()));
  PETPREP_RETURN_IF_ERROR(WriteFileAtomic(config_path(), config.dump(2) + "\n"));
  return ClearMetrics();
}

std::vector<std::pair<uint64_t, std::string>> RunFolder::StepCheckpoints() const {
  return ListCheckpoints(checkpoints_dir());
}

Result<std::string> RunFolder::ChooseCheckpoint(const std::string& which) const {
  if (which == "best") {
    std::string p = best_checkpoint();
    if (!Exists(p))
      return Status::NotFound(p + ": no best checkpoint (the run has not validated yet)");
    return p;
  }
  if (!which.empty()) return which;
  auto list = StepCheckpoints();
  if (list.empty()) {
    return Status::NotFound(checkpoints_dir() + ": no step checkpoint (run: " +
                            ShellCommand({"petprep", "train", "--out", dir_}) + ")");
  }
  return list.back().second;
}

void RunFolder::RotateCheckpoints(int keep) const {
  auto list = StepCheckpoints();
  for (size_t i = 0; i + static_cast<size_t>(std::max(1, keep)) < list.size(); ++i) {
    std::remove(list[i].second.c_str());
  }
}

Status RunFolder::ClearMetrics() const { return WriteFileAtomic(metrics_path(), ""); }

Status RunFolder::TruncateMetrics(uint64_t step, float* last_loss, Json* last_validation) const {
  const std::string path = metrics_path();
  auto text = ReadFile(path, kMetricsLogLimit);
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

MetricsLog::~MetricsLog() {
  if (f_ != nullptr) std::fclose(f_);
}

Status MetricsLog::Open(const std::string& path) {
  path_ = path;
  f_ = std::fopen(path.c_str(), "ab");
  if (f_ == nullptr) return Status::IoError(path + ": cannot open for writing");
  return Status::Ok();
}

Status MetricsLog::Sync() {
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0)
    return Status::IoError(path_ + ": fsync failed");
  return Status::Ok();
}

Status MetricsLog::Write(const Json& j) {
  std::string line = j.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0) {
    return Status::IoError(path_ + ": write failed");
  }
  return Status::Ok();
}

Status LoadRun(const std::string& run, const std::string& checkpoint, const std::string& device,
               LoadedRun* r) {
  RunFolder folder(run);
  if (!folder.HasConfig()) {
    return Status::NotFound(run + ": not a training run (no config.json; run: " +
                            ShellCommand({"petprep", "train", "--out", run}) + ")");
  }
  Json config;
  PETPREP_RETURN_IF_ERROR(folder.ReadConfig(&config));
  PETPREP_RETURN_IF_ERROR(
      OptionsFromTraining(config["training"], folder.config_path(), &r->options, &r->spec));
  r->data = config.value("data", "");
  auto path = folder.ChooseCheckpoint(checkpoint);
  if (!path.ok()) return path.status();
  UNetConfig mc;
  mc.widths = r->options.widths;
  mc.dropout = r->options.dropout;
  auto backend = MakeBackend(device);
  if (!backend.ok()) return backend.status();
  r->backend = std::move(*backend);
  r->net = std::make_unique<UNet>(mc, r->backend.get());
  std::vector<DeviceAdamSlot> slots;
  PETPREP_RETURN_IF_ERROR(LoadCheckpoint(*path, &r->state, r->net.get(), &slots));
  const Json& t = config["training"];
  return ReadJsonFields(folder.config_path(), [&]() -> Status {
    if (t.contains("image_size") && t.at("image_size").get<int64_t>() != r->state.image_size) {
      return Status::Corruption(
          *path + ": holds weights for " + std::to_string(r->state.image_size) + " px images, " +
          folder.config_path() + " says " + t.at("image_size").dump() + " px");
    }
    return Status::Ok();
  });
}

Result<std::unique_ptr<DatasetReader>> OpenRunDataset(const LoadedRun& r, const std::string& dir) {
  auto dataset = DatasetReader::Open(dir.empty() ? r.data : dir);
  if (!dataset.ok()) return dataset.status();
  if ((*dataset)->image_size() != r.state.image_size) {
    return Status::InvalidArgument(
        (dir.empty() ? r.data : dir) + ": images are " + std::to_string((*dataset)->image_size()) +
        " px, the run was trained at " + std::to_string(r.state.image_size) + " px");
  }
  return dataset;
}

}  // namespace petprep
