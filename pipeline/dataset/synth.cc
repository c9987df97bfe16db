#include "pipeline/dataset/synth.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/interrupt.h"
#include "pipeline/core/ordered_parallel.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/resize.h"
#include "pipeline/dataset/synth_render.h"
#include "pipeline/dataset/tar_writer.h"

namespace petprep {
namespace {

enum class ImageKind { kJpeg, kPngAlpha, kGif, kGray, kTruncated, kExtraneous, kCmyk, kNone };
enum class TrimapKind { kPng, kOtherSize, kRgba, kBadValues, kNone };
enum class ListKind { kRow, kMissing, kShortRow };

struct PetPlan {
  std::string id;
  const Breed* breed = nullptr;
  ImageKind image = ImageKind::kJpeg;
  TrimapKind trimap = TrimapKind::kPng;
  ListKind list = ListKind::kRow;
};

struct DefectSpec {
  const char* file;
  const char* pet_id;  // nullptr: not a pet
  const char* kind;
  const char* detail;
  ImageKind image;
  TrimapKind trimap;
  ListKind list;
};

#define IMG(kind) ImageKind::kind, TrimapKind::kPng, ListKind::kRow
#define TRI(kind) ImageKind::kJpeg, TrimapKind::kind, ListKind::kRow
#define LST(kind) ImageKind::kJpeg, TrimapKind::kPng, ListKind::kind
#define NONE ImageKind::kJpeg, TrimapKind::kPng, ListKind::kRow

// The defects of the real archives, with their real names where known.
const DefectSpec kDefects[] = {
    {"images/Abyssinian_5.jpg", "Abyssinian_5", "png_as_jpg",
     "a PNG with an alpha channel named .jpg", IMG(kPngAlpha)},
    {"images/Egyptian_Mau_14.jpg", "Egyptian_Mau_14", "png_as_jpg",
     "a PNG with an alpha channel named .jpg", IMG(kPngAlpha)},
    {"images/Egyptian_Mau_186.jpg", "Egyptian_Mau_186", "png_as_jpg",
     "a PNG with an alpha channel named .jpg", IMG(kPngAlpha)},
    {"images/Abyssinian_34.jpg", "Abyssinian_34", "gif_as_jpg", "a GIF palette image named .jpg",
     IMG(kGif)},
    {"images/Egyptian_Mau_139.jpg", "Egyptian_Mau_139", "gif_as_jpg",
     "a GIF palette image named .jpg", IMG(kGif)},
    {"images/Egyptian_Mau_145.jpg", "Egyptian_Mau_145", "gif_as_jpg",
     "a GIF palette image named .jpg", IMG(kGif)},
    {"images/Egyptian_Mau_167.jpg", "Egyptian_Mau_167", "gif_as_jpg",
     "a GIF palette image named .jpg", IMG(kGif)},
    {"images/Egyptian_Mau_177.jpg", "Egyptian_Mau_177", "gif_as_jpg",
     "a GIF palette image named .jpg", IMG(kGif)},
    {"images/Egyptian_Mau_191.jpg", "Egyptian_Mau_191", "gif_as_jpg",
     "a GIF palette image named .jpg", IMG(kGif)},
    {"images/staffordshire_bull_terrier_2.jpg", "staffordshire_bull_terrier_2", "grayscale_jpeg",
     "a one-channel JPEG", IMG(kGray)},
    {"images/staffordshire_bull_terrier_22.jpg", "staffordshire_bull_terrier_22", "grayscale_jpeg",
     "a one-channel JPEG", IMG(kGray)},
    {"images/Egyptian_Mau_129.jpg", "Egyptian_Mau_129", "grayscale_jpeg", "a one-channel JPEG",
     IMG(kGray)},
    {"images/beagle_116.jpg", "beagle_116", "truncated_jpeg",
     "a JPEG cut off before its end marker", IMG(kTruncated)},
    {"images/chihuahua_121.jpg", "chihuahua_121", "extraneous_bytes_jpeg",
     "a JPEG with extraneous bytes before its end marker", IMG(kExtraneous)},
    {"images/Bombay_250.jpg", "Bombay_250", "cmyk_jpeg", "a four-channel CMYK JPEG", IMG(kCmyk)},
    {"images/Abyssinian_100.mat", nullptr, "mat_file", "a MATLAB file among the images", NONE},
    {"images/Abyssinian_101.mat", nullptr, "mat_file", "a MATLAB file among the images", NONE},
    {"images/Abyssinian_102.mat", nullptr, "mat_file", "a MATLAB file among the images", NONE},
    {"annotations/._trimaps", nullptr, "appledouble", "a macOS AppleDouble resource file", NONE},
    {"annotations/trimaps/._Abyssinian_1.png", nullptr, "appledouble",
     "a macOS AppleDouble resource file", NONE},
    {"images/boxer_250.jpg", "boxer_250", "image_without_trimap", "an image with no trimap",
     TRI(kNone)},
    {"annotations/trimaps/pug_250.png", "pug_250", "trimap_without_image", "a trimap with no image",
     IMG(kNone)},
    {"annotations/trimaps/havanese_250.png", "havanese_250", "trimap_size_mismatch",
     "a trimap of another size than its image", TRI(kOtherSize)},
    {"annotations/trimaps/keeshond_250.png", "keeshond_250", "rgba_trimap",
     "a four-channel RGBA trimap", TRI(kRgba)},
    {"annotations/trimaps/samoyed_250.png", "samoyed_250", "trimap_bad_values",
     "a trimap holding the values 0 and 7", TRI(kBadValues)},
    {"annotations/list.txt", "Sphynx_250", "missing_from_list",
     "a pet with image and trimap but no list.txt row", LST(kMissing)},
    {"annotations/list.txt", "pomeranian_250", "malformed_list_line",
     "a list.txt row with only 3 columns", LST(kShortRow)},
};

#undef IMG
#undef TRI
#undef LST
#undef NONE

const char kListHeader[] =
    "#Image CLASS-ID SPECIES BREED ID\n"
    "#ID: 1:37 Class ids\n"
    "#SPECIES: 1:Cat 2:Dog\n"
    "#BREED ID: 1-25:Cat 1:12:Dog\n"
    "#All images with 1st letter as captial are cat images\n"
    "#images with small first letter are dog images\n";

std::string AppleDoubleBytes() {
  std::string b("\x00\x05\x16\x07\x00\x02\x00\x00", 8);
  b += "Mac OS X        ";
  b += std::string("\x00\x00", 2);  // no entries
  return b;
}

std::string MatFileBytes(const std::string& name) {
  std::string text =
      "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Fri Jun 29 00:00:00 2012 (" + name + ")";
  text.resize(116, ' ');
  text += std::string(8, '\0');               // subsystem data offset
  text += std::string("\x00\x01", 2) + "IM";  // version 0x0100, little-endian marker
  text += std::string(64, '\0');
  return text;
}

std::string ListRow(const PetPlan& p) {
  char buf[160];
  if (p.list == ListKind::kShortRow) {
    std::snprintf(buf, sizeof buf, "%s %d %d\n", p.id.c_str(), p.breed->class_id, p.breed->species);
  } else {
    std::snprintf(buf, sizeof buf, "%s %d %d %d\n", p.id.c_str(), p.breed->class_id,
                  p.breed->species, p.breed->breed_id);
  }
  return buf;
}

std::string HeadXml(const PetPlan& p, const RenderedPet& r) {
  char buf[1024];
  std::snprintf(
      buf, sizeof buf,
      "<annotation><folder>OXIIIT</folder><filename>%s.jpg</filename>"
      "<source><database>OXFORD-IIIT Pet Dataset</database><annotation>OXIIIT</annotation>"
      "<image>flickr</image></source><size><width>%d</width><height>%d</height>"
      "<depth>3</depth></size><segmented>0</segmented><object><name>%s</name>"
      "<pose>Frontal</pose><truncated>0</truncated><occluded>0</occluded><bndbox>"
      "<xmin>%d</xmin><ymin>%d</ymin><xmax>%d</xmax><ymax>%d</ymax></bndbox>"
      "<difficult>0</difficult></object></annotation>\n",
      p.id.c_str(), r.image.width, r.image.height, p.breed->species == 1 ? "cat" : "dog",
      r.head.xmin + 1, r.head.ymin + 1, r.head.xmax + 1, r.head.ymax + 1);
  return buf;
}

Image ToGray(const Image& rgb) {
  Image g(rgb.width, rgb.height, 1);
  for (size_t i = 0, n = static_cast<size_t>(rgb.width) * rgb.height; i < n; ++i) {
    const uint8_t* p = &rgb.data[3 * i];
    g.data[i] = static_cast<uint8_t>((77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8);
  }
  return g;
}

Image AddChannel(const Image& src) {
  Image out(src.width, src.height, 4);
  for (size_t i = 0, n = static_cast<size_t>(src.width) * src.height; i < n; ++i) {
    for (int c = 0; c < 3; ++c) {
      uint8_t v = src.channels == 1 ? src.data[i] : src.data[3 * i + c];
      out.data[4 * i + c] = v;
    }
    // CMYK in the Adobe convention (inverted ink): C = R, M = G, Y = B, K = 255 means no ink.
    out.data[4 * i + 3] = 255;
  }
  return out;
}

struct Rendered {
  Status status;
  std::string image;   // empty: no image file
  std::string trimap;  // empty: no trimap file
  std::string xml;     // empty: no head box
  bool clean_jpeg = false;
};

Rendered RenderPlan(uint64_t seed, const PetPlan& plan) {
  Rendered out;
  RenderedPet pet = RenderPet(seed, plan.id, *plan.breed);
  Result<std::string> img = std::string();
  switch (plan.image) {
    case ImageKind::kJpeg:
      img = EncodeJpeg(pet.image, pet.jpeg_quality);
      out.clean_jpeg = true;
      break;
    case ImageKind::kPngAlpha:
      img = EncodePng(AddChannel(pet.image));
      break;
    case ImageKind::kGif:
      img = EncodeGif(pet.image);
      break;
    case ImageKind::kGray:
      img = EncodeJpeg(ToGray(pet.image), pet.jpeg_quality);
      break;
    case ImageKind::kCmyk:
      img = EncodeJpeg(AddChannel(pet.image), pet.jpeg_quality, JpegColor::kCmyk);
      break;
    case ImageKind::kTruncated:
      img = EncodeJpeg(pet.image, pet.jpeg_quality);
      if (img.ok()) img.value().resize(img.value().size() * 6 / 10);
      break;
    case ImageKind::kExtraneous:
      img = EncodeJpeg(pet.image, pet.jpeg_quality);
      // Bytes between the last scan and the end marker: libjpeg warns "extraneous bytes".
      if (img.ok())
        img.value().insert(img.value().size() - 2, std::string("\x12\x34\x56\x78\x9a", 5));
      break;
    case ImageKind::kNone:
      break;
  }
  if (!img.ok()) {
    out.status = img.status().WithContext(plan.id);
    return out;
  }
  out.image = std::move(img).value();

  Image trimap;
  switch (plan.trimap) {
    case TrimapKind::kPng:
      trimap = std::move(pet.trimap);
      break;
    case TrimapKind::kOtherSize:
      trimap = ResizeNearest(pet.trimap, pet.trimap.width * 3 / 4, pet.trimap.height * 3 / 4);
      break;
    case TrimapKind::kRgba:
      trimap = AddChannel(pet.trimap);
      break;
    case TrimapKind::kBadValues:
      trimap = std::move(pet.trimap);
      for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 8; ++x) {
          trimap.at(x, y)[0] = 0;
          trimap.at(trimap.width - 1 - x, trimap.height - 1 - y)[0] = 7;
        }
      }
      break;
    case TrimapKind::kNone:
      break;
  }
  if (!trimap.empty()) {
    Result<std::string> png = EncodePng(trimap);
    if (!png.ok()) {
      out.status = png.status().WithContext(plan.id);
      return out;
    }
    out.trimap = std::move(png).value();
  }
  if (plan.image != ImageKind::kNone && SynthIsTrainval(seed, plan.id))
    out.xml = HeadXml(plan, pet);
  return out;
}

std::vector<PetPlan> MakePlans(const SynthOptions& options) {
  std::map<std::string, PetPlan> plans;  // bytewise order
  for (const std::string& id : SynthPetIds(options.count)) {
    PetPlan p;
    p.id = id;
    plans[id] = p;
  }
  if (options.defects) {
    for (const DefectSpec& d : kDefects) {
      if (d.pet_id == nullptr) continue;
      PetPlan& p = plans[d.pet_id];
      p.id = d.pet_id;
      if (d.image != ImageKind::kJpeg) p.image = d.image;
      if (d.trimap != TrimapKind::kPng) p.trimap = d.trimap;
      if (d.list != ListKind::kRow) p.list = d.list;
    }
  }
  std::vector<PetPlan> out;
  for (auto& [id, plan] : plans) {
    plan.breed = ParsePetId(id)->breed;
    out.push_back(plan);
  }
  return out;
}

}  // namespace

