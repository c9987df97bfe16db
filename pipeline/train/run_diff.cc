#include "pipeline/train/run_diff.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <tuple>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/json_file.h"
#include "pipeline/core/read_file.h"
#include "pipeline/train/run_folder.h"
#include "pipeline/train/trace.h"
#include "pipeline/train/train_options.h"

namespace petprep {

namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Every leaf of a JSON object as "a.b.c" -> its compact text.
void Flatten(const Json& j, const std::string& prefix, std::map<std::string, std::string>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      Flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
    return;
  }
  (*out)[prefix] = j.is_string() ? j.get<std::string>() : j.dump();
}

// "key: A vs B" for each key whose value differs (or is missing on one side).
std::vector<std::string> Differences(const Json& a, const Json& b) {
  std::map<std::string, std::string> fa, fb;
  Flatten(a, "", &fa);
  Flatten(b, "", &fb);
  std::vector<std::string> out;
  std::map<std::string, std::pair<std::string, std::string>> all;
  for (const auto& [k, v] : fa) all[k].first = v;
  for (const auto& [k, v] : fb) all[k].second = v;
  for (const auto& [k, v] : all) {
    if (fa.count(k) && fb.count(k) && v.first == v.second) continue;
    out.push_back(k + ": " + (fa.count(k) ? v.first : "(none)") + " vs " +
                  (fb.count(k) ? v.second : "(none)"));
  }
  return out;
}

// How a run ran: its segments' devices and thread counts, e.g. "cpu (SIMD path avx2), 2
// threads; from step 5: cuda-sim (...), 2 threads".
std::string RanOn(const Json& config) {
  std::string s;
  if (!config.contains("segments") || !config["segments"].is_array()) return "(not recorded)";
  for (const Json& seg : config["segments"]) {
    if (!seg.is_object()) continue;
    std::string part = seg.value("describe", seg.value("device", std::string("?")));
    if (seg.contains("threads")) {
      const std::string t = seg["threads"].dump();
      part += ", " + t + (t == "1" ? " thread" : " threads");
    }
    const uint64_t from = seg.value("from_step", uint64_t{0});
    s += (s.empty() ? "" : "; ") + (from > 0 ? "from step " + std::to_string(from) + ": " : "") +
         part;
  }
  return s;
}

// Steps beyond this are not a run petprep wrote (2^53: exact in a double, as JSON readers keep it).
constexpr uint64_t kMaxStepNumber = uint64_t{1} << 53;

struct StepLine {
  std::string batch, weights;
  Json loss;
  std::vector<std::string> pet_ids, samples;
};

