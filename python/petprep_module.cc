// The `petprep` Python module: the partition contract (and, as it grows, the dataset and the
// deterministic loader) for people who train in PyTorch. Built by CMake for Debian's
// /usr/bin/python3 into build/python: PYTHONPATH=build/python python3 -c "import petprep".
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "petprep/build_info.h"
#include "pipeline/augment/augment_backend.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/dataset_reader.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/dataset/verify.h"
#include "pipeline/loader/loader.h"

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

// The augmentation a Loader was given: None the default (flip p 0.5, the reference
// normalisation), False none, a dict the spec's JSON, a str the path of a spec file.
petprep::AugmentSpec SpecOf(const py::object& augment) {
  if (augment.is_none()) return petprep::AugmentSpec();
  if (py::isinstance<py::bool_>(augment)) {
    if (augment.cast<bool>()) {
      PyErr_SetString(PyExc_ValueError,
                      "augment=True: give None (the default), False, a dict or a path");
      throw py::error_already_set();
    }
    return petprep::AugmentSpec::None();
  }
  if (py::isinstance<py::dict>(augment)) {
    const std::string text = py::module_::import("json").attr("dumps")(augment).cast<std::string>();
    return Value(petprep::AugmentSpec::FromJson(text, "augment"));
  }
  if (py::isinstance<py::str>(augment) || py::hasattr(augment, "__fspath__")) {
    const std::string path = py::module_::import("os").attr("fspath")(augment).cast<std::string>();
    return Value(petprep::AugmentSpec::FromFile(path));
  }
  PyErr_SetString(PyExc_ValueError, "augment: None, False, a dict or the path of a JSON spec");
  throw py::error_already_set();
}

// What a Python Loader owns: the dataset, the C++ loader and its augmentation backend, the
// next step to yield, and one batch stream that runs on across epochs (so
// decoding goes on between one epoch's iteration and the next), reopened only when the
// position moves (load_state_dict).
struct LoaderCore {
  std::shared_ptr<petprep::DatasetReader> reader;
  std::unique_ptr<petprep::AugmentBackend> augment;
  std::unique_ptr<petprep::Loader> loader;
  py::object namespace_type = py::module_::import("types").attr("SimpleNamespace");
  uint64_t seed = 0;
  int batch = 0;
  uint64_t next_step = 0;
  std::unique_ptr<petprep::BatchStream> stream;
  uint64_t stream_next = 0;  // the step `stream` gives next
  bool busy = false;         // a thread is waiting on `stream` with the GIL released

  ~LoaderCore() {
    py::gil_scoped_release free_python;  // the stream's producer may be waiting to finish
    stream.reset();
  }
};

// A batch handed to Python: its images without a copy (the array keeps the batch alive), its
// masks widened to int64 (what PyTorch's losses take).
py::object ToPython(const LoaderCore& core, std::unique_ptr<petprep::Batch> b) {
  const py::ssize_t n = b->size(), side = b->side;
  petprep::Batch* raw = b.release();
  py::capsule owner(raw, [](void* p) { delete static_cast<petprep::Batch*>(p); });
  py::array_t<float> images({n, py::ssize_t{3}, side, side}, raw->images.data(), owner);
  py::array_t<int64_t> masks({n, side, side});
  {
    py::gil_scoped_release free_python;
    std::copy(raw->masks.begin(), raw->masks.end(), masks.mutable_data());
  }
  py::object batch = core.namespace_type();
  batch.attr("images") = images;
  batch.attr("masks") = masks;
  batch.attr("pet_ids") = py::cast(raw->pet_ids);
  batch.attr("step") = raw->step;
  batch.attr("epoch") = raw->epoch;
  batch.attr("sha256") = petprep::ToHex(raw->Digest());
  return batch;
}

// One pass: from the loader's position to the end of its epoch.
struct EpochIterator {
  std::shared_ptr<LoaderCore> core;
  uint64_t end = 0;

