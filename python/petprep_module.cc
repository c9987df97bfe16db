// The `petprep` Python module: the partition contract (and, as it grows, the dataset and the
// deterministic loader) for people who train in PyTorch. Built by CMake for Debian's
// /usr/bin/python3 into build/python: PYTHONPATH=build/python python3 -c "import petprep".
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>

#include "petprep/build_info.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/dataset/verify.h"

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

template <typename T>
T Value(petprep::Result<T> r) {
  if (!r.ok()) Raise(r.status());
  return std::move(*r);
}

// A JSON value as Python objects (dicts, lists, numbers, strings).
py::object FromJson(const nlohmann::ordered_json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

// Pixels as a numpy array of shape (h, w, c), or (h, w) for one channel.
py::array_t<uint8_t> ToArray(const petprep::Image& img) {
  std::vector<py::ssize_t> shape = {img.height, img.width};
  if (img.channels != 1) shape.push_back(img.channels);
  py::array_t<uint8_t> a(shape);
  std::memcpy(a.mutable_data(), img.data.data(), img.data.size());
  return a;
}

// A dataset kept open: the splits borrow from it.
struct Dataset {
  std::string path;
  std::shared_ptr<petprep::DatasetReader> reader;
};

// One split of a dataset: a sequence of records.
struct Split {
  std::shared_ptr<petprep::DatasetReader> reader;  // keeps the split alive
  const petprep::SplitReader* split;

  py::dict Get(py::ssize_t i) const {
    const py::ssize_t n = static_cast<py::ssize_t>(split->size());
    if (i < 0) i += n;
    if (i < 0 || i >= n)
      throw py::index_error("record index out of range for split " + split->name());
    petprep::schema::Record rec;
    petprep::Image image, mask;
    {
      py::gil_scoped_release free_python;
      auto r = split->Read(static_cast<size_t>(i));
      if (r.ok()) {
        rec = std::move(*r);
        auto im = petprep::DecodeRecordImage(rec.image());
        auto mk = petprep::DecodeRecordImage(rec.mask());
        if (!im.ok() || !mk.ok()) {
          r = (!im.ok() ? im.status() : mk.status())
                  .WithContext("split " + split->name() + ", record " + std::to_string(i) + " (" +
                               rec.pet_id() + ")");
        } else {
          image = std::move(*im);
          mask = std::move(*mk);
        }
      }
      if (!r.ok()) {
        py::gil_scoped_acquire python;
        Raise(r.status());
      }
    }
    py::dict d;
    d["pet_id"] = rec.pet_id();
    d["image"] = ToArray(image);
    d["mask"] = ToArray(mask);
    d["class_id"] = rec.class_id();
    d["species"] = rec.species();
    d["breed_id"] = rec.breed_id();
    d["fold"] = rec.fold();
    return d;
  }
};

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

  py::class_<Split>(m, "Split", "A split's records in stored (pet id) order.")
      .def("__len__", [](const Split& s) { return s.split->size(); })
      .def("__getitem__", &Split::Get, py::arg("i"),
           "Record i as a dict: pet_id, image (uint8 H x W x 3), mask (uint8 H x W, class ids 0 "
           "pet, 1 background, 2 border), class_id, species, breed_id, fold.")
      .def_property_readonly("name", [](const Split& s) { return s.split->name(); })
      .def("__repr__", [](const Split& s) {
        return "<petprep.Split " + s.split->name() + ": " + std::to_string(s.split->size()) +
               " records>";
      });

  py::class_<Dataset>(m, "Dataset", "A partitioned dataset (DATA/dataset), opened read-only.")
      .def(py::init([](const std::string& path) {
             return Dataset{path, Value(petprep::DatasetReader::Open(path))};
           }),
           py::arg("path"))
      .def_property_readonly("fingerprint",
                             [](const Dataset& d) { return d.reader->fingerprint(); })
      .def_property_readonly("size", [](const Dataset& d) { return d.reader->image_size(); })
      .def_property_readonly(
          "codec",
          [](const Dataset& d) { return d.reader->manifest()["options"].value("codec", ""); })
      .def_property_readonly("splits", [](const Dataset& d) { return d.reader->splits(); })
      .def_property_readonly(
          "counts", [](const Dataset& d) { return FromJson(d.reader->manifest()["counts"]); })
      .def_property_readonly(
          "options", [](const Dataset& d) { return FromJson(d.reader->manifest()["options"]); })
      .def_property_readonly(
          "sources", [](const Dataset& d) { return FromJson(d.reader->manifest()["sources"]); })
      .def_property_readonly("manifest",
                             [](const Dataset& d) { return FromJson(d.reader->manifest()); })
      .def(
          "split",
          [](const Dataset& d, const std::string& name) {
            auto s = d.reader->Split(name);
            if (!s.ok()) {  // an unknown split is a bad value, not a missing file
              PyErr_SetString(PyExc_ValueError, s.status().message().c_str());
              throw py::error_already_set();
            }
            return Split{d.reader, *s};
          },
          py::arg("name"),
          "The split of that name; an unknown name raises ValueError naming the splits.")
      .def(
          "verify",
          [](const Dataset& d, bool deep) {
            petprep::VerifyResult v;
            {
              py::gil_scoped_release free_python;
              auto r = petprep::VerifyDataset(d.path, deep);
              if (!r.ok()) {
                py::gil_scoped_acquire python;
                Raise(r.status());
              }
              v = std::move(*r);
            }
            if (!v.problems.empty()) {
              PyErr_SetString(PyExc_OSError, v.problems.front().c_str());
              throw py::error_already_set();
            }
            return v.fingerprint;
          },
          py::arg("deep") = false,
          "Checks every file against the manifest (deep: every record too) and returns the "
          "fingerprint; the first problem raises OSError naming the file.")
      .def("__repr__", [](const Dataset& d) {
        return "<petprep.Dataset " + d.path + ": " + std::to_string(d.reader->image_size()) +
               " px, fingerprint " + d.reader->fingerprint().substr(0, 12) + "...>";
      });
}
