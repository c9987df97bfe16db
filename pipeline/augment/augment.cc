#include "pipeline/augment/augment.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "pipeline/core/read_file.h"

namespace petprep {
namespace {

using Json = nlohmann::json;

Status Bad(const std::string& source, const std::string& key, const std::string& allowed,
           const Json& got) {
  return Status::InvalidArgument(source + ": \"" + key + "\" must be " + allowed + ", not " +
                                 got.dump());
}

std::string Fmt(float v) {
  if (v >= 1e8f) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  return buf;
}

Status ReadNumber(const Json& j, const std::string& key, float lo, float hi, bool lo_open,
                  const std::string& source, float* out) {
  const Json& v = j.at(key);
  std::string allowed =
      std::string("a number in ") + (lo_open ? "(" : "[") + Fmt(lo) + ", " + Fmt(hi) + "]";
  if (!v.is_number()) return Bad(source, key, allowed, v);
  double d = v.get<double>();
  if (!(d <= hi) || (lo_open ? !(d > lo) : !(d >= lo))) return Bad(source, key, allowed, v);
  *out = static_cast<float>(d);
  return Status::Ok();
}

Status ReadPair(const Json& j, const std::string& key, float lo, float hi, bool lo_open,
                const std::string& source, float out[2]) {
  const Json& v = j.at(key);
  std::string allowed = std::string("[lo, hi] with lo <= hi, both in ") + (lo_open ? "(" : "[") +
                        Fmt(lo) + ", " + Fmt(hi) + (hi >= 1e8f ? ")" : "]");
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
    return Bad(source, key, allowed, v);
  }
  for (int i = 0; i < 2; ++i) {
    double d = v[i].get<double>();
    if (!(d <= hi) || (lo_open ? !(d > lo) : !(d >= lo))) return Bad(source, key, allowed, v);
    out[i] = static_cast<float>(d);
  }
  if (out[0] > out[1]) return Bad(source, key, allowed, v);
  return Status::Ok();
}

int Q8(float j) { return static_cast<int>(std::lround((1.0 + j) * 256.0)); }

}  // namespace

Result<AugmentSpec> AugmentSpec::FromFile(const std::string& path) {
  auto text = ReadFile(path, kJsonFileLimit);
  if (!text.ok()) return text.status().WithContext("the augmentation spec");
  return FromJson(*text, path);
}

AugmentSpec AugmentSpec::None() {
  AugmentSpec s;
  s.flip_p = 0.0f;
  return s;
}

Result<AugmentSpec> AugmentSpec::FromJson(const std::string& text, const std::string& source) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument(source + ": not valid JSON");
  if (!j.is_object()) return Status::InvalidArgument(source + ": expected a JSON object");
  AugmentSpec s;
  const float kInf = 1e9f;
  for (const auto& [key, value] : j.items()) {
    Status st;
    if (key == "flip_p") {
      st = ReadNumber(j, key, 0, 1, false, source, &s.flip_p);
    } else if (key == "crop_scale") {
      st = ReadPair(j, key, 0, 1, true, source, s.crop_scale);
      s.crop = true;
    } else if (key == "crop_ratio") {
      st = ReadPair(j, key, 0, kInf, true, source, s.crop_ratio);
      s.crop = true;
    } else if (key == "rotate_deg") {
      st = ReadNumber(j, key, 0, 45, false, source, &s.rotate_deg);
    } else if (key == "brightness") {
      st = ReadNumber(j, key, 0, 1, false, source, &s.brightness);
    } else if (key == "contrast") {
      st = ReadNumber(j, key, 0, 1, false, source, &s.contrast);
    } else if (key == "saturation") {
      st = ReadNumber(j, key, 0, 1, false, source, &s.saturation);
    } else if (key == "normalize") {
      const std::string allowed =
          "\"reference\" or {\"mean\": [3 numbers in [0, 1]], \"std\": [3 numbers > 0]}";
      if (value.is_string() && value == "reference") {
        s.reference_normalize = true;
      } else if (value.is_object() && value.size() == 2 && value.contains("mean") &&
                 value.contains("std") && value["mean"].is_array() && value["std"].is_array() &&
                 value["mean"].size() == 3 && value["std"].size() == 3) {
        s.reference_normalize = false;
        for (int c = 0; c < 3; ++c) {
          if (!value["mean"][c].is_number() || !value["std"][c].is_number()) {
            return Bad(source, key, allowed, value);
          }
          double m = value["mean"][c].get<double>(), d = value["std"][c].get<double>();
          if (!(m >= 0 && m <= 1) || !(d > 0 && d <= 100)) return Bad(source, key, allowed, value);
          s.mean[c] = static_cast<float>(m);
          s.std[c] = static_cast<float>(d);
        }
      } else {
        return Bad(source, key, allowed, value);
      }
    } else {
      return Status::InvalidArgument(
          source + ": unknown key \"" + key +
          "\" (known: flip_p, crop_scale, crop_ratio, rotate_deg, brightness, contrast, "
          "saturation, normalize)");
    }
    PETPREP_RETURN_IF_ERROR(st);
  }
  return s;
}