Status ReadSteps(const std::string& path, std::map<uint64_t, StepLine>* steps) {
  auto text = ReadFile(path, kMetricsLogLimit);
  if (!text.ok()) return text.status();
  std::istringstream in(*text);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    Json j;
    PETPREP_RETURN_IF_ERROR(ParseJsonLine(line, path, number, &j));
    const std::string where = path + ": line " + std::to_string(number);
    PETPREP_RETURN_IF_ERROR(ReadJsonFields(where, [&]() -> Status {
      if (!j.is_object()) return Status::Corruption(where + ": not a JSON object");
      if (j.contains("validation")) return Status::Ok();
      // A step the comparison could not place would make two runs look "the same".
      const Json& at = j.at("step");
      if (!at.is_number_unsigned() || at.get<uint64_t>() > kMaxStepNumber) {
        return Status::Corruption(where + ": at /step: " + at.dump() +
                                  " is not a step number (an integer from 0 to " +
                                  std::to_string(kMaxStepNumber) + ")");
      }
      const uint64_t step = at.get<uint64_t>();
      if (steps->count(step) != 0) {
        return Status::Corruption(where + ": step " + std::to_string(step) +
                                  " appears a second time");
      }
      StepLine s;
      s.batch = j.value("batch_sha256", "");
      s.weights = j.value("weights_sha256", "");
      s.loss = j.at("loss");
      if (j.contains("pet_ids")) s.pet_ids = j.at("pet_ids").get<std::vector<std::string>>();
      if (j.contains("sample_sha256")) {
        s.samples = j.at("sample_sha256").get<std::vector<std::string>>();
      }
      (*steps)[step] = std::move(s);
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

std::string Number(const Json& v) {
  if (!v.is_number()) return v.dump();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v.get<double>());
  return buf;
}

// Which sample of two differing batches differs first, when the runs recorded them.
std::string SampleDetail(const StepLine& a, const StepLine& b) {
  const size_t n = std::min(a.pet_ids.size(), b.pet_ids.size());
  for (size_t i = 0; i < n; ++i) {
    if (a.pet_ids[i] != b.pet_ids[i]) {
      return "sample " + std::to_string(i) + ": pet " + a.pet_ids[i] + " vs " + b.pet_ids[i] +
             ", the order";
    }
  }
  if (a.pet_ids.size() != b.pet_ids.size() && !a.pet_ids.empty() && !b.pet_ids.empty()) {
    return std::to_string(a.pet_ids.size()) + " samples vs " + std::to_string(b.pet_ids.size());
  }
  const size_t m = std::min({a.samples.size(), b.samples.size(), a.pet_ids.size()});
  for (size_t i = 0; i < m; ++i) {
    if (a.samples[i] != b.samples[i]) {
      return "sample " + std::to_string(i) + " (pet " + a.pet_ids[i] +
             "): the same pet, other bytes, the augmentation";
    }
  }
  return "";
}

// The first difference at one step, or none.
std::optional<RunComparison::StepDifference> CompareStep(uint64_t step, const StepLine& a,
                                                         const StepLine& b) {
  if (a.batch != b.batch) {
    std::string detail = SampleDetail(a, b);
    return RunComparison::StepDifference{step, "batches", detail};
  }
  if (a.loss != b.loss) {
    return RunComparison::StepDifference{
        step, "loss", Number(a.loss) + " vs " + Number(b.loss) + ", with the same batches"};
  }
  if (!a.weights.empty() && !b.weights.empty() && a.weights != b.weights) {
    return RunComparison::StepDifference{step, "weights",
                                         a.weights.substr(0, 16) + "... vs " +
                                             b.weights.substr(0, 16) +
                                             "..., with the same batches and loss"};
  }
  return std::nullopt;
}

void CompareTraces(RunComparison* d) {
  auto ta = ReadTrace(d->a + "/trace.txt");
  auto tb = ReadTrace(d->b + "/trace.txt");
  if (!ta.ok() || !tb.ok()) {
    d->trace_note = (!ta.ok() ? ta.status() : tb.status()).message();
    return;
  }
  if (ta->empty() || tb->empty()) {
    if (!ta->empty() || !tb->empty()) {
      d->trace_note = std::string("only run ") + (ta->empty() ? "B" : "A") +
                      " has a trace (train --trace-steps A:B)";
    }
    return;
  }
  std::map<uint64_t, std::vector<const TraceLine*>> sa, sb;
  for (const TraceLine& l : *ta) sa[l.step].push_back(&l);
  for (const TraceLine& l : *tb) sb[l.step].push_back(&l);
  for (const auto& [step, la] : sa) {
    auto it = sb.find(step);
    if (it == sb.end()) continue;
    const auto& lb = it->second;
    for (size_t i = 0; i < std::min(la.size(), lb.size()); ++i) {
      if (la[i]->op != lb[i]->op || la[i]->kind != lb[i]->kind) {
        d->trace_note = "step " + std::to_string(step) + ": the traces list other ops (" +
                        la[i]->op + " " + la[i]->kind + " vs " + lb[i]->op + " " + lb[i]->kind +
                        "): the networks differ";
        return;
      }
      if (la[i]->sha256 != lb[i]->sha256) {
        RunComparison::OpDifference op{step, la[i]->op, la[i]->kind, ""};
        const std::string pa = TraceTensorPath(d->a, step, op.op, op.kind);
        const std::string pb = TraceTensorPath(d->b, step, op.op, op.kind);
        std::error_code ec;
        if (fs::exists(pa, ec) && fs::exists(pb, ec)) {
          op.detail = DescribeTensorDifference(pa, pb);
        } else {
          op.detail = "(run both with --trace-tensors to see how large the difference is)";
        }
        d->first_op = op;
        return;
      }
    }
  }
  if (d->first) {
    d->trace_note = "the steps both runs traced agree op for op; the first difference (step " +
                    std::to_string(d->first->step) + ") is outside them";
  }
}

}  // namespace

std::string DescribeTensorDifference(const std::string& path_a, const std::string& path_b) {
  auto a = ReadNpy(path_a);
  auto b = ReadNpy(path_b);
  if (!a.ok() || !b.ok()) return (!a.ok() ? a.status() : b.status()).message();
  if (a->n() != b->n() || a->c() != b->c() || a->h() != b->h() || a->w() != b->w()) {
    return "the tensors' shapes differ: " + a->ShapeString() + " vs " + b->ShapeString();
  }
  size_t abs_at = 0, rel_at = 0;
  double abs_max = -1, rel_max = -1;
  for (size_t i = 0; i < a->size(); ++i) {
    const double x = a->data()[i], y = b->data()[i];
    const double diff = std::fabs(x - y);
    if (!(diff <= abs_max)) {
      abs_max = diff;
      abs_at = i;
    }
    const double scale = std::max(std::fabs(x), std::fabs(y));
    const double rel = scale > 0 ? diff / scale : 0;
    if (!(rel <= rel_max)) {
      rel_max = rel;
      rel_at = i;
    }
  }
  auto where = [&](size_t i) {
    const size_t hw = static_cast<size_t>(a->h()) * a->w(), chw = hw * a->c();
    return "[" + std::to_string(i / chw) + ", " + std::to_string(i % chw / hw) + ", " +
           std::to_string(i % hw / a->w()) + ", " + std::to_string(i % a->w()) + "]";
  };
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "largest absolute difference %.3g at %s (%.9g vs %.9g), largest relative %.3g at "
                "%s, shape %s",
                abs_max, where(abs_at).c_str(), a->data()[abs_at], b->data()[abs_at], rel_max,
                where(rel_at).c_str(), a->ShapeString().c_str());
  return buf;
}

bool RunComparison::Same() const {
  return options.empty() && dataset_a == dataset_b && steps_a == steps_b && !first &&
         weights_a == weights_b;
}

Json RunComparison::ToJson() const {
  Json j;
  j["same"] = Same();
  j["a"] = a;
  j["b"] = b;
  j["options"] = options;
  j["dataset"] = Json{{"a", dataset_a}, {"b", dataset_b}, {"same", dataset_a == dataset_b}};
  j["provenance"] = provenance;
  j["context"] = context;
  j["steps"] = Json{{"a", steps_a}, {"b", steps_b}, {"compared", compared}};
  j["first_difference"] =
      first ? Json{{"step", first->step}, {"what", first->what}, {"detail", first->detail}}
            : Json();
  j["agree_again_from"] = agree_again ? Json(*agree_again) : Json();
  j["first_op"] = first_op ? Json{{"step", first_op->step},
                                  {"op", first_op->op},
                                  {"kind", first_op->kind},
                                  {"detail", first_op->detail}}
                           : Json();
  j["trace_note"] = trace_note;
  j["weights"] = Json{{"a", weights_a}, {"b", weights_b}};
  return j;
}

Result<RunComparison> DiffRuns(const std::string& a, const std::string& b) {
  RunComparison d;
  d.a = a;
  d.b = b;
  for (const std::string& run : {a, b}) {
    std::error_code ec;
    if (!fs::is_directory(run, ec)) return Status::NotFound(run + ": no such run folder");
    if (!fs::exists(RunFolder(run).config_path(), ec)) {
      return Status::NotFound(RunFolder(run).config_path() +
                              ": missing; not a training run (petprep train --out)");
    }
  }
  Json ca, cb;
  PETPREP_RETURN_IF_ERROR(ReadJsonFile(RunFolder(a).config_path(), &ca));
  PETPREP_RETURN_IF_ERROR(ReadJsonFile(RunFolder(b).config_path(), &cb));
  for (const auto* c : {&ca, &cb}) {
    if (!c->is_object() || !c->contains("training") || !(*c)["training"].is_object()) {
      return Status::Corruption((c == &ca ? a : b) +
                                "/config.json: no \"training\" section; not a petprep run");
    }
  }
  Json ta = ca["training"], tb = cb["training"];
  std::string ra, rb;
  for (auto [run, t, c, dataset, ran] :
       {std::tuple{a, &ta, &ca, &d.dataset_a, &ra}, std::tuple{b, &tb, &cb, &d.dataset_b, &rb}}) {
    PETPREP_RETURN_IF_ERROR(ReadJsonFields(RunFolder(run).config_path(), [&]() -> Status {
      *dataset = t->at("dataset_fingerprint").get<std::string>();
      t->erase("dataset_fingerprint");
      *ran = RanOn(*c);
      return Status::Ok();
    }));
  }
  d.options = Differences(ta, tb);
  d.provenance =
      Differences(ca.value("provenance", Json::object()), cb.value("provenance", Json::object()));
  if (ra != rb) d.context.push_back("ran on: " + ra + " vs " + rb);
  for (const char* key : {"data", "hash_every"}) {
    const std::string va = ca.contains(key) ? ca[key].dump() : "(none)";
    const std::string vb = cb.contains(key) ? cb[key].dump() : "(none)";
    if (va != vb) d.context.push_back(std::string(key) + ": " + va + " vs " + vb);
  }

  std::map<uint64_t, StepLine> sa, sb;
  PETPREP_RETURN_IF_ERROR(ReadSteps(RunFolder(a).metrics_path(), &sa));
  PETPREP_RETURN_IF_ERROR(ReadSteps(RunFolder(b).metrics_path(), &sb));
  d.steps_a = sa.empty() ? 0 : sa.rbegin()->first;
  d.steps_b = sb.empty() ? 0 : sb.rbegin()->first;
  uint64_t last_disagreeing = 0, last_compared = 0;
  for (const auto& [step, la] : sa) {
    auto it = sb.find(step);
    if (it == sb.end()) continue;
    ++d.compared;
    last_compared = step;
    auto diff = CompareStep(step, la, it->second);
    if (diff) {
      if (!d.first) d.first = diff;
      last_disagreeing = step;
    }
  }
  if (d.first && last_disagreeing < last_compared) d.agree_again = last_disagreeing + 1;
  if (d.first && d.first->what != "batches" && d.options.empty() && d.dataset_a == d.dataset_b) {
    d.first->detail += ": the arithmetic";
  }

  for (const auto& [run, out] : {std::pair{a, &d.weights_a}, std::pair{b, &d.weights_b}}) {
    Json summary;
    const std::string path = RunFolder(run).summary_path();
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;  // a run still training, or stopped: no summary yet
    PETPREP_RETURN_IF_ERROR(ReadJsonFile(path, &summary));
    std::string* weights = out;
    PETPREP_RETURN_IF_ERROR(ReadJsonFields(path, [&]() -> Status {
      *weights = summary.at("weights_sha256").get<std::string>();
      return Status::Ok();
    }));
  }
  CompareTraces(&d);
  return d;
}

}  // namespace petprep
