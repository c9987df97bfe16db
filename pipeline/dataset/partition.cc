#include "pipeline/dataset/partition.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/folder_lock.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/json_file.h"
#include "pipeline/core/ordered_parallel.h"
#include "pipeline/core/progress.h"
#include "pipeline/core/read_file.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/resize.h"
#include "pipeline/dataset/shard.h"
#include "pipeline/provenance/provenance.h"
#include "schemas/record.pb.h"

namespace petprep {
namespace fs = std::filesystem;

Status CheckPetId(const std::string& pet_id) {
  if (pet_id.empty()) return Status::InvalidArgument("an empty pet id");
  for (unsigned char c : pet_id) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ',' || c == '"') {
      char code[8];
      std::snprintf(code, sizeof code, "U+%04X", c);
      return Status::InvalidArgument(
          std::string("the pet id holds ") + code +
          (c < 0x20 || c == 0x7f ? std::string(", a control character")
                                 : std::string(" '") + static_cast<char>(c) + "'") +
          " (a pet id may not hold control characters, '/', '\\', ',' or '\"')");
    }
  }
  return Status::Ok();
}

int FoldOf(const std::string& pet_id) {
  Md5Digest d = Md5Of(pet_id);
  int r = 0;
  for (uint8_t b : d) r = (r * 256 + b) % 10;  // the 128-bit number mod 10, byte by byte
  return r;
}

Result<SplitMap> SplitMap::Parse(const std::string& text) {
  std::string spec = text;
  if (text == "blog") spec = "train=0-6,validation=7,calibration=8,test=9";
  if (text == "e2e") spec = "train=0-6,validation=7,test=8,calibration=9";
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("--split-map '" + text + "': " + why +
                                   " (blog, e2e, or e.g. train=0-6,validation=7,calibration=8,"
                                   "test=9 with every fold 0-9 exactly once)");
  };
  SplitMap m;
  std::map<int, std::string> first_fold;  // first fold -> split, for the split order
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item =
        spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) return bad("'" + item + "' is not name=folds");
    std::string name = item.substr(0, eq);
    for (char c : name) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
        return bad("split names use a-z, 0-9 and _");
      }
    }
    std::string folds = item.substr(eq + 1);
    size_t p = 0;
    int lowest = 10;
    while (p <= folds.size()) {
      size_t plus = folds.find('+', p);
      std::string range = folds.substr(p, plus == std::string::npos ? std::string::npos : plus - p);
      int a, b;
      if (range.size() == 1 && std::isdigit(static_cast<unsigned char>(range[0]))) {
        a = b = range[0] - '0';
      } else if (range.size() == 3 && range[1] == '-' &&
                 std::isdigit(static_cast<unsigned char>(range[0])) &&
                 std::isdigit(static_cast<unsigned char>(range[2]))) {
        a = range[0] - '0';
        b = range[2] - '0';
      } else {
        return bad("'" + range + "' is not a fold or a range of folds");
      }
      if (a > b) return bad("range '" + range + "' runs backwards");
      for (int f = a; f <= b; ++f) {
        if (!m.split_of_[f].empty()) return bad("fold " + std::to_string(f) + " is given twice");
        m.split_of_[f] = name;
      }
      lowest = std::min(lowest, a);
      if (plus == std::string::npos) break;
      p = plus + 1;
    }
    for (const auto& [f, n] : first_fold) {
      if (n == name) return bad("split '" + name + "' is given twice");
    }
    first_fold[lowest] = name;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  for (int f = 0; f < 10; ++f) {
    if (m.split_of_[f].empty()) return bad("fold " + std::to_string(f) + " belongs to no split");
  }
  for (const auto& [f, name] : first_fold) m.splits_.push_back(name);
  return m;
}

std::string SplitMap::Canonical() const {
  std::string out;
  for (const std::string& s : splits_) {
    if (!out.empty()) out += ",";
    out += s + "=";
    std::string folds;
    for (int f = 0; f < 10;) {
      if (split_of_[f] != s) {
        ++f;
        continue;
      }
      int g = f;
      while (g + 1 < 10 && split_of_[g + 1] == s) ++g;
      if (!folds.empty()) folds += "+";
      folds += g == f ? std::to_string(f) : std::to_string(f) + "-" + std::to_string(g);
      f = g + 1;
    }
    out += folds;
  }
  return out;
}

