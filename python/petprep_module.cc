// The `petprep` Python module: the partition contract (and, as it grows, the dataset and the
// deterministic loader) for people who train in PyTorch. Built by CMake for Debian's
// /usr/bin/python3 into build/python: PYTHONPATH=build/python python3 -c "import petprep".
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "petprep/build_info.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/partition.h"

namespace py = pybind11;

namespace {

// A petprep error as the Python exception a user expects, carrying petprep's own message: a
// missing file or folder FileNotFoundError, a bad value ValueError, a damaged file or a failed
// read OSError, anything else RuntimeError.
[[noreturn]] void Raise(const petprep::Status& s) {
  using Code = petprep::Status::Code;
  PyObject* type = PyExc_RuntimeError;
  switch (s.code()) {
    case Code::kNotFound:
      type = PyExc_FileNotFoundError;
      break;
    case Code::kInvalidArgument:
      type = PyExc_ValueError;
      break;
    case Code::kCorruption:
    case Code::kIoError:
      type = PyExc_OSError;
      break;
    default:
      break;
  }
  PyErr_SetString(type, s.message().c_str());
  throw py::error_already_set();
}

}  // namespace

PYBIND11_MODULE(petprep, m) {
  m.doc() =
      "petprep: the Oxford-IIIT Pet dataset, partitioned by MD5 of each pet id and loaded in a "
      "fixed order with seeded augmentation, the same bits for any thread count.";
  m.attr("__version__") = PETPREP_VERSION;

  m.def("fold_of", &petprep::FoldOf, py::arg("pet_id"),
        "The pet's fold: int(md5(pet_id).hexdigest(), 16) % 10 over the id's UTF-8 bytes.");

  m.def(
      "split_of",
      [](const std::string& pet_id, const std::string& split_map) {
        auto map = petprep::SplitMap::Parse(split_map);
        if (!map.ok()) Raise(map.status());
        return map->SplitOf(petprep::FoldOf(pet_id));
      },
      py::arg("pet_id"), py::arg("split_map") = "blog",
      "The pet's split under a split map: \"blog\" (folds 0-6 train, 7 validation, 8 "
      "calibration, 9 test), \"e2e\" (8 test, 9 calibration) or a spec such as "
      "\"train=0-6,validation=7,calibration=8,test=9\". A bad map raises ValueError.");
}
