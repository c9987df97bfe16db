#include "pipeline/dataset/dataset_reader.h"

#include <algorithm>
#include <sstream>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/json_file.h"
#include "pipeline/core/read_file.h"
#include "pipeline/core/shell_quote.h"
#include "pipeline/dataset/codec.h"

namespace petprep {
namespace {

using Json = nlohmann::ordered_json;

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool IsInsidePath(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.back() == '/') return false;
  for (unsigned char c : p) {
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    std::string part =
        p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

}  // namespace

Result<ManifestLayout> ReadManifestLayout(const Json& m, const std::string& path) {
  ManifestLayout l;
  auto bad = [&](const std::string& pointer, const std::string& why) {
    return Status::Corruption(path + ": at " + pointer + ": " + why);
  };
  // A count or a size: a non-negative integer of at most 2^53 (exact as a double).
  auto count = [&](const Json& v, const std::string& pointer, uint64_t* out) -> Status {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > (uint64_t{1} << 53)) {
      return bad(pointer, v.dump() + " is not a count (an integer from 0 to 2^53)");
    }
    *out = v.get<uint64_t>();
    return Status::Ok();
  };
  auto sha = [&](const Json& v, const std::string& pointer, std::string* out) -> Status {
    if (!v.is_string() || !IsSha256Hex(v.get<std::string>())) {
      return bad(pointer, v.dump() + " is not a SHA-256 in lowercase hex");
    }
    *out = v.get<std::string>();
    return Status::Ok();
  };
  auto file = [&](const Json& v, const std::string& pointer, std::string* out) -> Status {
    if (!v.is_string() || !IsInsidePath(v.get<std::string>())) {
      return bad(pointer, v.dump() + " is not a path inside the dataset");
    }
    *out = v.get<std::string>();
    return Status::Ok();
  };
  return ReadJsonFields(path, [&]() -> Result<ManifestLayout> {
    if (!m.is_object()) return Status::Corruption(path + ": not a JSON object");
    const Json& size = m.at("options").at("size");
    if (!size.is_number_integer() || size.get<int64_t>() < 1 ||
        size.get<int64_t>() > kMaxDatasetImageSize) {
      return bad("/options/size", size.dump() + " is not an image size (1 to " +
                                      std::to_string(kMaxDatasetImageSize) + ")");
    }
    l.image_size = size.get<int>();
    l.split_map = m.at("options").at("split_map").get<std::string>();
    l.codec = m.at("options").at("codec").get<std::string>();
    PETPREP_RETURN_IF_ERROR(sha(m.at("fingerprint"), "/fingerprint", &l.fingerprint));
    const Json& splits = m.at("splits");
    if (!splits.is_object()) return bad("/splits", "not an object");
    for (auto it = splits.begin(); it != splits.end(); ++it) {
      ManifestSplit split;
      split.name = it.key();
      if (!IsInsidePath(split.name) || split.name.find('/') != std::string::npos) {
        return bad("/splits", "\"" + split.name + "\" is not a split name");
      }
      const Json& shards = it.value().at("shards");
      if (!shards.is_array()) return bad("/splits/" + split.name + "/shards", "not an array");
      for (size_t i = 0; i < shards.size(); ++i) {
        const std::string at = "/splits/" + split.name + "/shards/" + std::to_string(i);
        const Json& s = shards.at(i);
        ManifestShard shard;
        PETPREP_RETURN_IF_ERROR(file(s.at("file"), at + "/file", &shard.file));
        PETPREP_RETURN_IF_ERROR(file(s.at("index_file"), at + "/index_file", &shard.index_file));
        PETPREP_RETURN_IF_ERROR(sha(s.at("sha256"), at + "/sha256", &shard.sha256));
        PETPREP_RETURN_IF_ERROR(
            sha(s.at("index_sha256"), at + "/index_sha256", &shard.index_sha256));
        PETPREP_RETURN_IF_ERROR(count(s.at("records"), at + "/records", &shard.records));
        PETPREP_RETURN_IF_ERROR(count(s.at("bytes"), at + "/bytes", &shard.bytes));
        split.shards.push_back(std::move(shard));
      }
      l.splits.push_back(std::move(split));
    }
    const Json& files = m.at("files");
    if (!files.is_object()) return bad("/files", "not an object");
    for (auto it = files.begin(); it != files.end(); ++it) {
      ManifestFile f;
      const std::string at = "/files/" + it.key();
      if (!IsInsidePath(it.key()))
        return bad("/files", "\"" + it.key() + "\" is not a path inside the dataset");
      f.name = it.key();
      PETPREP_RETURN_IF_ERROR(sha(it.value().at("sha256"), at + "/sha256", &f.sha256));
      PETPREP_RETURN_IF_ERROR(count(it.value().at("bytes"), at + "/bytes", &f.bytes));
      l.files.push_back(std::move(f));
    }
    return l;
  });
}

Result<schema::Record> SplitReader::Read(size_t i) const {
  if (i >= total_) {
    return Status::InvalidArgument("record " + std::to_string(i) + " of split " + name_ +
                                   " does not exist (" + std::to_string(total_) + " records)");
  }
  size_t s =
      static_cast<size_t>(std::upper_bound(first_.begin(), first_.end(), i) - first_.begin()) - 1;
  auto bytes = shards_[s]->Read(i - first_[s]);
  if (!bytes.ok()) return bytes.status();
  schema::Record r;
  if (!r.ParseFromString(*bytes)) {
    return Status::Corruption(shards_[s]->path() + ": record " + std::to_string(i - first_[s]) +
                              ": not a petprep record");
  }
  return r;
}

Result<std::unique_ptr<DatasetReader>> DatasetReader::Open(const std::string& dir) {
  auto text = ReadFile(dir + "/manifest.json", kJsonFileLimit);
  if (!text.ok()) {
    return Status::NotFound(
        dir +
        "/manifest.json: missing; not a partitioned dataset "
        "(run: " +
        ShellCommand({"petprep", "partition", "--input", "DATA/petset", "--output", dir}) + ")");
  }
  std::unique_ptr<DatasetReader> d(new DatasetReader());
  d->dir_ = dir;
  const std::string path = dir + "/manifest.json";
  d->manifest_ = nlohmann::ordered_json::parse(*text, nullptr, false);
  if (d->manifest_.is_discarded()) return Status::Corruption(path + ": not valid JSON");
  auto layout = ReadManifestLayout(d->manifest_, path);
  if (!layout.ok()) return layout.status();
  d->layout_ = std::move(*layout);
  d->fingerprint_ = d->layout_.fingerprint;
  for (const ManifestSplit& split : d->layout_.splits) {
    auto sr = std::make_unique<SplitReader>();
    sr->name_ = split.name;
    for (const ManifestShard& s : split.shards) {
      auto shard = ShardReader::Open(dir + "/" + s.file, dir + "/" + s.index_file);
      if (!shard.ok()) return shard.status();
      if ((*shard)->count() != s.records) {
        return Status::Corruption((*shard)->path() + ": " + std::to_string((*shard)->count()) +
                                  " records, the manifest says " + std::to_string(s.records));
      }
      sr->first_.push_back(sr->total_);
      sr->total_ += (*shard)->count();
      sr->shards_.push_back(std::move(shard).value());
    }
    d->splits_.push_back(std::move(sr));
  }
  // Pet ids per record, from splits.csv, so that callers can order records without reading them.
  auto csv = ReadFile(dir + "/splits.csv", kTextFileLimit);
  if (!csv.ok()) return csv.status();
  std::istringstream in(*csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    size_t a = line.find(','), b = line.rfind(',');
    if (a == std::string::npos || b == a)
      return Status::Corruption(dir + "/splits.csv: bad row '" + line + "'");
    std::string split = line.substr(b + 1);
    for (auto& sr : d->splits_) {
      if (sr->name_ == split) sr->pet_ids_.push_back(line.substr(0, a));
    }
  }
  for (auto& sr : d->splits_) {
    if (sr->pet_ids_.size() != sr->total_) {
      return Status::Corruption(dir + "/splits.csv: " + std::to_string(sr->pet_ids_.size()) +
                                " rows for split " + sr->name_ + ", the shards hold " +
                                std::to_string(sr->total_));
    }
  }
  return d;
}

std::vector<std::string> DatasetReader::splits() const {
  std::vector<std::string> out;
  for (const auto& s : splits_) out.push_back(s->name());
  return out;
}

Result<const SplitReader*> DatasetReader::Split(const std::string& name) const {
  std::string known;
  for (const auto& s : splits_) {
    if (s->name() == name) return s.get();
    known += (known.empty() ? "" : ", ") + s->name();
  }
  return Status::NotFound(dir_ + ": no split '" + name + "' (it has: " + known + ")");
}

Result<Image> DecodeRecordImage(const schema::EncodedImage& e) {
  int w = static_cast<int>(e.width()), h = static_cast<int>(e.height()),
      c = static_cast<int>(e.channels());
  if (w <= 0 || h <= 0 || (c != 1 && c != 3) || e.width() > kMaxDatasetImageSize ||
      e.height() > kMaxDatasetImageSize) {
    return Status::Corruption("bad image shape in record (" + std::to_string(e.width()) + "x" +
                              std::to_string(e.height()) + "x" + std::to_string(e.channels()) +
                              ")");
  }
  Image img(w, h, c);
  if (e.codec() == "raw") {
    if (e.data().size() != img.data.size())
      return Status::Corruption("raw image of the wrong size");
    std::copy(e.data().begin(), e.data().end(), img.data.begin());
    return img;
  }
  Result<Image> decoded = e.codec() == "png" ? DecodePng(e.data(), img.data.size())
                          : e.codec() == "jpeg"
                              ? DecodeJpeg(e.data(), img.data.size())
                              : Status::Corruption("unknown codec '" + e.codec() + "' in record");
  if (!decoded.ok()) return decoded.status();
  if (decoded->width != w || decoded->height != h) {
    return Status::Corruption("record image decodes to another size than recorded");
  }
  if (decoded->channels == c) return decoded;
  if (!(c == 1 && decoded->channels == 3))
    return Status::Corruption("record image has the wrong channels");
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = decoded->data[3 * i];  // gray JPEG
  return img;
}

}  // namespace petprep