Result<Codec> Codec::Parse(const std::string& text) {
  Codec c;
  if (text == "png" || text == "raw") {
    c.name = text;
    return c;
  }
  if (text.rfind("jpeg:", 0) == 0) {
    try {
      size_t used = 0;
      c.quality = std::stoi(text.substr(5), &used);
      if (used == text.size() - 5 && c.quality >= 1 && c.quality <= 100) {
        c.name = "jpeg";
        return c;
      }
    } catch (...) {
    }
  }
  return Status::InvalidArgument("--codec '" + text +
                                 "': expected png, raw or jpeg:Q (Q in 1-100)");
}

std::string Codec::ToString() const {
  return name == "jpeg" ? "jpeg:" + std::to_string(quality) : name;
}

std::string DatasetFingerprint(const nlohmann::json& m) {
  nlohmann::json f;  // std::map keys: dump() sorts them and adds no spaces
  f["format"] = m.at("format");
  f["size"] = m.at("options").at("size");
  f["split_map"] = m.at("options").at("split_map");
  f["codec"] = m.at("options").at("codec");
  f["shard_records"] = m.at("options").at("shard_records");
  nlohmann::json archives = nlohmann::json::array();
  for (const auto& a : m.at("sources").at("archives")) archives.push_back(a.at("sha256"));
  f["archives"] = archives;
  nlohmann::json splits = nlohmann::json::object();
  for (const auto& [name, split] : m.at("splits").items()) {
    nlohmann::json shards = nlohmann::json::array();
    for (const auto& s : split.at("shards")) {
      shards.push_back({s.at("file"), s.at("sha256"), s.at("records")});
    }
    splits[name] = shards;
  }
  f["splits"] = splits;
  return Sha256Hex(f.dump());
}

namespace {

constexpr int kFormat = 1;

struct Pet {
  std::string id, dir, image_file, split;
  int fold = 0;
};

struct Built {
  Status status;
  std::string record;
  int class_id = 0;
};

Result<std::string> Encode(const Image& img, const Codec& codec) {
  if (codec.name == "raw") return std::string(img.data.begin(), img.data.end());
  if (codec.name == "jpeg" && img.channels == 3) return EncodeJpeg(img, codec.quality);
  return EncodePng(img);
}

Built BuildRecord(const Pet& pet, const PartitionOptions& o, const Codec& codec) {
  Built b;
  auto fail = [&](Status s) {
    b.status = s;
    return b;
  };
  auto meta_text = ReadFile(pet.dir + "/metadata.json", kJsonFileLimit);
  if (!meta_text.ok()) return fail(meta_text.status());
  nlohmann::json meta = nlohmann::json::parse(*meta_text, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("class_id")) {
    return fail(Status::Corruption(pet.dir + "/metadata.json: not petprep metadata"));
  }
  auto image_bytes = ReadFile(pet.dir + "/" + pet.image_file, kPictureFileLimit);
  if (!image_bytes.ok()) return fail(image_bytes.status());
  auto mask_bytes = ReadFile(pet.dir + "/mask.tiff", kPictureFileLimit);
  if (!mask_bytes.ok()) return fail(mask_bytes.status());
  Result<Image> image = pet.image_file == "image.jpg" ? DecodeJpeg(*image_bytes, o.max_pixels)
                                                      : DecodeTiff(*image_bytes, o.max_pixels);
  if (!image.ok()) return fail(image.status().WithContext(pet.dir + "/" + pet.image_file));
  auto mask = DecodeTiff(*mask_bytes, o.max_pixels);
  if (!mask.ok()) return fail(mask.status().WithContext(pet.dir + "/mask.tiff"));
  if (image->channels != 3 || mask->channels != 1 || mask->width != image->width ||
      mask->height != image->height) {
    return fail(Status::Corruption(pet.dir + ": image and mask disagree in shape"));
  }
  Image small = ResizeBilinear(*image, o.size, o.size);
  Image small_mask = ResizeNearest(*mask, o.size, o.size);
  for (uint8_t v : small_mask.data) {
    if (v > 2) return fail(Status::Corruption(pet.dir + "/mask.tiff: holds a value above 2"));
  }
  auto img_enc = Encode(small, codec);
  if (!img_enc.ok()) return fail(img_enc.status());
  Codec mask_codec;
  mask_codec.name = codec.name == "raw" ? "raw" : "png";
  auto mask_enc = Encode(small_mask, mask_codec);
  if (!mask_enc.ok()) return fail(mask_enc.status());

  schema::Record r;
  char key[17];
  std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(SampleKeyOf(pet.id)));
  r.set_key(key);
  r.set_pet_id(pet.id);
  r.set_fold(static_cast<uint32_t>(pet.fold));
  r.set_split(pet.split);
  int class_id = 0, species = 0, breed_id = 0;
  Status fields = ReadJsonFields(pet.dir + "/metadata.json", [&]() -> Status {
    class_id = meta.at("class_id").get<int>();
    species = meta.value("species", 0);
    breed_id = meta.value("breed_id", 0);
    return Status::Ok();
  });
  if (!fields.ok()) return fail(fields);
  r.set_class_id(class_id);
  r.set_species(species);
  r.set_breed_id(breed_id);
  auto* im = r.mutable_image();
  im->set_codec(codec.name);
  im->set_height(static_cast<uint32_t>(o.size));
  im->set_width(static_cast<uint32_t>(o.size));
  im->set_channels(3);
  im->set_data(std::move(img_enc).value());
  auto* mk = r.mutable_mask();
  mk->set_codec(mask_codec.name);
  mk->set_height(static_cast<uint32_t>(o.size));
  mk->set_width(static_cast<uint32_t>(o.size));
  mk->set_channels(1);
  mk->set_data(std::move(mask_enc).value());
  r.set_image_sha256(Sha256Hex(*image_bytes));
  r.set_mask_sha256(Sha256Hex(*mask_bytes));
  b.record = r.SerializeAsString();
  b.class_id = r.class_id();
  return b;
}

}  // namespace