  py::object Next() {
    LoaderCore& c = *core;
    if (c.next_step >= end) throw py::stop_iteration();
    if (c.busy) throw std::runtime_error("petprep.Loader: already in use by another thread");
    if (c.stream == nullptr || c.stream_next != c.next_step) {
      {
        py::gil_scoped_release free_python;
        c.stream.reset();
      }
      const uint64_t endless = c.loader->batches_per_epoch() * uint64_t{UINT32_MAX};
      c.stream = Value(c.loader->Open(c.next_step, endless));
      c.stream_next = c.next_step;
    }
    auto b = std::make_unique<petprep::Batch>();
    petprep::Status status;
    bool more = false;
    c.busy = true;
    {
      py::gil_scoped_release free_python;
      auto r = c.stream->Next(b.get());
      if (r.ok()) {
        more = *r;
      } else {
        status = r.status();
      }
    }
    c.busy = false;
    if (!status.ok()) Raise(status);
    if (!more) throw py::stop_iteration();
    c.next_step = b->step + 1;
    c.stream_next = c.next_step;
    return ToPython(c, std::move(b));
  }
};

}  // namespace

// The first step after the last epoch a state can name (epochs are counted in 32 bits).
uint64_t StepLimit(const LoaderCore& c) {
  return std::max<uint64_t>(1, c.loader->batches_per_epoch()) * (uint64_t{UINT32_MAX} + 1);
}

