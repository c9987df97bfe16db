"""The partition contract from Python: folds and splits with the published known answers."""
import hashlib

import pytest

import petprep


KNOWN_FOLDS = {
    "Abyssinian_1": 8,
    "Abyssinian_2": 2,
    "Abyssinian_34": 9,
    "Bengal_1": 7,
    "staffordshire_bull_terrier_2": 7,
    "beagle_116": 8,
    "american_bulldog_8": 8,
    "Abyssinian_1.jpg": 3,  # the file name is the wrong key
}


@pytest.mark.parametrize("pet_id,fold", sorted(KNOWN_FOLDS.items()))
def test_fold_of_known_answers(pet_id, fold):
    assert petprep.fold_of(pet_id) == fold


def test_fold_of_is_the_reference_formula():
    for i in range(1, 200):
        pet_id = f"Bombay_{i}"
        want = int(hashlib.md5(pet_id.encode("utf-8")).hexdigest(), 16) % 10
        assert petprep.fold_of(pet_id) == want, pet_id


def test_split_of_blog_e2e_and_a_spec():
    assert petprep.split_of("Abyssinian_1") == "calibration"  # fold 8
    assert petprep.split_of("Abyssinian_34") == "test"  # fold 9
    assert petprep.split_of("Bengal_1") == "validation"  # fold 7
    assert petprep.split_of("Abyssinian_2") == "train"  # fold 2
    assert petprep.split_of("Abyssinian_1", split_map="e2e") == "test"
    assert petprep.split_of("Abyssinian_34", "e2e") == "calibration"
    assert petprep.split_of("Abyssinian_2", "train=0-1,rest=2-9") == "rest"


def test_a_bad_split_map_raises_value_error_naming_it():
    with pytest.raises(ValueError) as e:
        petprep.split_of("Abyssinian_1", "train=0-6")
    assert str(e.value)


def test_the_module_says_its_version():
    assert petprep.__version__.count(".") == 2