bool IsPetprepDataset(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return false;
  nlohmann::json m;
  if (!ReadJsonFile(dir + "/manifest.json", &m).ok()) return false;
  return m.is_object() && m.contains("format") && m["format"] == kFormat && m.contains("splits") &&
         m.contains("fingerprint");
}

std::string DatasetHolding(const std::string& path) {
  std::error_code ec;
  fs::path up = fs::weakly_canonical(fs::absolute(path, ec), ec);
  for (; !up.empty(); up = up.parent_path()) {
    if (IsPetprepDataset(up.string())) return up.string();
    if (up == up.root_path()) break;
  }
  return "";
}

namespace {

// The output may not be the input, hold it, lie inside it, or lie inside another dataset
// (whose files verify would then reject).
Status CheckOutputFolder(const std::string& input, const std::string& output) {
  if (IsInsideFolder(output, input)) {
    return Status::InvalidArgument("--output " + output + " is inside --input " + input +
                                   ": choose a folder outside the petset");
  }
  if (IsInsideFolder(input, output)) {
    return Status::InvalidArgument("--output " + output + " holds --input " + input +
                                   ": choose a folder that does not contain the petset");
  }
  std::error_code ec;
  const std::string holder =
      DatasetHolding(fs::weakly_canonical(fs::absolute(output, ec), ec).parent_path().string());
  if (!holder.empty()) {
    return Status::InvalidArgument("--output " + output + " is inside the dataset " + holder +
                                   ": choose a folder outside it");
  }
  const std::string parent = fs::path(output).parent_path().string();
  return parent.empty() ? Status::Ok() : MakeDirs(parent);
}

Result<std::vector<Pet>> ListPets(const std::string& input, const SplitMap& map) {
  std::error_code ec;
  if (!fs::is_directory(input, ec)) {
    return Status::NotFound(input + ": no such petset folder (run: petprep download --out DATA)");
  }
  std::vector<std::string> ids;
  for (const auto& e : fs::directory_iterator(input, ec)) {
    if (e.is_directory()) ids.push_back(e.path().filename().string());
  }
  if (ec) return Status::IoError(input + ": cannot list: " + ec.message());
  if (ids.empty()) return Status::NotFound(input + ": the petset holds no pets");
  std::sort(ids.begin(), ids.end());  // bytewise
  std::vector<Pet> pets;
  for (const std::string& id : ids) {
    Status valid = CheckPetId(id);
    if (!valid.ok()) return Status::Corruption(input + "/" + id + ": " + valid.message());
    Pet p;
    p.id = id;
    p.dir = input + "/" + id;
    if (fs::exists(p.dir + "/image.jpg")) {
      p.image_file = "image.jpg";
    } else if (fs::exists(p.dir + "/image.tiff")) {
      p.image_file = "image.tiff";
    } else {
      return Status::Corruption(p.dir + ": no image.jpg or image.tiff");
    }
    for (const char* f : {"mask.tiff", "metadata.json"}) {
      if (!fs::exists(p.dir + "/" + f)) return Status::Corruption(p.dir + "/" + f + ": missing");
    }
    p.fold = FoldOf(id);
    p.split = map.SplitOf(p.fold);
    pets.push_back(p);
  }
  // Split order, then pet id order within a split.
  std::stable_sort(pets.begin(), pets.end(), [&](const Pet& a, const Pet& b) {
    auto rank = [&](const std::string& s) {
      return std::find(map.splits().begin(), map.splits().end(), s) - map.splits().begin();
    };
    return rank(a.split) < rank(b.split);
  });
  return pets;
}

}  // namespace

