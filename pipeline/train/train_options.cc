#include "pipeline/train/train_options.h"

#include <algorithm>
#include <exception>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/read_file.h"
#include "pipeline/train/optim.h"

namespace petprep {

using Json = nlohmann::ordered_json;

const char* LossName(LossKind kind) { return kind == LossKind::kBceJaccard ? "bce-jaccard" : "ce"; }

Result<LossKind> ParseLoss(const std::string& name, const std::string& where) {
  if (name == "ce") return LossKind::kCrossEntropy;
  if (name == "bce-jaccard") return LossKind::kBceJaccard;
  return Status::InvalidArgument(where + " " + name + ": expected ce or bce-jaccard");
}

Json TrainingJson(const TrainOptions& o, const AugmentSpec& spec, uint64_t steps_per_epoch,
                  int image_size, const std::string& fingerprint) {
  Json t;
  t["seed"] = o.seed;
  t["epochs"] = o.epochs;
  t["steps_per_epoch"] = steps_per_epoch;
  t["batch"] = o.batch;
  t["lr"] = o.lr;
  t["loss"] = LossName(o.loss);
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

Status OptionsFromTraining(const Json& t, const std::string& source, TrainOptions* o,
                           AugmentSpec* spec) {
  std::string augment, loss;
  try {
    o->seed = t.at("seed").get<uint64_t>();
    o->epochs = t.at("epochs").get<int>();
    o->steps_per_epoch = t.at("steps_per_epoch").get<uint64_t>();
    o->batch = t.at("batch").get<int>();
    o->lr = t.at("lr").get<double>();
    loss = t.at("loss").get<std::string>();
    o->widths = t.at("model").at("widths").get<std::vector<int>>();
    o->dropout = t.at("model").at("dropout").get<float>();
    augment = t.at("augment").dump();
  } catch (const nlohmann::json::exception& e) {
    return JsonFieldError(source, e);
  }
  if (o->epochs < 1 || o->batch < 1 || o->widths.empty() || o->widths.size() > 8 ||
      *std::min_element(o->widths.begin(), o->widths.end()) < 1) {
    return Status::Corruption(source + ": the training section holds values out of range");
  }
  auto kind = ParseLoss(loss, source + " (loss)");
  if (!kind.ok()) return Status::Corruption(kind.status().message());
  o->loss = *kind;
  auto s = AugmentSpec::FromJson(augment, source + " (augment)");
  if (!s.ok()) return s.status();
  *spec = *s;
  return Status::Ok();
}

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
      if (!v.is_string()) return bad(k, "\"ce\" or \"bce-jaccard\"");
      auto kind = ParseLoss(v.get<std::string>(), path + ": 'loss'");
      if (!kind.ok()) return kind.status();
      if (set("loss")) o->loss = *kind;
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

Status ResolveNewRun(TrainOptions* o, AugmentSpec* spec, std::vector<std::string>* notes) {
  if (!o->config_path.empty()) PETPREP_RETURN_IF_ERROR(ApplyConfigFile(o->config_path, o, notes));
  if (o->augment_path.empty()) {
    *spec = AugmentSpec();
  } else {
    auto s = AugmentSpec::FromFile(o->augment_path);
    if (!s.ok()) return s.status();
    *spec = *s;
  }
  if (o->widths.empty() || o->widths.size() > 8)
    return Status::InvalidArgument("--widths: 1 to 8 levels");
  for (int w : o->widths) {
    if (w < 1 || w > 1024)
      return Status::InvalidArgument("--widths " + std::to_string(w) +
                                     ": each width must be in [1, 1024]");
  }
  return Status::Ok();
}

Status ResolveResumedRun(const Json& config, const std::string& config_path, TrainOptions* o,
                         AugmentSpec* spec, std::vector<std::string>* notes) {
  TrainOptions from = *o;
  PETPREP_RETURN_IF_ERROR(OptionsFromTraining(config["training"], config_path, &from, spec));
  for (const char* flag :
       {"seed", "epochs", "steps-per-epoch", "batch", "lr", "loss", "widths", "dropout"}) {
    if (o->given.count(flag) != 0) {
      notes->push_back(std::string("--") + flag +
                       " is ignored with --resume: the run keeps its own (" + config_path + ")");
    }
  }
  if (!o->config_path.empty() || !o->augment_path.empty()) {
    notes->push_back("--config and --augment are ignored with --resume: the run keeps its own");
  }
  if (o->given.count("hash-every") != 0) {
    notes->push_back(
        "--hash-every given with --resume: metrics.jsonl hashes the weights at other steps than "
        "the run began with");
  }
  const std::string ran_on = LastDevice(config);
  if (o->given.count("device") == 0) {
    from.device = ran_on;
  } else if (o->device != ran_on) {
    notes->push_back("--device " + o->device + " with --resume: the run continues on " + o->device +
                     " (it ran on " + ran_on + "); the weights are the same bits on every device");
  }
  PETPREP_RETURN_IF_ERROR(ReadJsonFields(config_path, [&]() -> Status {
    if (o->given.count("data") == 0) from.data = config.at("data").get<std::string>();
    if (o->given.count("hash-every") == 0) {
      from.hash_every = config.value("hash_every", o->hash_every);
    }
    if (o->given.count("trace-steps") == 0 && o->given.count("trace-tensors") == 0 &&
        config.contains("trace")) {
      from.trace_steps = config.at("trace").value("steps", "");
      from.trace_tensors = config.at("trace").value("tensors", false);
    }
    return Status::Ok();
  }));
  *o = from;
  return Status::Ok();
}

std::string LastDevice(const Json& config) {
  if (config.contains("segments") && config["segments"].is_array() && !config["segments"].empty()) {
    const Json& last = config["segments"].back();
    if (last.is_object() && last.contains("device") && last["device"].is_string()) {
      return last["device"].get<std::string>();
    }
  }
  return "cpu";
}

}  // namespace petprep
