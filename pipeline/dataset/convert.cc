#include "pipeline/dataset/convert.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/folder_lock.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/interrupt.h"
#include "pipeline/core/progress.h"
#include "pipeline/core/read_file.h"
#include "pipeline/dataset/breeds.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/dataset/source_image.h"

namespace petprep {
namespace fs = std::filesystem;

const char* PolicyName(DefectPolicy p) {
  switch (p) {
    case DefectPolicy::kRepair:
      return "repair";
    case DefectPolicy::kSkip:
      return "skip";
    case DefectPolicy::kFail:
      return "fail";
  }
  return "?";
}

Result<DefectPolicy> ParsePolicy(const std::string& name) {
  if (name == "repair") return DefectPolicy::kRepair;
  if (name == "skip") return DefectPolicy::kSkip;
  if (name == "fail") return DefectPolicy::kFail;
  return Status::InvalidArgument("--on-defect must be repair, skip or fail, not '" + name + "'");
}

namespace {

constexpr int kReportFormat = 1;
const char kReportName[] = "conversion_report.json";

// Actions written to the report.
const char kRepaired[] = "repaired";
const char kSkipped[] = "skipped";
const char kLeftOut[] = "left out";
const char kIgnored[] = "ignored";

struct Defect {
  std::string file, pet_id, kind, action, detail;
  bool operator<(const Defect& o) const {
    return std::tie(file, kind, pet_id) < std::tie(o.file, o.kind, o.pet_id);
  }
};

struct ListRow {
  int class_id = 0, species = 0, breed_id = 0;
  bool malformed = false;
  std::string line;
};

struct Annotations {
  std::map<std::string, std::string> trimaps;  // pet id -> PNG bytes
  std::map<std::string, ListRow> list;
  std::set<std::string> trainval, test;
  std::vector<Defect> defects;
  int ignored = 0;
};

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "images/Abyssinian_1.jpg" -> folder "images", base "Abyssinian_1.jpg".
std::string FolderOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void ParseList(const std::string& text, Annotations* a) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::vector<std::string> cols;
    std::string w;
    while (words >> w) cols.push_back(w);
    if (cols.empty()) continue;
    ListRow row;
    row.line = line;
    bool ok = cols.size() == 4;
    if (ok) {
      try {
        row.class_id = std::stoi(cols[1]);
        row.species = std::stoi(cols[2]);
        row.breed_id = std::stoi(cols[3]);
      } catch (...) {
        ok = false;
      }
      ok = ok && row.class_id >= 1 && row.class_id <= 37 &&
           (row.species == 1 || row.species == 2) && row.breed_id >= 1;
    }
    row.malformed = !ok;
    a->list.emplace(cols[0], row);
  }
}

void ParseIds(const std::string& text, std::set<std::string>* out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string id;
    if ((words >> id) && id[0] != '#') out->insert(id);
  }
}

// An archive entry whose name cannot be a pet id: the whole archive is refused, naming it (its
// control characters shown as \xNN).
Status RefusedEntry(const std::string& archive, const std::string& entry, const Status& why) {
  std::string shown;
  for (unsigned char c : entry) {
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      shown += hex;
    } else {
      shown += static_cast<char>(c);
    }
  }
  return Status::Corruption(archive + ": refused entry '" + shown + "': " + why.message());
}

Result<Annotations> ReadAnnotations(const SourceArchive& src, const ExtractLimits& limits) {
  auto reader = ArchiveReader::Open(src.path, limits);
  if (!reader.ok()) return reader.status();
  Annotations a;
  ArchiveEntry e;
  for (;;) {
    auto more = (*reader)->Next(&e);
    if (!more.ok()) return more.status();
    if (!*more) break;
    PETPREP_RETURN_IF_ERROR(CheckInterrupt());
    if (e.is_dir) continue;
    std::string base = BaseName(e.path), folder = FolderOf(e.path);
    if (base.rfind("._", 0) == 0) {
      a.defects.push_back(
          {e.path, "", "appledouble", kIgnored, "a macOS AppleDouble resource file"});
      ++a.ignored;
    } else if (e.path == "annotations/list.txt") {
      ParseList(e.data, &a);
    } else if (e.path == "annotations/trainval.txt") {
      ParseIds(e.data, &a.trainval);
    } else if (e.path == "annotations/test.txt") {
      ParseIds(e.data, &a.test);
    } else if (folder == "annotations/trimaps" && EndsWith(base, ".png")) {
      const std::string id = base.substr(0, base.size() - 4);
      Status valid = CheckPetId(id);
      if (!valid.ok()) return RefusedEntry(src.path, e.path, valid);
      a.trimaps.emplace(id, std::move(e.data));
    } else {
      ++a.ignored;  // head boxes (xmls/) and anything else petprep does not use
    }
  }
  if (a.list.empty()) {
    return Status::Corruption(src.path + ": holds no annotations/list.txt rows");
  }
  return a;
}

