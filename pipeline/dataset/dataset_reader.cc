#include "pipeline/dataset/dataset_reader.h"

#include <algorithm>
#include <sstream>

#include "pipeline/core/atomic_file.h"
#include "pipeline/dataset/codec.h"

namespace petprep {

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
  auto text = ReadFile(dir + "/manifest.json");
  if (!text.ok()) {
    return Status::NotFound(dir +
                            "/manifest.json: missing; not a partitioned dataset "
                            "(run: petprep partition --input DATA/petset --output " +
                            dir + ")");
  }
  std::unique_ptr<DatasetReader> d(new DatasetReader());
  d->dir_ = dir;
  d->manifest_ = nlohmann::ordered_json::parse(*text, nullptr, false);
  if (d->manifest_.is_discarded() || !d->manifest_.contains("splits") ||
      !d->manifest_.contains("options")) {
    return Status::Corruption(dir + "/manifest.json: not a petprep manifest");
  }
  d->fingerprint_ = d->manifest_.value("fingerprint", "");
  for (const auto& [name, split] : d->manifest_["splits"].items()) {
    auto sr = std::make_unique<SplitReader>();
    sr->name_ = name;
    for (const auto& s : split["shards"]) {
      auto shard = ShardReader::Open(dir + "/" + s["file"].get<std::string>(),
                                     dir + "/" + s["index_file"].get<std::string>());
      if (!shard.ok()) return shard.status();
      if ((*shard)->count() != s["records"].get<size_t>()) {
        return Status::Corruption((*shard)->path() + ": " + std::to_string((*shard)->count()) +
                                  " records, the manifest says " + s["records"].dump());
      }
      sr->first_.push_back(sr->total_);
      sr->total_ += (*shard)->count();
      sr->shards_.push_back(std::move(shard).value());
    }
    d->splits_.push_back(std::move(sr));
  }
  // Pet ids per record, from splits.csv, so that callers can order records without reading them.
  auto csv = ReadFile(dir + "/splits.csv");
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
  if (w <= 0 || h <= 0 || (c != 1 && c != 3))
    return Status::Corruption("bad image shape in record");
  Image img(w, h, c);
  if (e.codec() == "raw") {
    if (e.data().size() != img.data.size())
      return Status::Corruption("raw image of the wrong size");
    std::copy(e.data().begin(), e.data().end(), img.data.begin());
    return img;
  }
  Result<Image> decoded = e.codec() == "png" ? DecodePng(e.data())
                          : e.codec() == "jpeg"
                              ? DecodeJpeg(e.data())
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
