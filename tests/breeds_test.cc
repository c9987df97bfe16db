#include "pipeline/dataset/breeds.h"

#include <gtest/gtest.h>

namespace petprep {
namespace {

TEST(BreedsTest, ThirtySevenBreedsInListOrder) {
  const auto& breeds = AllBreeds();
  ASSERT_EQ(breeds.size(), 37u);
  EXPECT_EQ(breeds[0].name, "Abyssinian");
  EXPECT_EQ(breeds[1].name, "american_bulldog");
  EXPECT_EQ(breeds[36].name, "yorkshire_terrier");
  for (size_t i = 0; i < breeds.size(); ++i) EXPECT_EQ(breeds[i].class_id, static_cast<int>(i) + 1);
}

// Class ids, species and breed ids as in the real annotations/list.txt.
TEST(BreedsTest, KnownIds) {
  struct Want {
    const char* name;
    int class_id, species, breed_id;
  } wants[] = {
      {"Abyssinian", 1, 1, 1},
      {"american_bulldog", 2, 2, 1},
      {"american_pit_bull_terrier", 3, 2, 2},
      {"Bengal", 6, 1, 2},
      {"boxer", 9, 2, 5},
      {"British_Shorthair", 10, 1, 5},
      {"Egyptian_Mau", 12, 1, 6},
      {"Maine_Coon", 21, 1, 7},
      {"Persian", 24, 1, 8},
      {"Ragdoll", 27, 1, 9},
      {"Russian_Blue", 28, 1, 10},
      {"shiba_inu", 32, 2, 22},
      {"Siamese", 33, 1, 11},
      {"Sphynx", 34, 1, 12},
      {"staffordshire_bull_terrier", 35, 2, 23},
      {"yorkshire_terrier", 37, 2, 25},
  };
  for (const Want& w : wants) {
    const Breed* b = FindBreed(w.name);
    ASSERT_NE(b, nullptr) << w.name;
    EXPECT_EQ(b->class_id, w.class_id) << w.name;
    EXPECT_EQ(b->species, w.species) << w.name;
    EXPECT_EQ(b->breed_id, w.breed_id) << w.name;
  }
  int cats = 0;
  for (const Breed& b : AllBreeds()) cats += b.species == 1;
  EXPECT_EQ(cats, 12);
}

TEST(BreedsTest, ParsePetId) {
  auto p = ParsePetId("Egyptian_Mau_14");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->breed->name, "Egyptian_Mau");
  EXPECT_EQ(p->number, 14);
  EXPECT_TRUE(ParsePetId("staffordshire_bull_terrier_2").ok());
  EXPECT_FALSE(ParsePetId("Abyssinian").ok());
  EXPECT_FALSE(ParsePetId("Abyssinian_").ok());
  EXPECT_FALSE(ParsePetId("Abyssinian_1.jpg").ok());
  EXPECT_FALSE(ParsePetId("abyssinian_1").ok()) << "breed names are case-sensitive";
  EXPECT_FALSE(ParsePetId("Unicorn_3").ok());
}

TEST(BreedsTest, ListOrderIsCaseInsensitive) {
  EXPECT_TRUE(ListOrderLess("Abyssinian_1", "american_bulldog_1"));
  EXPECT_TRUE(ListOrderLess("boxer_1", "British_Shorthair_1"));
  EXPECT_FALSE(ListOrderLess("british_x", "British_x") && ListOrderLess("British_x", "british_x"));
  EXPECT_TRUE(ListOrderLess("British_x", "british_x")) << "ties broken bytewise";
}

}  // namespace
}  // namespace petprep