PYBIND11_MODULE(petprep, m) {
  // numpy's C API is set up now, while the import holds the GIL: set up lazily, by the first
  // thread to make an array, it would import numpy with the GIL held while another thread
  // waits for it (a deadlock).
  py::module_::import("numpy");
  (void)py::array_t<uint8_t>(0);
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

  py::class_<EpochIterator>(m, "_EpochIterator")
      .def("__iter__", [](EpochIterator& it) -> EpochIterator& { return it; })
      .def("__next__", &EpochIterator::Next);

  py::class_<LoaderCore, std::shared_ptr<LoaderCore>>(
      m, "Loader",
      "The deterministic loader: batches in a fixed order with seeded augmentation, the same "
      "bytes for any thread count and after a resume. Iterating yields the batches from the "
      "current position to the end of the current epoch; the next iter() starts the next one.")
      .def(py::init([](const std::string& path, const std::string& split, int batch, uint64_t seed,
                       const py::object& augment, bool shuffle, bool drop_last, int threads,
                       const std::string& device, uint64_t start_step) {
             auto core = std::make_shared<LoaderCore>();
             core->reader = Value(petprep::DatasetReader::Open(path));
             auto sp = core->reader->Split(split);
             if (!sp.ok()) {
               PyErr_SetString(PyExc_ValueError, sp.status().message().c_str());
               throw py::error_already_set();
             }
             if (threads < 0) throw py::value_error("threads must be 0 (all cores) or more");
             core->augment = Value(petprep::MakeAugmentBackend(device));
             petprep::LoaderOptions o;
             o.batch = batch;
             o.seed = seed;
             o.shuffle = shuffle;
             o.drop_last = drop_last;
             o.threads = threads;
             o.augment = SpecOf(augment);
             o.augment_backend = core->augment.get();
             core->loader = std::make_unique<petprep::Loader>(*sp, core->reader->image_size(), o);
             const petprep::Status usable = core->loader->Check();
             if (!usable.ok()) Raise(usable);
             core->seed = seed;
             core->batch = batch;
             if (start_step >= StepLimit(*core)) {
               throw py::value_error("start_step " + std::to_string(start_step) +
                                     " is past the last epoch a loader counts (2^32 epochs of " +
                                     std::to_string(core->loader->batches_per_epoch()) +
                                     " batches)");
             }
             core->next_step = start_step;
             return core;
           }),
           py::arg("path"), py::arg("split") = "train", py::arg("batch") = 8, py::arg("seed") = 0,
           py::arg("augment") = py::none(), py::arg("shuffle") = true, py::arg("drop_last") = false,
           py::arg("threads") = 0, py::arg("device") = "cpu", py::arg("start_step") = 0)
      .def("__len__", [](const LoaderCore& c) { return c.loader->batches_per_epoch(); })
      .def("__iter__",
           [](const std::shared_ptr<LoaderCore>& c) {
             const uint64_t bpe = c->loader->batches_per_epoch();
             return EpochIterator{c, (c->next_step / bpe + 1) * bpe};
           })
      .def_property_readonly(
          "step", [](const LoaderCore& c) { return c.next_step; },
          "The step the next batch will have.")
      .def(
          "state_dict",
          [](const LoaderCore& c) {
            const petprep::LoaderState st = c.loader->StateAt(c.next_step);
            py::dict d;
            d["seed"] = st.seed;
            d["epoch"] = st.epoch;
            d["position"] = st.position;
            d["step"] = c.next_step;
            d["batch"] = c.batch;
            return d;
          },
          "The loader's position between batches: seed, epoch, position (the epoch's next "
          "sample), step and batch (the batch size it counts in).")
      .def(
          "load_state_dict",
          [](LoaderCore& c, const py::dict& d) {
            // Each field is checked: a state that does not fit would replay or skip samples.
            auto field = [&](const char* key, const char* want) -> py::object {
              if (!d.contains(key)) {
                throw py::value_error(std::string("state_dict: no '") + key + "' (" + want + ")");
              }
              py::object v = d[key];
              if (!py::isinstance<py::int_>(v) || py::isinstance<py::bool_>(v) ||
                  v.cast<py::int_>() < py::int_(0)) {
                throw py::value_error(std::string("state_dict: '") + key + "' is " +
                                      py::repr(v).cast<std::string>() + ", not " + want);
              }
              return v;
            };
            auto u64 = [&](const char* key, const char* want) -> uint64_t {
              py::object v = field(key, want);
              if (v.cast<py::int_>() > py::int_(UINT64_MAX)) {
                throw py::value_error(std::string("state_dict: '") + key + "' is too large");
              }
              return v.cast<uint64_t>();
            };
            petprep::LoaderState st;
            st.seed = u64("seed", "a seed, an integer from 0");
            const uint64_t epoch = u64("epoch", "an epoch, an integer from 0");
            st.position = u64("position", "the epoch's next sample, an integer from 0");
            const uint64_t batch = u64("batch", "the batch size");
            if (st.seed != c.seed) {
              throw py::value_error("state_dict: 'seed' is " + std::to_string(st.seed) +
                                    ", this loader's is " + std::to_string(c.seed));
            }
            if (batch != static_cast<uint64_t>(c.batch)) {
              throw py::value_error("state_dict: 'batch' is " + std::to_string(batch) +
                                    ", this loader's is " + std::to_string(c.batch) +
                                    ": positions count samples in batches of that size");
            }
            if (epoch > UINT32_MAX) {
              throw py::value_error("state_dict: 'epoch' is " + std::to_string(epoch) +
                                    ", past the last epoch a loader counts (2^32)");
            }
            st.epoch = static_cast<uint32_t>(epoch);
            const uint64_t bpe = c.loader->batches_per_epoch();
            if (st.position % batch != 0 || st.position / batch >= bpe) {
              throw py::value_error("state_dict: 'position' is " + std::to_string(st.position) +
                                    ", not the first sample of one of the epoch's " +
                                    std::to_string(bpe) + " batches of " + std::to_string(batch));
            }
            const uint64_t step = c.loader->StepOf(st);
            if (d.contains("step") && u64("step", "a step, an integer from 0") != step) {
              throw py::value_error("state_dict: 'step' is " +
                                    py::repr(d["step"]).cast<std::string>() +
                                    ", the epoch and position say " + std::to_string(step));
            }
            c.next_step = step;
          },
          py::arg("state"), "Continue exactly where state_dict() was taken.");

  py::class_<Dataset>(m, "Dataset", "A partitioned dataset (DATA/dataset), opened read-only.")
      .def(py::init([](const std::string& path) {
             return Dataset{path, Value(petprep::DatasetReader::Open(path))};
           }),
           py::arg("path"))
      .def_property_readonly("fingerprint",
                             [](const Dataset& d) { return d.reader->fingerprint(); })
      .def_property_readonly("size", [](const Dataset& d) { return d.reader->image_size(); })
      .def_property_readonly("codec", [](const Dataset& d) { return d.reader->layout().codec; })
      .def_property_readonly("splits", [](const Dataset& d) { return d.reader->splits(); })
      .def_property_readonly(
          "counts",
          [](const Dataset& d) {
            return FromJson(d.reader->manifest().value("counts", nlohmann::ordered_json()));
          })
      .def_property_readonly(
          "options",
          [](const Dataset& d) {
            return FromJson(d.reader->manifest().value("options", nlohmann::ordered_json()));
          })
      .def_property_readonly(
          "sources",
          [](const Dataset& d) {
            return FromJson(d.reader->manifest().value("sources", nlohmann::ordered_json()));
          })
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