Result<PartitionSummary> Partition(const PartitionOptions& o) {
  if (o.size < 8 || o.size > 4096) return Status::InvalidArgument("--size must be in 8..4096");
  if (o.shard_records < 1) return Status::InvalidArgument("--shard-records must be at least 1");
  auto map = SplitMap::Parse(o.split_map);
  if (!map.ok()) return map.status();
  auto codec = Codec::Parse(o.codec);
  if (!codec.ok()) return codec.status();
  auto report_text = ReadFile(o.input + "/conversion_report.json", kJsonFileLimit);
  if (!report_text.ok()) {
    if (!fs::is_directory(o.input)) {
      return Status::NotFound(o.input +
                              ": no such petset folder (run: petprep download --out DATA)");
    }
    return Status::NotFound(o.input +
                            "/conversion_report.json: missing; this is not a complete "
                            "petset (run: petprep download --out DATA)");
  }
  nlohmann::json report = nlohmann::json::parse(*report_text, nullptr, false);
  if (report.is_discarded() || !report.contains("archives")) {
    return Status::Corruption(o.input + "/conversion_report.json: not a petprep conversion report");
  }
  const std::string temp = o.output + ".partial";
  PETPREP_RETURN_IF_ERROR(CheckOutputFolder(o.input, o.output));
  // One writer per dataset: the lock lives beside it (its files are the contract).
  auto lock = FolderLock::Acquire(o.output, o.output + ".lock");
  if (!lock.ok()) return lock.status();
  std::error_code ec;
  if (fs::exists(fs::symlink_status(o.output, ec))) {
    if (!o.force) return Status::AlreadyExists(o.output + ": exists; pass --force to replace it");
    if (!IsPetprepDataset(o.output)) {
      return Status::InvalidArgument(
          o.output +
          ": not a dataset petprep wrote (no petprep manifest.json), so --force does not replace "
          "it: move it away or choose another --output");
    }
  }
  auto pets = ListPets(o.input, *map);
  if (!pets.ok()) return pets.status();

  PETPREP_RETURN_IF_ERROR(MakeStagingFolder(temp));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(path, e);
    }
  } cleanup{temp};
  for (const std::string& s : map->splits()) PETPREP_RETURN_IF_ERROR(MakeDirs(temp + "/" + s));

  nlohmann::ordered_json splits_json = nlohmann::ordered_json::object();
  std::map<std::string, std::map<int, int>> per_class;
  for (const std::string& s : map->splits()) {
    splits_json[s] = {{"records", 0}, {"shards", nlohmann::ordered_json::array()}};
  }
  std::string csv = "pet_id,fold,split\n";
  ShardBuilder shard;
  std::string shard_split;
  int shard_number = 0;
  PartitionSummary summary;
  auto flush = [&]() -> Status {
    if (shard.count() == 0) return Status::Ok();
    char name[64];
    std::snprintf(name, sizeof name, "shard-%05d", shard_number++);
    std::string rel = shard_split + "/" + name;
    std::string index = shard.IndexBytes();
    PETPREP_RETURN_IF_ERROR(WriteFileUnsynced(temp + "/" + rel + ".rec", shard.bytes()));
    PETPREP_RETURN_IF_ERROR(WriteFileUnsynced(temp + "/" + rel + ".idx", index));
    auto& entry = splits_json[shard_split];
    entry["records"] = entry["records"].get<int>() + static_cast<int>(shard.count());
    entry["shards"].push_back({{"file", rel + ".rec"},
                               {"sha256", Sha256Hex(shard.bytes())},
                               {"bytes", shard.bytes().size()},
                               {"records", shard.count()},
                               {"index_file", rel + ".idx"},
                               {"index_sha256", Sha256Hex(index)}});
    shard.Clear();
    return Status::Ok();
  };

  const std::vector<Pet>& list = *pets;
  Progress progress("partition", list.size(), Progress::Unit::kItems, "pets");
  Status built = OrderedParallel(
      list.size(), o.jobs, [&](size_t i) { return BuildRecord(list[i], o, *codec); },
      [&](size_t i, Built& b) -> Status {
        const Pet& pet = list[i];
        progress.Add(1);
        PETPREP_RETURN_IF_ERROR(b.status);
        if (pet.split != shard_split || static_cast<int>(shard.count()) >= o.shard_records) {
          PETPREP_RETURN_IF_ERROR(flush());
          if (pet.split != shard_split) shard_number = 0;
          shard_split = pet.split;
        }
        shard.Add(b.record);
        csv += pet.id + "," + std::to_string(pet.fold) + "," + pet.split + "\n";
        ++per_class[pet.split][b.class_id];
        ++summary.records;
        if (o.fail_after_records > 0 && summary.records >= o.fail_after_records) {
          return Status::IoError("stopped by the test hook after " +
                                 std::to_string(summary.records) + " records");
        }
        return Status::Ok();
      });
  PETPREP_RETURN_IF_ERROR(built);
  PETPREP_RETURN_IF_ERROR(flush());
  progress.Finish();
  PETPREP_RETURN_IF_ERROR(WriteFileUnsynced(temp + "/splits.csv", csv));

  nlohmann::ordered_json m;
  m["format"] = kFormat;
  m["fingerprint"] = "";
  m["options"] = {{"size", o.size},
                  {"split_map", map->Canonical()},
                  {"codec", codec->ToString()},
                  {"shard_records", o.shard_records}};
  m["sources"] = {{"archives", report["archives"]},
                  {"on_defect", report.value("on_defect", "")},
                  {"conversion_report_sha256", Sha256Hex(*report_text)}};
  m["splits"] = splits_json;
  nlohmann::ordered_json per_split = nlohmann::ordered_json::object();
  nlohmann::ordered_json classes = nlohmann::ordered_json::object();
  for (const std::string& s : map->splits()) {
    per_split[s] = splits_json[s]["records"];
    summary.split_counts.emplace_back(s, splits_json[s]["records"].get<int>());
    nlohmann::ordered_json c = nlohmann::ordered_json::object();
    for (const auto& [cls, n] : per_class[s]) c[std::to_string(cls)] = n;
    classes[s] = c;
  }
  m["counts"] = {{"records", summary.records}, {"per_split", per_split}, {"per_class", classes}};
  m["files"] = {{"splits.csv", {{"sha256", Sha256Hex(csv)}, {"bytes", csv.size()}}}};
  m["tools"] = ToolVersionsJson(CollectProvenance());
  summary.fingerprint = DatasetFingerprint(nlohmann::json::parse(m.dump()));
  m["fingerprint"] = summary.fingerprint;
  PETPREP_RETURN_IF_ERROR(WriteFileUnsynced(temp + "/manifest.json", m.dump(2) + "\n"));
  PETPREP_RETURN_IF_ERROR(UnmarkStagingFolder(temp));

  int fd = ::open(temp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
  if (fs::exists(o.output)) {
    if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, o.output.c_str(), RENAME_EXCHANGE) != 0) {
      return Status::IoError(o.output + ": cannot exchange with " + temp + ": " +
                             std::strerror(errno));
    }
  } else if (std::rename(temp.c_str(), o.output.c_str()) != 0) {
    return Status::IoError(o.output + ": cannot rename from " + temp + ": " + std::strerror(errno));
  }
  std::string parent = fs::path(o.output).parent_path().string();
  PETPREP_RETURN_IF_ERROR(SyncDirectory(parent.empty() ? "." : parent));
  return summary;  // the cleanup removes the old dataset, now under the temp name
}

}  // namespace petprep
