// B1's detail: the cost of each stage of download (convert) and partition, one at a time on
// the same in-memory inputs, and the libjpeg-turbo decode-only limit on 1 and 2 threads.
//
//   build/bench/prepare_stages_bench SYNTH_DIR [--size 128]
//
// SYNTH_DIR holds images.tar.gz and annotations.tar.gz (`petprep synth` output). Each stage
// runs over every pet on one thread; the table gives ms per pet and pets/s. The decode limit
// decodes every JPEG into a reused buffer with tjDecompress2, at full size and at 1/2 scale,
// on 1 and 2 threads (each thread takes every other image).
#include <turbojpeg.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/core/hash.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/resize.h"
#include "pipeline/dataset/source_image.h"
#include "pipeline/fetch/archive_reader.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

struct Pet {
  std::string jpeg, trimap;
  std::string tiff;
  petprep::Image small, mask;
};

double DecodeLimit(const std::vector<Pet*>& pets, int threads, int denom) {
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      tjhandle tj = tjInitDecompress();
      std::vector<unsigned char> buf;
      for (size_t i = t; i < pets.size(); i += threads) {
        const std::string& j = pets[i]->jpeg;
        const auto* p = reinterpret_cast<const unsigned char*>(j.data());
        int w, h, sub, cs;
        tjDecompressHeader3(tj, p, j.size(), &w, &h, &sub, &cs);
        tjscalingfactor f = {1, denom};
        int sw = TJSCALED(w, f), sh = TJSCALED(h, f);
        buf.resize(static_cast<size_t>(sw) * sh * 3);
        tjDecompress2(tj, p, j.size(), buf.data(), sw, 0, sh, TJPF_RGB, 0);
      }
      tjDestroy(tj);
    });
  }
  for (auto& th : pool) th.join();
  return static_cast<double>(pets.size()) / Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: prepare_stages_bench SYNTH_DIR [--size 128]\n");
    return 2;
  }
  std::string dir = argv[1];
  int size = argc > 3 && std::string(argv[2]) == "--size" ? std::atoi(argv[3]) : 128;
  std::printf("command: build/bench/prepare_stages_bench %s --size %d\n", dir.c_str(), size);

  std::map<std::string, Pet> pets;
  auto start = Clock::now();
  uint64_t bytes = 0;
  for (const char* name : {"images.tar.gz", "annotations.tar.gz"}) {
    auto r = petprep::ArchiveReader::Open(dir + "/" + name, petprep::ExtractLimits());
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().message().c_str());
      return 1;
    }
    petprep::ArchiveEntry e;
    while (true) {
      auto more = (*r)->Next(&e);
      if (!more.ok() || !*more) break;
      bytes += e.data.size();
      std::string base = e.path.substr(e.path.rfind('/') + 1);
      if (e.path.rfind("images/", 0) == 0 && base.size() > 4 &&
          base.substr(base.size() - 4) == ".jpg") {
        pets[base.substr(0, base.size() - 4)].jpeg = std::move(e.data);
      } else if (e.path.rfind("annotations/trimaps/", 0) == 0 && base[0] != '.') {
        pets[base.substr(0, base.size() - 4)].trimap = std::move(e.data);
      }
    }
  }
  double gunzip = Seconds(start);
  std::vector<Pet*> list;
  uint64_t jpeg_bytes = 0;
  for (auto& [id, p] : pets) {
    if (!p.jpeg.empty() && !p.trimap.empty()) {
      list.push_back(&p);
      jpeg_bytes += p.jpeg.size();
    }
  }
  const double n = static_cast<double>(list.size());
  std::printf("input: %zu pets, mean JPEG %.1f KiB, %.1f MiB unpacked\n", list.size(),
              jpeg_bytes / n / 1024.0, bytes / 1048576.0);
  std::printf("\n%-44s %10s %10s\n", "stage (1 thread)", "ms/pet", "pets/s");
  auto row = [&](const char* name, double secs) {
    std::printf("%-44s %10.3f %10.1f\n", name, 1000.0 * secs / n, n / secs);
  };
  auto time = [&](const char* name, const std::function<void(Pet&)>& f) {
    auto t = Clock::now();
    for (Pet* p : list) f(*p);
    row(name, Seconds(t));
  };
  row("gunzip + untar both archives", gunzip);
  double resize_seconds = 0;
  time("convert: validate JPEG (1/8-scale decode)", [](Pet& p) {
    auto s = petprep::ReadSourceImage(p.jpeg);
    if (!s.ok()) std::abort();
  });
  time("convert: trimap PNG decode to class ids", [](Pet& p) {
    auto s = petprep::ReadSourceImage(p.jpeg);
    auto m = petprep::ReadTrimap(p.trimap, s->width, s->height);
    p.mask = std::move(m->classes);
  });
  time("convert: mask TIFF encode", [](Pet& p) {
    if (!petprep::EncodeTiff(p.mask).ok()) std::abort();
  });
  time("convert: SHA-256 of image and trimap", [](Pet& p) {
    petprep::Sha256Hex(p.jpeg);
    petprep::Sha256Hex(p.trimap);
  });
  time("partition: JPEG decode (full size)", [](Pet& p) {
    if (!petprep::DecodeJpeg(p.jpeg).ok()) std::abort();
  });
  time("partition: bilinear resize image (after decode)", [&](Pet& p) {
    petprep::Image rgb = *petprep::DecodeJpeg(p.jpeg);
    auto t = Clock::now();
    p.small = petprep::ResizeBilinear(rgb, size, size);
    resize_seconds += Seconds(t);
  });
  row("partition: bilinear resize image", resize_seconds);
  time("partition: nearest resize mask",
       [&](Pet& p) { petprep::ResizeNearest(p.mask, size, size); });
  time("partition: PNG encode image + mask", [&](Pet& p) {
    if (!petprep::EncodePng(p.small).ok()) std::abort();
    if (!petprep::EncodePng(petprep::ResizeNearest(p.mask, size, size)).ok()) std::abort();
  });
  for (Pet* p : list) p->tiff = *petprep::EncodeTiff(p->mask);
  time("partition: mask TIFF decode", [](Pet& p) {
    if (!petprep::DecodeTiff(p.tiff).ok()) std::abort();
  });

  std::printf("\n%-44s %10s %10s\n", "libjpeg-turbo decode limit (tjDecompress2)", "threads",
              "images/s");
  for (int denom : {1, 2}) {
    for (int threads : {1, 2}) {
      char name[64];
      std::snprintf(name, sizeof name, "  %s",
                    denom == 1 ? "full size" : "1/2 scale (DCT scaling)");
      std::printf("%-44s %10d %10.1f\n", name, threads, DecodeLimit(list, threads, denom));
    }
  }
  return 0;
}