std::string AugmentSpec::ToJson() const {
  Json j;
  j["flip_p"] = flip_p;
  if (crop) {
    j["crop_scale"] = {crop_scale[0], crop_scale[1]};
    j["crop_ratio"] = {crop_ratio[0], crop_ratio[1]};
  }
  j["rotate_deg"] = rotate_deg;
  j["brightness"] = brightness;
  j["contrast"] = contrast;
  j["saturation"] = saturation;
  if (reference_normalize) {
    j["normalize"] = "reference";
  } else {
    j["normalize"] = {{"mean", {mean[0], mean[1], mean[2]}}, {"std", {std[0], std[1], std[2]}}};
  }
  return j.dump();
}

AugmentParams DrawAugmentParams(const AugmentSpec& spec, uint64_t seed, uint64_t sample_key,
                                uint32_t epoch, int src_w, int src_h, int dst) {
  PhiloxStream rng(DeriveKey(seed, RandomPurpose::kAugment), sample_key, epoch);
  float draw[9];
  for (float& d : draw) d = rng.Uniform();
  AugmentParams p;
  p.src_w = src_w;
  p.src_h = src_h;
  p.dst = dst;
  p.flip = draw[0] < spec.flip_p ? 1 : 0;
  float w = static_cast<float>(src_w), h = static_cast<float>(src_h);
  p.crop_x = 0.0f;
  p.crop_y = 0.0f;
  p.crop_w = w;
  p.crop_h = h;
  if (spec.crop) {
    float area = spec.crop_scale[0] + (spec.crop_scale[1] - spec.crop_scale[0]) * draw[1];
    float ratio = spec.crop_ratio[0] + (spec.crop_ratio[1] - spec.crop_ratio[0]) * draw[2];
    p.crop_w = std::min(w, std::sqrt(area * ratio) * w);
    p.crop_h = std::min(h, std::sqrt(area / ratio) * h);
    p.crop_x = (w - p.crop_w) * draw[3];
    p.crop_y = (h - p.crop_h) * draw[4];
  }
  float degrees = spec.rotate_deg * (2.0f * draw[5] - 1.0f);
  float t = degrees * (3.14159265358979f / 180.0f);
  p.cos_t = PetCos(t);
  p.sin_t = PetSin(t);
  p.q_brightness = Q8(spec.brightness * (2.0f * draw[6] - 1.0f));
  p.q_contrast = Q8(spec.contrast * (2.0f * draw[7] - 1.0f));
  p.q_saturation = Q8(spec.saturation * (2.0f * draw[8] - 1.0f));
  p.reference_normalize = spec.reference_normalize ? 1 : 0;
  for (int c = 0; c < 3; ++c) {
    p.mean[c] = spec.mean[c];
    p.inv_std[c] = 1.0f / spec.std[c];
  }
  return p;
}