struct PetInput {
  std::string id;
  std::string bytes;
};

struct PetResult {
  Status status;
  bool written = false, clean = false, converted = false, skipped = false, orphan = false;
  std::vector<Defect> defects;
};

class Converter {
 public:
  Converter(const ConvertOptions& o, const Annotations& a, std::string partial)
      : o_(o), a_(a), partial_(std::move(partial)) {}

  PetResult Convert(const PetInput& in) const {
    PetResult r;
    const std::string image_file = "images/" + in.id + ".jpg";
    auto tri = a_.trimaps.find(in.id);
    if (tri == a_.trimaps.end()) {
      r.orphan = true;
      r.defects.push_back({image_file, in.id, "image_without_trimap", kLeftOut, "no trimap"});
      return r;
    }
    const std::string trimap_file = "annotations/trimaps/" + in.id + ".png";
    std::vector<Defect> found;
    bool unrepairable = false;

    // Ids, from list.txt or the breed table.
    const Breed* table = nullptr;
    auto parsed = ParsePetId(in.id);
    if (parsed.ok()) table = parsed->breed;
    ListRow row;
    auto it = a_.list.find(in.id);
    if (it == a_.list.end() || it->second.malformed) {
      bool missing = it == a_.list.end();
      found.push_back({"annotations/list.txt", in.id,
                       missing ? "missing_from_list" : "malformed_list_line", "",
                       missing ? "no list.txt row; ids from the breed table"
                               : "row '" + it->second.line + "'; ids from the breed table"});
      if (table == nullptr) {
        found.push_back(
            {"annotations/list.txt", in.id, "unknown_breed", "", parsed.status().message()});
        unrepairable = true;
      } else {
        row.class_id = table->class_id;
        row.species = table->species;
        row.breed_id = table->breed_id;
      }
    } else {
      row = it->second;
    }

    auto image = ReadSourceImage(in.bytes, o_.max_pixels);
    SourceImage src;
    // A picture over --max-pixels is not a defect to repair or skip: the limit is the user's.
    if (!image.ok() && image.status().code() == Status::Code::kInvalidArgument) {
      r.status = Status::InvalidArgument(o_.images.path + ": entry '" + image_file +
                                         "': " + image.status().message());
      return r;
    }
    if (!image.ok()) {
      found.push_back({image_file, in.id, "unreadable_image", "", image.status().message()});
      unrepairable = true;
    } else {
      src = std::move(image).value();
      for (const FoundDefect& d : src.defects) {
        found.push_back({image_file, in.id, d.kind, "", d.detail});
      }
    }
    SourceMask mask;
    if (image.ok()) {
      auto m = ReadTrimap(tri->second, src.width, src.height, o_.max_pixels);
      if (!m.ok() && m.status().code() == Status::Code::kInvalidArgument) {
        r.status = Status::InvalidArgument(o_.annotations.path + ": entry '" + trimap_file +
                                           "': " + m.status().message());
        return r;
      }
      if (!m.ok()) {
        found.push_back({trimap_file, in.id, "unreadable_trimap", "", m.status().message()});
        unrepairable = true;
      } else {
        mask = std::move(m).value();
        for (const FoundDefect& d : mask.defects) {
          found.push_back({trimap_file, in.id, d.kind, "", d.detail});
        }
      }
    }

    if (!found.empty() && o_.policy == DefectPolicy::kFail) {
      r.status = Status::Corruption(found[0].file + ": " + found[0].kind + ": " + found[0].detail +
                                    " (--on-defect fail)");
      return r;
    }
    bool skip = unrepairable || (!found.empty() && o_.policy == DefectPolicy::kSkip);
    for (Defect& d : found) d.action = skip ? kSkipped : kRepaired;
    r.defects = found;
    if (skip) {
      r.skipped = true;
      return r;
    }

    std::string dir = partial_ + "/" + in.id;
    if (::mkdir(dir.c_str(), 0755) != 0) {
      r.status = Status::IoError(dir + ": cannot create folder: " + std::strerror(errno));
      return r;
    }
    std::string image_name = src.clean_jpeg ? "image.jpg" : "image.tiff";
    Status s;
    if (src.clean_jpeg) {
      s = WriteFileUnsynced(dir + "/image.jpg", in.bytes);
    } else {
      auto tiff = EncodeTiff(src.rgb);
      s = tiff.ok() ? WriteFileUnsynced(dir + "/image.tiff", *tiff) : tiff.status();
    }
    if (s.ok()) {
      auto tiff = EncodeTiff(mask.classes);
      s = tiff.ok() ? WriteFileUnsynced(dir + "/mask.tiff", *tiff) : tiff.status();
    }
    if (s.ok()) {
      nlohmann::ordered_json m;
      m["pet_id"] = in.id;
      m["breed"] = table ? table->name : in.id.substr(0, in.id.rfind('_'));
      m["class_id"] = row.class_id;
      m["species"] = row.species;
      m["breed_id"] = row.breed_id;
      m["official_split"] = a_.trainval.count(in.id) ? nlohmann::ordered_json("trainval")
                            : a_.test.count(in.id)   ? nlohmann::ordered_json("test")
                                                     : nlohmann::ordered_json();
      m["image_file"] = image_name;
      m["mask_file"] = "mask.tiff";
      m["width"] = src.width;
      m["height"] = src.height;
      m["source_image_sha256"] = Sha256Hex(in.bytes);
      m["source_trimap_sha256"] = Sha256Hex(tri->second);
      m["defects"] = nlohmann::ordered_json::array();
      for (const Defect& d : found) {
        m["defects"].push_back(
            {{"kind", d.kind}, {"file", d.file}, {"action", d.action}, {"detail", d.detail}});
      }
      s = WriteFileUnsynced(dir + "/metadata.json", m.dump(2) + "\n");
    }
    r.status = s;
    r.written = s.ok();
    r.clean = found.empty();
    r.converted = !src.clean_jpeg;
    return r;
  }

