#include "pipeline/dataset/verify.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/json_file.h"
#include "pipeline/core/progress.h"
#include "pipeline/core/read_file.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/dataset/shard.h"
#include "schemas/record.pb.h"

namespace petprep {
namespace fs = std::filesystem;
namespace {

// The manifest's counts against the records: counts.records, counts.per_split.<split> and
// counts.per_class.<split>.<class id>, every one a reader is shown, recomputed from the shards
// (whose bytes the manifest's hashes have just checked).
void CheckCounts(const std::string& dir, const nlohmann::json& m, const ManifestLayout& layout,
                 VerifyResult* r) {
  std::map<std::string, std::map<std::string, int64_t>> per_class;
  std::map<std::string, int64_t> per_split;
  int64_t records = 0;
  for (const ManifestSplit& split : layout.splits) {
    const std::string& name = split.name;
    per_split[name] = 0;
    per_class[name];
    for (const ManifestShard& s : split.shards) {
      auto frames = ReadAllFrames(dir + "/" + s.file);
      if (!frames.ok()) return;  // reported as a changed or corrupt file
      for (const std::string& f : *frames) {
        schema::Record rec;
        if (!rec.ParseFromString(f)) return;
        ++per_class[name][std::to_string(rec.class_id())];
        ++per_split[name];
        ++records;
      }
    }
  }
  const nlohmann::json none = nlohmann::json::object();
  const nlohmann::json& counts =
      m.contains("counts") && m["counts"].is_object() ? m["counts"] : none;
  auto said = [](const nlohmann::json& j, const std::vector<std::string>& path) -> std::string {
    const nlohmann::json* at = &j;
    for (const std::string& k : path) {
      if (!at->is_object() || !at->contains(k)) return "nothing";
      at = &(*at)[k];
    }
    return at->dump();
  };
  auto expect = [&](const std::vector<std::string>& path, int64_t n) {
    const std::string got = said(counts, path);
    if (got == std::to_string(n)) return;
    std::string key = "counts";
    for (const std::string& k : path) key += "." + k;
    r->problems.push_back("changed: manifest.json " + key + " says " + got + ", the records hold " +
                          std::to_string(n));
  };
  expect({"records"}, records);
  for (const auto& [split, n] : per_split) expect({"per_split", split}, n);
  for (const auto& [split, classes] : per_class) {
    for (const auto& [cls, n] : classes) expect({"per_class", split, cls}, n);
    // A class the manifest counts that no record of the split has.
    const nlohmann::json& listed =
        counts.contains("per_class") && counts["per_class"].is_object() &&
                counts["per_class"].contains(split) && counts["per_class"][split].is_object()
            ? counts["per_class"][split]
            : none;
    for (const auto& [cls, v] : listed.items()) {
      if (classes.count(cls) == 0) expect({"per_class", split, cls}, 0);
    }
  }
  const nlohmann::json& splits_listed =
      counts.contains("per_split") && counts["per_split"].is_object() ? counts["per_split"] : none;
  for (const auto& [split, v] : splits_listed.items()) {
    if (per_split.count(split) == 0) expect({"per_split", split}, 0);
  }
}

}  // namespace

Result<VerifyResult> VerifyDataset(const std::string& dir, bool deep) {
  const std::string manifest_path = dir + "/manifest.json";
  auto text = ReadFile(manifest_path, kJsonFileLimit);
  if (!text.ok()) {
    if (text.status().code() != Status::Code::kNotFound) return text.status();
    return Status::NotFound(manifest_path + ": missing; not a partitioned dataset");
  }
  nlohmann::json m = nlohmann::json::parse(*text, nullptr, false);
  if (m.is_discarded()) return Status::Corruption(manifest_path + ": not valid JSON");
  // Every field verify relies on is checked for type and range before a file is opened.
  auto layout = ReadManifestLayout(nlohmann::ordered_json::parse(*text), manifest_path);
  if (!layout.ok()) return layout.status();
  VerifyResult r;
  try {
    r.fingerprint = DatasetFingerprint(m);
  } catch (const nlohmann::json::exception& e) {
    return JsonFieldError(manifest_path, e);
  }
  if (r.fingerprint != layout->fingerprint) {
    r.problems.push_back("changed: manifest.json (its fingerprint " + layout->fingerprint +
                         " does not match its contents, " + r.fingerprint + ")");
  }

  // Every file the manifest lists: (relative path, sha256, bytes or -1 for "not listed").
  struct Want {
    std::string sha256;
    int64_t bytes;
  };
  std::map<std::string, Want> files;
  for (const ManifestSplit& split : layout->splits) {
    for (const ManifestShard& s : split.shards) {
      files[s.file] = {s.sha256, static_cast<int64_t>(s.bytes)};
      files[s.index_file] = {s.index_sha256, -1};
    }
  }
  for (const ManifestFile& f : layout->files) {
    files[f.name] = {f.sha256, static_cast<int64_t>(f.bytes)};
  }

  Progress progress("verify", files.size(), Progress::Unit::kItems, "files");
  for (const auto& [rel, want] : files) {
    std::string path = dir + "/" + rel;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      r.problems.push_back("missing: " + rel);
    } else if (want.bytes >= 0 && static_cast<int64_t>(fs::file_size(path, ec)) != want.bytes) {
      r.problems.push_back("changed: " + rel + " (" + std::to_string(fs::file_size(path, ec)) +
                           " bytes, the manifest says " + std::to_string(want.bytes) + ")");
    } else {
      auto d = Sha256OfFile(path, kShardFileLimit);
      if (!d.ok()) {
        r.problems.push_back("unreadable: " + rel + " (" + d.status().message() + ")");
      } else if (ToHex(*d) != want.sha256) {
        r.problems.push_back("changed: " + rel + " (sha256 " + ToHex(*d) + ", the manifest says " +
                             want.sha256 + ")");
      }
    }
    ++r.files_checked;
    progress.Add(1);
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), dir).string();
    if (rel != "manifest.json" && !files.count(rel)) r.problems.push_back("extra: " + rel);
  }
  progress.Finish();
  if (r.problems.empty()) CheckCounts(dir, m, *layout, &r);
  if (!deep) return r;

  // Deep: every record, its fold and split, and the petset's files when they are there.
  auto map = SplitMap::Parse(layout->split_map);
  std::string petset = (fs::path(dir).lexically_normal().parent_path() / "petset").string();
  bool have_petset = fs::is_directory(petset);
  for (const ManifestSplit& split : layout->splits) {
    const std::string& name = split.name;
    for (const ManifestShard& s : split.shards) {
      const std::string& rel = s.file;
      auto frames = ReadAllFrames(dir + "/" + rel);
      if (!frames.ok()) {
        r.problems.push_back("corrupt: " + frames.status().message());
        continue;
      }
      if (frames->size() != s.records) {
        r.problems.push_back("changed: " + rel + " holds " + std::to_string(frames->size()) +
                             " records, the manifest says " + std::to_string(s.records));
      }
      for (size_t i = 0; i < frames->size(); ++i) {
        schema::Record rec;
        std::string where = rel + ": record " + std::to_string(i);
        ++r.records_checked;
        if (!rec.ParseFromString((*frames)[i])) {
          r.problems.push_back("corrupt: " + where + " is not a petprep record");
          continue;
        }
        int fold = FoldOf(rec.pet_id());
        if (static_cast<int>(rec.fold()) != fold || (map.ok() && map->SplitOf(fold) != name)) {
          r.problems.push_back("wrong split: " + where + " (" + rec.pet_id() + ", fold " +
                               std::to_string(fold) + ") is in " + name);
        }
        if (!have_petset) continue;
        std::string pet = petset + "/" + rec.pet_id();
        std::string image =
            fs::exists(pet + "/image.jpg") ? pet + "/image.jpg" : pet + "/image.tiff";
        for (const auto& [path, want] : {std::make_pair(image, rec.image_sha256()),
                                         std::make_pair(pet + "/mask.tiff", rec.mask_sha256())}) {
          auto d = Sha256OfFile(path, kPictureFileLimit);
          if (!d.ok() || ToHex(*d) != want) {
            r.problems.push_back("changed source: " + path + " (" + where +
                                 " was made from sha256 " + want + ")");
          }
        }
      }
    }
  }
  return r;
}

}  // namespace petprep