void AugmentSampleCpu(const AugmentParams& p, const uint8_t* image, const uint8_t* mask,
                      float* out_image, uint8_t* out_mask) {
  const int n = p.dst * p.dst;
  // The pixels after geometry and brightness, one plane per channel (R, G, B), so that the
  // loops below run over contiguous bytes; every value is what the per-pixel form computes.
  std::vector<uint8_t> planes(static_cast<size_t>(n) * 3);
  uint8_t* plane[3] = {planes.data(), planes.data() + n,
                       planes.data() + 2 * static_cast<size_t>(n)};
  // The column terms once per sample, the row terms once per row: the very products the
  // per-pixel form computes.
  std::vector<float> cdx(p.dst), sdx(p.dst);
  for (int u = 0; u < p.dst; ++u) {
    float dx = ColumnOffset(p, u);
    cdx[u] = p.cos_t * dx;
    sdx[u] = p.sin_t * dx;
  }
  const bool rotated = p.sin_t != 0.0f;
  std::vector<AxisSample> columns(p.dst);
  if (!rotated) {
    for (int u = 0; u < p.dst; ++u) {
      columns[u] = SampleAxis((p.crop_x + p.crop_w * 0.5f) + (cdx[u] - 0.0f), p.src_w);
    }
  }
  // Without rotation, SampleAt's horizontal partial sums ("top" and "bottom") depend on the
  // source row and the column only: each source row's are formed once (channel-major) and
  // kept while the output rows still need them (rows only move down).
  const int width = 3 * p.dst;
  std::vector<uint32_t> terms(rotated ? 0 : 2 * static_cast<size_t>(width));
  int tag[2] = {-1, -1};
  auto fill = [&](int slot, int source_row) {
    const uint8_t* r = image + static_cast<size_t>(source_row) * p.src_w * 3;
    uint32_t* h = terms.data() + static_cast<size_t>(slot) * width;
    for (int u = 0; u < p.dst; ++u) {
      const AxisSample& a = columns[u];
      const uint32_t w1 = a.w1, w0 = 2048 - a.w1;
      const uint8_t* q0 = r + a.i0 * 3;
      const uint8_t* q1 = r + a.i1 * 3;
      for (int c = 0; c < 3; ++c) h[c * p.dst + u] = q0[c] * w0 + q1[c] * w1;
    }
    tag[slot] = source_row;
  };
  for (int v = 0; v < p.dst; ++v) {
    float dy = RowOffset(p, v);
    float sdy = p.sin_t * dy, cdy = p.cos_t * dy;
    AxisSample row = SampleAxis((p.crop_y + p.crop_h * 0.5f) + (0.0f + cdy), p.src_h);
    if (rotated) {
      for (int u = 0; u < p.dst; ++u) {
        int i = v * p.dst + u;
        uint8_t rgb[3];
        AugmentGeometryTerms(p, image, mask, cdx[u], sdx[u], sdy, cdy, rgb, &out_mask[i]);
        for (int c = 0; c < 3; ++c) plane[c][i] = rgb[c];
      }
      continue;
    }
    int s0 = tag[0] == row.i0 ? 0 : tag[1] == row.i0 ? 1 : -1;
    int s1 = tag[0] == row.i1 ? 0 : tag[1] == row.i1 ? 1 : -1;
    if (s0 < 0) {
      s0 = s1 == 0 ? 1 : 0;
      fill(s0, row.i0);
    }
    if (s1 < 0) {
      s1 = row.i1 == row.i0 ? s0 : 1 - s0;
      if (s1 != s0) fill(s1, row.i1);
    }
    const uint32_t wy1 = row.w1, wy0 = 2048 - row.w1;
    const int qb = p.q_brightness;
    for (int c = 0; c < 3; ++c) {
      const uint32_t* top = terms.data() + static_cast<size_t>(s0) * width + c * p.dst;
      const uint32_t* bottom = terms.data() + static_cast<size_t>(s1) * width + c * p.dst;
      uint8_t* out = plane[c] + static_cast<size_t>(v) * p.dst;
      for (int u = 0; u < p.dst; ++u) {
        const int val = static_cast<int>((top[u] * wy0 + bottom[u] * wy1 + (1u << 21)) >> 22);
        out[u] = static_cast<uint8_t>(ClampByte((val * qb + 128) >> 8));
      }
    }
    const uint8_t* mrow = mask + static_cast<size_t>(row.nearest) * p.src_w;
    for (int u = 0; u < p.dst; ++u) out_mask[v * p.dst + u] = mrow[columns[u].nearest];
  }
  const bool jitter = p.q_contrast != 256 || p.q_saturation != 256;  // else the identity
  if (jitter) {
    uint64_t gray_sum = 0;
    for (int i = 0; i < n; ++i) {
      gray_sum += static_cast<uint64_t>(GrayOf(plane[0][i], plane[1][i], plane[2][i]));
    }
    const int mean_gray = static_cast<int>(gray_sum / static_cast<uint64_t>(n));
    for (int i = 0; i < n; ++i) {
      uint8_t rgb[3] = {plane[0][i], plane[1][i], plane[2][i]};
      AugmentColorPixel(p, mean_gray, rgb);
      for (int c = 0; c < 3; ++c) plane[c][i] = rgb[c];
    }
  }
  for (int c = 0; c < 3; ++c) {
    float* out = out_image + static_cast<size_t>(c) * n;
    const uint8_t* in = plane[c];
    if (p.reference_normalize) {
      // NormalizeValue's v / 128 - 1: the division by a power of two is exact either way.
      for (int i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * 0.0078125f - 1.0f;
    } else {
      float table[256];
      for (int v = 0; v < 256; ++v) table[v] = NormalizeValue(p, c, static_cast<uint8_t>(v));
      for (int i = 0; i < n; ++i) out[i] = table[in[i]];
    }
  }
}

}  // namespace petprep