 private:
  const ConvertOptions& o_;
  const Annotations& a_;
  std::string partial_;
};

nlohmann::ordered_json ArchivesJson(const ConvertOptions& o) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const SourceArchive* s : {&o.images, &o.annotations}) {
    arr.push_back({{"name", s->name}, {"size", s->size}, {"sha256", s->sha256}});
  }
  return arr;
}

// The existing petset, when its report names the same archives and policy and its files
// still hash to the recorded tree.
Result<bool> UpToDate(const ConvertOptions& o, const std::string& petset, ConvertSummary* out) {
  auto text = ReadFile(petset + "/" + kReportName, kJsonFileLimit);
  if (!text.ok()) return false;
  nlohmann::json report = nlohmann::json::parse(*text, nullptr, false);
  if (report.is_discarded() || report.value("format", 0) != kReportFormat ||
      report.value("on_defect", "") != PolicyName(o.policy) ||
      report["archives"] != nlohmann::json::parse(ArchivesJson(o).dump())) {
    return false;
  }
  auto tree = PetsetTreeSha256(petset);
  if (!tree.ok()) return tree.status();
  if (*tree != report.value("tree_sha256", "")) return false;
  const auto& c = report["counts"];
  out->up_to_date = true;
  out->pets = c.value("pets", 0);
  out->images = c.value("images", 0);
  out->trimaps = c.value("trimaps", 0);
  out->clean = c.value("clean", 0);
  out->converted = c.value("converted", 0);
  out->repaired = c.value("repaired", 0);
  out->skipped = c.value("skipped", 0);
  out->orphans = c.value("orphans", 0);
  out->ignored = c.value("ignored_files", 0);
  out->defects = static_cast<int>(report["defects"].size());
  out->tree_sha256 = *tree;
  return true;
}

Status SyncTree(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(dir + ": cannot open: " + std::strerror(errno));
  int rc = ::syncfs(fd);
  ::close(fd);
  if (rc != 0) return Status::IoError(dir + ": syncfs failed: " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Result<std::string> PetsetTreeSha256(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), dir).string();
    if (rel != kReportName) files.push_back(rel);
  }
  if (ec) return Status::IoError(dir + ": cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  Sha256 tree;
  for (const std::string& rel : files) {
    auto d = Sha256OfFile(dir + "/" + rel, kPictureFileLimit);
    if (!d.ok()) return d.status();
    tree.Update(rel + "\t" + ToHex(*d) + "\n");
  }
  return ToHex(tree.Finish());
}