std::vector<std::string> SynthPetIds(int count) {
  const std::vector<Breed>& breeds = AllBreeds();
  std::vector<std::string> ids;
  ids.reserve(count > 0 ? count : 0);
  for (int i = 0; i < count; ++i) {
    ids.push_back(breeds[i % breeds.size()].name + "_" + std::to_string(i / breeds.size() + 1));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<SynthDefect> SynthDefectList() {
  std::vector<SynthDefect> out;
  for (const DefectSpec& d : kDefects) {
    out.push_back({d.file, d.pet_id ? d.pet_id : "", d.kind, d.detail});
  }
  std::sort(out.begin(), out.end(), [](const SynthDefect& a, const SynthDefect& b) {
    return std::tie(a.file, a.pet_id) < std::tie(b.file, b.pet_id);
  });
  return out;
}

Result<SynthSummary> WriteSynthDataset(const SynthOptions& options) {
  if (options.count < 0) return Status::InvalidArgument("--count must be 0 or more");
  if (options.count == 0 && !options.defects) {
    return Status::InvalidArgument("--count 0 without --defects would write an empty dataset");
  }
  PETPREP_RETURN_IF_ERROR(MakeDirs(options.out_dir));
  const std::vector<PetPlan> plans = MakePlans(options);
  std::vector<std::string> extra_images, extra_annotations;
  if (options.defects) {
    for (const DefectSpec& d : kDefects) {
      std::string kind = d.kind;
      if (kind == "mat_file") extra_images.push_back(d.file);
      if (kind == "appledouble") extra_annotations.push_back(d.file);
    }
    std::sort(extra_images.begin(), extra_images.end());
  }

  auto images =
      TarWriter::Create(options.out_dir + "/images.tar.gz", TarWriter::Compression::kGzip);
  if (!images.ok()) return images.status();
  auto annotations =
      TarWriter::Create(options.out_dir + "/annotations.tar.gz", TarWriter::Compression::kGzip);
  if (!annotations.ok()) return annotations.status();
  TarWriter& img_tar = **images;
  TarWriter& ann_tar = **annotations;

  // Annotation lists first: they depend on the ids only, not on the pixels.
  std::vector<const PetPlan*> listed;
  for (const PetPlan& p : plans) {
    if (p.list != ListKind::kMissing) listed.push_back(&p);
  }
  std::sort(listed.begin(), listed.end(),
            [](const PetPlan* a, const PetPlan* b) { return ListOrderLess(a->id, b->id); });
  std::string list = kListHeader, trainval, test;
  for (const PetPlan* p : listed) {
    list += ListRow(*p);
    if (p->list == ListKind::kShortRow) continue;
    (SynthIsTrainval(options.seed, p->id) ? trainval : test) += ListRow(*p);
  }
  Status s = img_tar.AddDirectory("images/");
  if (s.ok()) s = ann_tar.AddDirectory("annotations/");
  for (const std::string& f : extra_annotations) {
    if (s.ok() && f == "annotations/._trimaps") s = ann_tar.AddFile(f, AppleDoubleBytes());
  }
  if (s.ok()) s = ann_tar.AddFile("annotations/list.txt", list);
  if (s.ok()) s = ann_tar.AddFile("annotations/test.txt", test);
  if (s.ok()) s = ann_tar.AddFile("annotations/trainval.txt", trainval);
  if (s.ok()) s = ann_tar.AddDirectory("annotations/trimaps/");
  for (const std::string& f : extra_annotations) {
    if (s.ok() && f != "annotations/._trimaps") s = ann_tar.AddFile(f, AppleDoubleBytes());
  }
  if (!s.ok()) return s;

  SynthSummary summary;
  std::vector<std::pair<std::string, std::string>> xmls;
  size_t next_extra = 0;
  uint64_t jpeg_bytes = 0;
  int jpegs = 0;
  auto flush_extra_images = [&](const std::string* before) -> Status {
    while (next_extra < extra_images.size() &&
           (before == nullptr || extra_images[next_extra] < *before)) {
      const std::string& f = extra_images[next_extra++];
      PETPREP_RETURN_IF_ERROR(img_tar.AddFile(f, MatFileBytes(f)));
      ++summary.images;
    }
    return Status::Ok();
  };

  Progress progress("synth", plans.size(), Progress::Unit::kItems, "pets");
  s = OrderedParallel(
      plans.size(), options.jobs, [&](size_t i) { return RenderPlan(options.seed, plans[i]); },
      [&](size_t i, Rendered& r) -> Status {
        const PetPlan& plan = plans[i];
        Status st = r.status;
        if (st.ok() && !r.image.empty()) {
          std::string name = "images/" + plan.id + ".jpg";
          st = flush_extra_images(&name);
          if (st.ok()) st = img_tar.AddFile(name, r.image);
          ++summary.images;
          if (r.clean_jpeg) {
            jpeg_bytes += r.image.size();
            ++jpegs;
          }
        }
        if (st.ok() && !r.trimap.empty()) {
          st = ann_tar.AddFile("annotations/trimaps/" + plan.id + ".png", r.trimap);
          ++summary.trimaps;
        }
        if (!r.xml.empty()) xmls.emplace_back(plan.id, std::move(r.xml));
        progress.Add(1);
        return st;
      });
  PETPREP_RETURN_IF_ERROR(s);
  PETPREP_RETURN_IF_ERROR(flush_extra_images(nullptr));
  PETPREP_RETURN_IF_ERROR(ann_tar.AddDirectory("annotations/xmls/"));
  for (const auto& [id, xml] : xmls) {
    PETPREP_RETURN_IF_ERROR(ann_tar.AddFile("annotations/xmls/" + id + ".xml", xml));
  }
  progress.Finish();

  auto img_sha = img_tar.Finish();
  if (!img_sha.ok()) return img_sha.status();
  auto ann_sha = ann_tar.Finish();
  if (!ann_sha.ok()) return ann_sha.status();
  summary.images_sha256 = *img_sha;
  summary.annotations_sha256 = *ann_sha;
  summary.images_bytes = img_tar.bytes_written();
  summary.annotations_bytes = ann_tar.bytes_written();
  summary.pets = static_cast<int>(plans.size());
  summary.mean_jpeg_bytes = jpegs > 0 ? static_cast<double>(jpeg_bytes) / jpegs : 0.0;

  PETPREP_RETURN_IF_ERROR(
      WriteFileAtomic(options.out_dir + "/SHA256SUMS",
                      *img_sha + "  images.tar.gz\n" + *ann_sha + "  annotations.tar.gz\n"));
  std::string defects_path = options.out_dir + "/defects.json";
  if (options.defects) {
    summary.defects = SynthDefectList();
    nlohmann::ordered_json j;
    j["seed"] = options.seed;
    j["count"] = options.count;
    j["defects"] = nlohmann::ordered_json::array();
    for (const SynthDefect& d : summary.defects) {
      nlohmann::ordered_json e;
      e["file"] = d.file;
      e["pet_id"] = d.pet_id.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(d.pet_id);
      e["defect"] = d.kind;
      e["detail"] = d.detail;
      j["defects"].push_back(e);
    }
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(defects_path, j.dump(2) + "\n"));
  } else if (std::remove(defects_path.c_str()) != 0 && errno != ENOENT) {
    return Status::IoError(defects_path +
                           ": cannot remove the stale defect list: " + std::strerror(errno));
  }
  return summary;
}

}  // namespace petprep
