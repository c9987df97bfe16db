// Prints the fields of one record of a partitioned dataset, using petprep's reader API.
//
//   build/print_record DATA/dataset [SPLIT] [INDEX]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "pipeline/dataset/dataset_reader.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: print_record DATA/dataset [SPLIT (train)] [INDEX (0)]\n");
    return 2;
  }
  std::string split = argc > 2 ? argv[2] : "train";
  size_t index = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 0;
  auto dataset = petprep::DatasetReader::Open(argv[1]);
  if (!dataset.ok()) {
    std::fprintf(stderr, "print_record: %s\n", dataset.status().message().c_str());
    return 1;
  }
  auto reader = (*dataset)->Split(split);
  if (!reader.ok()) {
    std::fprintf(stderr, "print_record: %s\n", reader.status().message().c_str());
    return 1;
  }
  auto record = (*reader)->Read(index);
  if (!record.ok()) {
    std::fprintf(stderr, "print_record: %s\n", record.status().message().c_str());
    return 1;
  }
  const petprep::schema::Record& r = *record;
  std::printf("dataset fingerprint %s, split %s: %zu records\n", (*dataset)->fingerprint().c_str(),
              split.c_str(), (*reader)->size());
  std::printf("record %zu\n  key %s\n  pet_id %s\n  fold %u, split %s\n", index, r.key().c_str(),
              r.pet_id().c_str(), r.fold(), r.split().c_str());
  std::printf("  class_id %u, species %u, breed_id %u\n", r.class_id(), r.species(), r.breed_id());
  std::printf("  image %s %ux%ux%u, %zu bytes\n", r.image().codec().c_str(), r.image().width(),
              r.image().height(), r.image().channels(), r.image().data().size());
  std::printf("  mask %s %ux%ux%u, %zu bytes\n", r.mask().codec().c_str(), r.mask().width(),
              r.mask().height(), r.mask().channels(), r.mask().data().size());
  auto mask = petprep::DecodeRecordImage(r.mask());
  if (mask.ok()) {
    size_t counts[3] = {0, 0, 0};
    for (uint8_t v : mask->data) counts[v < 3 ? v : 2]++;
    std::printf("  mask pixels: pet %zu, background %zu, border %zu\n", counts[0], counts[1],
                counts[2]);
  }
  std::printf("  source image sha256 %s\n  source mask sha256 %s\n", r.image_sha256().c_str(),
              r.mask_sha256().c_str());
  return 0;
}
