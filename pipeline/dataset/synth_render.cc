#include "pipeline/dataset/synth_render.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "pipeline/core/hash.h"
#include "pipeline/core/philox.h"

namespace petprep {
namespace {

struct Rgb {
  float r, g, b;
};

struct Vec {
  float x, y;
};

uint32_t Mix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

uint32_t Hash2(int x, int y, uint32_t salt) {
  return Mix32(static_cast<uint32_t>(x) * 0x8da6b343u ^ static_cast<uint32_t>(y) * 0xd8163841u ^
               salt * 0xcb1ab31fu);
}

float HashUnit(int x, int y, uint32_t salt) { return UniformFloat(Hash2(x, y, salt)); }

// Smooth value noise in [0, 1) with lattice spacing `scale` pixels.
float ValueNoise(float x, float y, float scale, uint32_t salt) {
  float fx = x / scale, fy = y / scale;
  float gx = std::floor(fx), gy = std::floor(fy);
  int ix = static_cast<int>(gx), iy = static_cast<int>(gy);
  float tx = fx - gx, ty = fy - gy;
  tx = tx * tx * (3.0f - 2.0f * tx);
  ty = ty * ty * (3.0f - 2.0f * ty);
  float a = HashUnit(ix, iy, salt), b = HashUnit(ix + 1, iy, salt);
  float c = HashUnit(ix, iy + 1, salt), d = HashUnit(ix + 1, iy + 1, salt);
  float top = a + (b - a) * tx, bottom = c + (d - c) * tx;
  return top + (bottom - top) * ty;
}

Rgb Lerp(Rgb a, Rgb b, float t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

Rgb Scale(Rgb c, float s) { return {c.r * s, c.g * s, c.b * s}; }

Rgb Add(Rgb c, float v) { return {c.r + v, c.g + v, c.b + v}; }

uint8_t ToByte(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(v + 0.5f);
}

void Put(Image& img, int x, int y, Rgb c) {
  uint8_t* p = img.at(x, y);
  p[0] = ToByte(c.r);
  p[1] = ToByte(c.g);
  p[2] = ToByte(c.b);
}

// Fur colours real pets have: blacks, greys, whites, creams, browns, gingers.
const Rgb kFurPalette[] = {
    {30, 28, 26},    {70, 66, 62},    {128, 124, 120}, {200, 198, 192},
    {238, 232, 220}, {222, 196, 150}, {180, 130, 80},  {130, 84, 46},
    {90, 56, 30},    {206, 120, 50},  {160, 150, 140}, {110, 100, 110},
};
constexpr int kFurColors = sizeof(kFurPalette) / sizeof(kFurPalette[0]);

Rgb Jitter(Rgb c, PhiloxStream& rng, float amount) {
  return {c.r + rng.Uniform(-amount, amount), c.g + rng.Uniform(-amount, amount),
          c.b + rng.Uniform(-amount, amount)};
}

Rgb AnyColor(PhiloxStream& rng) {
  return {rng.Uniform(0, 255), rng.Uniform(0, 255), rng.Uniform(0, 255)};
}

enum Pattern { kSolid = 0, kStripes = 1, kSpots = 2, kPatches = 3 };

struct BreedLook {
  Rgb base, second;
  int pattern;
  float pattern_scale;  // relative to the body's long semi-axis
  float fur;            // per-pixel grain amplitude
  bool pointy_ears;
  float aspect;  // body short / long semi-axis
};

BreedLook LookOf(uint64_t seed, const Breed& breed) {
  PhiloxStream rng(DeriveKey(seed, RandomPurpose::kSynth), SampleKeyOf("breed:" + breed.name), 1);
  BreedLook look;
  look.base = Jitter(kFurPalette[rng.Below(kFurColors)], rng, 12);
  look.second = Jitter(kFurPalette[rng.Below(kFurColors)], rng, 12);
  look.pattern = static_cast<int>(rng.Below(4));
  look.pattern_scale = rng.Uniform(0.12f, 0.3f);
  look.fur = rng.Uniform(8, 22);
  look.pointy_ears = breed.species == 1 || rng.Bernoulli(0.3f);
  look.aspect = rng.Uniform(0.5f, 0.72f);
  return look;
}

// A shape the pet or a distractor is made of.
struct Ellipse {
  Vec c;
  Vec axis;  // unit vector along the first semi-axis
  float a, b;
  bool Contains(float x, float y) const {
    float dx = x - c.x, dy = y - c.y;
    float u = (dx * axis.x + dy * axis.y) / a;
    float v = (dy * axis.x - dx * axis.y) / b;
    return u * u + v * v <= 1.0f;
  }
};

struct Capsule {
  Vec p, q;
  float r;
  bool Contains(float x, float y) const {
    float dx = q.x - p.x, dy = q.y - p.y;
    float wx = x - p.x, wy = y - p.y;
    float len2 = dx * dx + dy * dy;
    float t = len2 > 0 ? (wx * dx + wy * dy) / len2 : 0.0f;
    t = std::min(1.0f, std::max(0.0f, t));
    float ex = wx - t * dx, ey = wy - t * dy;
    return ex * ex + ey * ey <= r * r;
  }
};

struct Triangle {
  Vec p[3];
  bool Contains(float x, float y) const {
    float d[3];
    for (int i = 0; i < 3; ++i) {
      const Vec& a = p[i];
      const Vec& b = p[(i + 1) % 3];
      d[i] = (b.x - a.x) * (y - a.y) - (b.y - a.y) * (x - a.x);
    }
    bool neg = d[0] < 0 || d[1] < 0 || d[2] < 0;
    bool pos = d[0] > 0 || d[1] > 0 || d[2] > 0;
    return !(neg && pos);
  }
};

Vec Normalize(Vec v) {
  float n = std::sqrt(v.x * v.x + v.y * v.y);
  return {v.x / n, v.y / n};
}

struct PetShape {
  Ellipse body, head, eyes[2], nose;
  Triangle pointy[2];
  Ellipse floppy[2];
  bool pointy_ears;
  Capsule tail, legs[4];
  Vec center, dir, up;

  bool Contains(float x, float y) const {
    if (body.Contains(x, y) || head.Contains(x, y) || tail.Contains(x, y)) return true;
    for (const Capsule& leg : legs) {
      if (leg.Contains(x, y)) return true;
    }
    for (int i = 0; i < 2; ++i) {
      if (pointy_ears ? pointy[i].Contains(x, y) : floppy[i].Contains(x, y)) return true;
    }
    return false;
  }
};

PetShape MakeShape(PhiloxStream& rng, int w, int h, const BreedLook& look) {
  PetShape s;
  float size = static_cast<float>(std::min(w, h));
  float a = size * rng.Uniform(0.22f, 0.32f);
  float b = a * look.aspect;
  float facing = rng.Bernoulli(0.5f) ? 1.0f : -1.0f;
  s.dir = Normalize({facing, rng.Uniform(-0.45f, 0.45f)});
  // "up" is the perpendicular with negative y (images grow downwards).
  s.up = {s.dir.y, -s.dir.x};
  if (s.up.y > 0) s.up = {-s.up.x, -s.up.y};
  s.center = {static_cast<float>(w) * rng.Uniform(0.38f, 0.62f),
              static_cast<float>(h) * rng.Uniform(0.45f, 0.62f)};
  s.body = {s.center, s.dir, a, b};
  float r = b * rng.Uniform(0.8f, 1.05f);
  Vec hc = {s.center.x + s.dir.x * a * 0.85f + s.up.x * b * 0.7f,
            s.center.y + s.dir.y * a * 0.85f + s.up.y * b * 0.7f};
  s.head = {hc, s.dir, r * rng.Uniform(0.95f, 1.15f), r};
  s.pointy_ears = look.pointy_ears;
  for (int i = 0; i < 2; ++i) {
    float side = i == 0 ? -1.0f : 1.0f;
    // Ear base: on the head's top, spread along the facing direction.
    Vec base = {hc.x + s.up.x * r * 0.7f + s.dir.x * side * r * 0.45f,
                hc.y + s.up.y * r * 0.7f + s.dir.y * side * r * 0.45f};
    float half = r * 0.32f;
    float tall = r * rng.Uniform(0.55f, 0.8f);
    s.pointy[i].p[0] = {base.x - s.dir.x * half, base.y - s.dir.y * half};
    s.pointy[i].p[1] = {base.x + s.dir.x * half, base.y + s.dir.y * half};
    s.pointy[i].p[2] = {base.x + s.up.x * tall + s.dir.x * side * half * 0.4f,
                        base.y + s.up.y * tall + s.dir.y * side * half * 0.4f};
    Vec fc = {hc.x + s.dir.x * side * r * 0.85f - s.up.x * r * 0.05f,
              hc.y + s.dir.y * side * r * 0.85f - s.up.y * r * 0.05f};
    s.floppy[i] = {fc, s.up, r * 0.55f, r * 0.28f};
  }
  for (int i = 0; i < 2; ++i) {
    float side = i == 0 ? -0.35f : 0.35f;
    Vec ec = {hc.x + s.dir.x * (r * 0.25f + side * r) + s.up.x * r * 0.2f,
              hc.y + s.dir.y * (r * 0.25f + side * r) + s.up.y * r * 0.2f};
    s.eyes[i] = {ec, s.dir, r * 0.13f, r * 0.09f};
  }
  s.nose = {{hc.x + s.dir.x * r * 0.8f - s.up.x * r * 0.15f,
             hc.y + s.dir.y * r * 0.8f - s.up.y * r * 0.15f},
            s.dir,
            r * 0.12f,
            r * 0.09f};
  Vec rear = {s.center.x - s.dir.x * a * 0.9f, s.center.y - s.dir.y * a * 0.9f};
  float tail_len = a * rng.Uniform(0.4f, 0.8f);
  Vec tail_dir = Normalize(
      {-s.dir.x + s.up.x * rng.Uniform(0.2f, 1.2f), -s.dir.y + s.up.y * rng.Uniform(0.2f, 1.2f)});
  s.tail = {rear,
            {rear.x + tail_dir.x * tail_len, rear.y + tail_dir.y * tail_len},
            b * rng.Uniform(0.1f, 0.2f)};
  float leg_len = b * rng.Uniform(0.8f, 1.2f);
  for (int i = 0; i < 4; ++i) {
    float along = (i < 2 ? 0.6f : -0.6f) + (i % 2 == 0 ? -0.12f : 0.12f);
    Vec top = {s.center.x + s.dir.x * a * along - s.up.x * b * 0.5f,
               s.center.y + s.dir.y * a * along - s.up.y * b * 0.5f};
    s.legs[i] = {top, {top.x, top.y + leg_len}, a * 0.1f};
  }
  return s;
}

// Background: one of four textures, plus distractor shapes in pet-like colours.
void DrawBackground(PhiloxStream& rng, uint64_t seed, Image& img) {
  int w = img.width, h = img.height;
  Rgb c0 =
      rng.Bernoulli(0.5f) ? AnyColor(rng) : Jitter(kFurPalette[rng.Below(kFurColors)], rng, 30);
  Rgb c1 = AnyColor(rng);
  int kind = static_cast<int>(rng.Below(4));
  float scale = rng.Uniform(12, 70);
  float period = rng.Uniform(10, 40);
  uint32_t salt = static_cast<uint32_t>(rng.NextU32() ^ seed);
  float grain = rng.Uniform(4, 16);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float fx = static_cast<float>(x), fy = static_cast<float>(y);
      float t;
      switch (kind) {
        case 0:  // mottled
          t = ValueNoise(fx, fy, scale, salt) * 0.7f +
              ValueNoise(fx, fy, scale * 0.3f, salt + 1) * 0.3f;
          break;
        case 1:  // planks
          t = (static_cast<int>(std::floor(fy / period)) & 1) ? 0.25f : 0.75f;
          t += (ValueNoise(fx * 0.15f, fy * 2.0f, scale, salt) - 0.5f) * 0.4f;
          break;
        case 2:  // tiles
          t = ((static_cast<int>(std::floor(fx / period)) +
                static_cast<int>(std::floor(fy / period))) &
               1)
                  ? 0.2f
                  : 0.8f;
          break;
        default:  // gradient
          t = fy / static_cast<float>(h) * 0.8f + ValueNoise(fx, fy, scale, salt) * 0.2f;
          break;
      }
      float n = (HashUnit(x, y, salt + 7) - 0.5f) * grain;
      Put(img, x, y, Add(Lerp(c0, c1, t), n));
    }
  }
  int distractors = rng.Between(3, 8);
  for (int k = 0; k < distractors; ++k) {
    Rgb c =
        rng.Bernoulli(0.6f) ? Jitter(kFurPalette[rng.Below(kFurColors)], rng, 15) : AnyColor(rng);
    Rgb c2 = Jitter(kFurPalette[rng.Below(kFurColors)], rng, 15);
    bool ellipse = rng.Bernoulli(0.5f);
    float cx = rng.Uniform(0, static_cast<float>(w)), cy = rng.Uniform(0, static_cast<float>(h));
    float ra = rng.Uniform(0.05f, 0.2f) * static_cast<float>(w);
    float rb = rng.Uniform(0.05f, 0.2f) * static_cast<float>(h);
    int fill = static_cast<int>(rng.Below(3));  // 0 flat, 1 stripes, 2 noise
    float fperiod = rng.Uniform(4, 16);
    uint32_t fsalt = rng.NextU32();
    Ellipse e{{cx, cy}, Normalize({1.0f, rng.Uniform(-1, 1)}), ra, rb};
    int x0 = std::max(0, static_cast<int>(cx - std::max(ra, rb)) - 1);
    int x1 = std::min(w - 1, static_cast<int>(cx + std::max(ra, rb)) + 1);
    int y0 = std::max(0, static_cast<int>(cy - std::max(ra, rb)) - 1);
    int y1 = std::min(h - 1, static_cast<int>(cy + std::max(ra, rb)) + 1);
    for (int y = y0; y <= y1; ++y) {
      for (int x = x0; x <= x1; ++x) {
        float fx = static_cast<float>(x), fy = static_cast<float>(y);
        bool inside =
            ellipse ? e.Contains(fx, fy) : (std::fabs(fx - cx) <= ra && std::fabs(fy - cy) <= rb);
        if (!inside) continue;
        Rgb col = c;
        if (fill == 1 && (static_cast<int>(std::floor((fx + fy) / fperiod)) & 1)) col = c2;
        if (fill == 2) col = Lerp(c, c2, ValueNoise(fx, fy, fperiod * 2, fsalt));
        Put(img, x, y, Add(col, (HashUnit(x, y, fsalt) - 0.5f) * grain));
      }
    }
  }
}

Rgb PetColor(const PetShape& s, const BreedLook& look, float x, float y, uint32_t salt) {
  if (s.eyes[0].Contains(x, y) || s.eyes[1].Contains(x, y)) {
    // A dark eye with a light glint in its upper part.
    const Ellipse& e = s.eyes[0].Contains(x, y) ? s.eyes[0] : s.eyes[1];
    float gx = x - (e.c.x + s.up.x * e.b * 0.4f), gy = y - (e.c.y + s.up.y * e.b * 0.4f);
    if (gx * gx + gy * gy <= e.b * e.b * 0.12f) return {235, 235, 225};
    return {25, 22, 18};
  }
  if (s.nose.Contains(x, y)) return {40, 28, 28};
  float dx = x - s.center.x, dy = y - s.center.y;
  float u = dx * s.dir.x + dy * s.dir.y;
  float v = dy * s.dir.x - dx * s.dir.y;
  float period = look.pattern_scale * s.body.a;
  float t = 0.0f;
  switch (look.pattern) {
    case kStripes: {
      float wobble = (ValueNoise(x, y, period, salt) - 0.5f) * period * 0.6f;
      float f = (u + wobble) / period;
      t = (f - std::floor(f)) < 0.4f ? 1.0f : 0.0f;
      break;
    }
    case kSpots: {
      float gu = std::floor(u / period), gv = std::floor(v / period);
      int iu = static_cast<int>(gu), iv = static_cast<int>(gv);
      float ou = (gu + 0.2f + 0.6f * HashUnit(iu, iv, salt)) * period;
      float ov = (gv + 0.2f + 0.6f * HashUnit(iu, iv, salt + 1)) * period;
      float rad = period * (0.18f + 0.15f * HashUnit(iu, iv, salt + 2));
      t = ((u - ou) * (u - ou) + (v - ov) * (v - ov) <= rad * rad) ? 1.0f : 0.0f;
      break;
    }
    case kPatches:
      t = ValueNoise(x, y, s.body.a * 0.5f, salt) > 0.55f ? 1.0f : 0.0f;
      break;
    default:
      break;
  }
  Rgb c = Lerp(look.base, look.second, t);
  float shade = 0.82f + 0.36f * ValueNoise(x, y, s.body.a * 0.6f, salt + 3);
  float grain =
      (HashUnit(static_cast<int>(x), static_cast<int>(y), salt + 4) - 0.5f) * 2.0f * look.fur;
  return Add(Scale(c, shade), grain);
}

}  // namespace

