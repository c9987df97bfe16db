#include "pipeline/dataset/breeds.h"

#include <algorithm>
#include <cctype>

namespace petprep {
namespace {

const char* const kBreedNames[] = {
    "Abyssinian",
    "american_bulldog",
    "american_pit_bull_terrier",
    "basset_hound",
    "beagle",
    "Bengal",
    "Birman",
    "Bombay",
    "boxer",
    "British_Shorthair",
    "chihuahua",
    "Egyptian_Mau",
    "english_cocker_spaniel",
    "english_setter",
    "german_shorthaired",
    "great_pyrenees",
    "havanese",
    "japanese_chin",
    "keeshond",
    "leonberger",
    "Maine_Coon",
    "miniature_pinscher",
    "newfoundland",
    "Persian",
    "pomeranian",
    "pug",
    "Ragdoll",
    "Russian_Blue",
    "saint_bernard",
    "samoyed",
    "scottish_terrier",
    "shiba_inu",
    "Siamese",
    "Sphynx",
    "staffordshire_bull_terrier",
    "wheaten_terrier",
    "yorkshire_terrier",
};

std::vector<Breed> BuildBreeds() {
  std::vector<std::string> names(std::begin(kBreedNames), std::end(kBreedNames));
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return ListOrderLess(a, b); });
  std::vector<Breed> out;
  int cats = 0, dogs = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    bool cat = std::isupper(static_cast<unsigned char>(names[i][0])) != 0;
    out.push_back(Breed{names[i], static_cast<int>(i) + 1, cat ? 1 : 2, cat ? ++cats : ++dogs});
  }
  return out;
}

}  // namespace

const std::vector<Breed>& AllBreeds() {
  static const std::vector<Breed> breeds = BuildBreeds();
  return breeds;
}

const Breed* FindBreed(std::string_view name) {
  for (const Breed& b : AllBreeds()) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

Result<ParsedPetId> ParsePetId(std::string_view pet_id) {
  size_t us = pet_id.rfind('_');
  if (us == std::string_view::npos || us == 0 || us + 1 >= pet_id.size()) {
    return Status::InvalidArgument("pet id '" + std::string(pet_id) +
                                   "' is not of the form <breed>_<number>");
  }
  std::string_view digits = pet_id.substr(us + 1);
  int number = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9' || number > 100000000) {
      return Status::InvalidArgument("pet id '" + std::string(pet_id) +
                                     "' does not end in _<number>");
    }
    number = number * 10 + (ch - '0');
  }
  const Breed* breed = FindBreed(pet_id.substr(0, us));
  if (breed == nullptr) {
    return Status::InvalidArgument("pet id '" + std::string(pet_id) + "' names no known breed ('" +
                                   std::string(pet_id.substr(0, us)) + "')");
  }
  return ParsedPetId{breed, number};
}

bool ListOrderLess(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    int ca = std::tolower(static_cast<unsigned char>(a[i]));
    int cb = std::tolower(static_cast<unsigned char>(b[i]));
    if (ca != cb) return ca < cb;
  }
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

}  // namespace petprep
