// The 37 Oxford-IIIT Pet breeds and how a pet id maps to breed, class, species and breed id.
//
// class_id is the 1-based index among the breeds in case-insensitive alphabetical order
// (the order of the real list.txt); species is 1 (cat) for names that start with a capital
// letter, else 2 (dog); breed_id is the 1-based index within the species in the same order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/core/status.h"

namespace petprep {

struct Breed {
  std::string name;  // "Abyssinian", "american_bulldog"
  int class_id;      // 1..37
  int species;       // 1 cat, 2 dog
  int breed_id;      // 1..12 for cats, 1..25 for dogs
};

// All 37 breeds ordered by class_id.
const std::vector<Breed>& AllBreeds();

// The breed with this exact (case-sensitive) name, or nullptr.
const Breed* FindBreed(std::string_view name);

// Splits "Egyptian_Mau_14" into breed "Egyptian_Mau" and number 14. Fails when there is no
// '_' followed by a positive decimal number, or the breed is not one of the 37.
struct ParsedPetId {
  const Breed* breed;
  int number;
};
Result<ParsedPetId> ParsePetId(std::string_view pet_id);

// Case-insensitive ASCII order, ties broken bytewise: the order list.txt uses.
bool ListOrderLess(std::string_view a, std::string_view b);

}  // namespace petprep