RenderedPet RenderPet(uint64_t seed, std::string_view pet_id, const Breed& breed) {
  PhiloxStream rng(DeriveKey(seed, RandomPurpose::kSynth), SampleKeyOf(pet_id), 0);
  RenderedPet out;
  // Photo-like shapes: aspect ratio between 2:3 and 3:2, each side within [150, 600].
  int w = rng.Between(150, 600);
  int h = static_cast<int>(static_cast<float>(w) * rng.Uniform(0.667f, 1.5f));
  h = std::min(600, std::max(150, h));
  out.jpeg_quality = rng.Between(75, 95);
  out.image = Image(w, h, 3);
  BreedLook look = LookOf(seed, breed);
  PetShape shape = MakeShape(rng, w, h, look);
  DrawBackground(rng, seed, out.image);

  uint32_t salt = rng.NextU32();
  Image inside(w, h, 1, 0);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float fx = static_cast<float>(x) + 0.5f, fy = static_cast<float>(y) + 0.5f;
      if (!shape.Contains(fx, fy)) continue;
      inside.at(x, y)[0] = 1;
      Put(out.image, x, y, PetColor(shape, look, fx, fy, salt));
    }
  }

  // Trimap: pixels whose 3x3 neighbourhood is all pet are pet (1), all background are
  // background (2), mixed are the border band (3): two to three pixels wide.
  out.trimap = Image(w, h, 1, 2);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int count = 0, total = 0;
      for (int yy = std::max(0, y - 1); yy <= std::min(h - 1, y + 1); ++yy) {
        for (int xx = std::max(0, x - 1); xx <= std::min(w - 1, x + 1); ++xx) {
          count += inside.at(xx, yy)[0];
          ++total;
        }
      }
      out.trimap.at(x, y)[0] = count == 0 ? 2 : (count == total ? 1 : 3);
    }
  }

  float r = shape.head.a + shape.head.b * 0.8f;
  auto clamp_x = [&](float v) { return std::min(w - 1, std::max(0, static_cast<int>(v))); };
  auto clamp_y = [&](float v) { return std::min(h - 1, std::max(0, static_cast<int>(v))); };
  out.head = {clamp_x(shape.head.c.x - r), clamp_y(shape.head.c.y - r), clamp_x(shape.head.c.x + r),
              clamp_y(shape.head.c.y + shape.head.b)};
  return out;
}

bool SynthIsTrainval(uint64_t seed, std::string_view pet_id) {
  PhiloxStream rng(DeriveKey(seed, RandomPurpose::kSynth), SampleKeyOf(pet_id), 2);
  return rng.Bernoulli(0.5f);
}

}  // namespace petprep