Result<ConvertSummary> ConvertArchives(const ConvertOptions& o) {
  const std::string petset = o.data_dir + "/petset";
  const std::string partial = o.data_dir + "/.petset.partial";
  ConvertSummary summary;
  PETPREP_RETURN_IF_ERROR(MakeDirs(o.data_dir));
  auto lock = FolderLock::Acquire(petset, o.data_dir + "/petset.lock");
  if (!lock.ok()) return lock.status();
  std::error_code ec;
  if (fs::exists(fs::symlink_status(petset, ec)) && !fs::exists(petset + "/" + kReportName, ec)) {
    return Status::InvalidArgument(petset + ": not a petset petprep wrote (no " + kReportName +
                                   "), so it is not replaced: move it away");
  }
  if (!o.force) {
    auto fresh = UpToDate(o, petset, &summary);
    if (!fresh.ok()) return fresh.status();
    if (*fresh) return summary;
  }
  PETPREP_RETURN_IF_ERROR(MakeStagingFolder(partial));  // removes what a killed run left
  struct Cleanup {
    std::string path;
    bool keep = false;
    ~Cleanup() {
      std::error_code e;
      if (!keep) fs::remove_all(path, e);
    }
  } cleanup{partial};

  auto ann = ReadAnnotations(o.annotations, o.limits);
  if (!ann.ok()) return ann.status();
  const Annotations& a = *ann;
  auto reader = ArchiveReader::Open(o.images.path, o.limits);
  if (!reader.ok()) return reader.status();

  Converter converter(o, a, partial);
  std::vector<Defect> defects = a.defects;
  std::set<std::string> seen;
  Status status;
  std::atomic<bool> failed{false};
  summary.trimaps = static_cast<int>(a.trimaps.size());
  summary.ignored = a.ignored;
  Progress progress("convert", a.trimaps.size(), Progress::Unit::kItems, "pets");

  int jobs = o.jobs > 0 ? o.jobs : tbb::this_task_arena::max_concurrency();
  tbb::task_arena arena(jobs);
  // The first stage and the last may run at once: each keeps its own records.
  Status read_status;
  std::vector<Defect> read_defects;
  int read_ignored = 0, read_images = 0;
  arena.execute([&] {
    tbb::parallel_pipeline(
        static_cast<size_t>(2 * jobs + 2),
        tbb::make_filter<void, std::shared_ptr<PetInput>>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control& fc) -> std::shared_ptr<PetInput> {
              ArchiveEntry e;
              for (;;) {
                if (failed.load() || InterruptRequested()) break;
                auto more = (*reader)->Next(&e);
                if (!more.ok()) {
                  read_status = more.status();
                  break;
                }
                if (!*more) break;
                if (e.is_dir) continue;
                std::string base = BaseName(e.path);
                if (base.rfind("._", 0) == 0) {
                  read_defects.push_back(
                      {e.path, "", "appledouble", kIgnored, "a macOS AppleDouble resource file"});
                  ++read_ignored;
                } else if (FolderOf(e.path) == "images" && EndsWith(base, ".jpg")) {
                  auto in = std::make_shared<PetInput>();
                  in->id = base.substr(0, base.size() - 4);
                  Status valid = CheckPetId(in->id);
                  if (!valid.ok()) {
                    read_status = RefusedEntry(o.images.path, e.path, valid);
                    break;
                  }
                  in->bytes = std::move(e.data);
                  ++read_images;
                  if (!seen.insert(in->id).second) {
                    read_defects.push_back({e.path, in->id, "duplicate_entry", kIgnored,
                                            "a second entry of the same name; the first is kept"});
                    continue;
                  }
                  return in;
                } else if (EndsWith(base, ".mat")) {
                  read_defects.push_back(
                      {e.path, "", "mat_file", kIgnored, "a MATLAB file among the images"});
                  ++read_ignored;
                } else {
                  read_defects.push_back({e.path, "", "unexpected_file", kIgnored,
                                          "not an image of the images/ folder"});
                  ++read_ignored;
                }
              }
              fc.stop();
              return nullptr;
            }) &
            tbb::make_filter<std::shared_ptr<PetInput>,
                             std::shared_ptr<std::pair<std::string, PetResult>>>(
                tbb::filter_mode::parallel,
                [&](const std::shared_ptr<PetInput>& in) {
                  auto out = std::make_shared<std::pair<std::string, PetResult>>();
                  out->first = in->id;
                  if (!failed.load()) out->second = converter.Convert(*in);
                  return out;
                }) &
            tbb::make_filter<std::shared_ptr<std::pair<std::string, PetResult>>, void>(
                tbb::filter_mode::serial_in_order,
                [&](const std::shared_ptr<std::pair<std::string, PetResult>>& item) {
                  PetResult& r = item->second;
                  progress.Add(1);
                  if (!status.ok()) return;
                  if (!r.status.ok()) {
                    status = r.status;
                    failed.store(true);
                    return;
                  }
                  defects.insert(defects.end(), r.defects.begin(), r.defects.end());
                  summary.pets += r.written;
                  summary.clean += r.written && r.clean;
                  summary.converted += r.written && r.converted;
                  summary.repaired += r.written && !r.clean;
                  summary.skipped += r.skipped;
                  summary.orphans += r.orphan;
                  if (o.fail_after_pets > 0 && summary.pets >= o.fail_after_pets) {
                    status = Status::IoError("stopped by the test hook after " +
                                             std::to_string(summary.pets) + " pets");
                    failed.store(true);
                  }
                }));
  });
  PETPREP_RETURN_IF_ERROR(read_status);
  PETPREP_RETURN_IF_ERROR(status);
  defects.insert(defects.end(), read_defects.begin(), read_defects.end());
  summary.ignored += read_ignored;
  summary.images = read_images;
  PETPREP_RETURN_IF_ERROR(CheckInterrupt());
  progress.Finish();

  for (const auto& [id, bytes] : a.trimaps) {
    if (seen.count(id)) continue;
    defects.push_back(
        {"annotations/trimaps/" + id + ".png", id, "trimap_without_image", kLeftOut, "no image"});
    ++summary.orphans;
  }
  std::sort(defects.begin(), defects.end());
  summary.defects = static_cast<int>(defects.size());

  PETPREP_RETURN_IF_ERROR(UnmarkStagingFolder(partial));
  auto tree = PetsetTreeSha256(partial);
  if (!tree.ok()) return tree.status();
  summary.tree_sha256 = *tree;
  nlohmann::ordered_json report;
  report["format"] = kReportFormat;
  report["archives"] = ArchivesJson(o);
  report["on_defect"] = PolicyName(o.policy);
  report["counts"] = {{"pets", summary.pets},
                      {"images", summary.images},
                      {"trimaps", summary.trimaps},
                      {"clean", summary.clean},
                      {"converted", summary.converted},
                      {"repaired", summary.repaired},
                      {"skipped", summary.skipped},
                      {"orphans", summary.orphans},
                      {"ignored_files", summary.ignored}};
  report["tree_sha256"] = summary.tree_sha256;
  report["defects"] = nlohmann::ordered_json::array();
  for (const Defect& d : defects) {
    report["defects"].push_back(
        {{"file", d.file},
         {"pet_id", d.pet_id.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(d.pet_id)},
         {"kind", d.kind},
         {"action", d.action},
         {"detail", d.detail}});
  }
  PETPREP_RETURN_IF_ERROR(WriteFileUnsynced(partial + "/" + kReportName, report.dump(2) + "\n"));
  PETPREP_RETURN_IF_ERROR(SyncTree(partial));

  // Swap the new petset into place: atomic exchange with an earlier one, or a rename.
  if (fs::exists(petset)) {
    if (::renameat2(AT_FDCWD, partial.c_str(), AT_FDCWD, petset.c_str(), RENAME_EXCHANGE) != 0) {
      return Status::IoError(petset + ": cannot exchange with " + partial + ": " +
                             std::strerror(errno));
    }
  } else if (std::rename(partial.c_str(), petset.c_str()) != 0) {
    return Status::IoError(petset + ": cannot rename from " + partial + ": " +
                           std::strerror(errno));
  }
  PETPREP_RETURN_IF_ERROR(SyncDirectory(o.data_dir));
  return summary;  // the cleanup removes the old petset, now under the partial name
}

}  // namespace petprep
