#include "pipeline/train/checkpoint.h"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/read_file.h"
#include "schemas/checkpoint.pb.h"

namespace petprep {
namespace {

constexpr char kMagic[8] = {'P', 'E', 'T', 'C', 'K', 'P', 'T', '1'};

void PutTensor(const std::string& name, const Tensor& t, schema::TensorData* out) {
  out->set_name(name);
  out->add_shape(t.n());
  out->add_shape(t.c());
  out->add_shape(t.h());
  out->add_shape(t.w());
  out->set_data(std::string(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float)));
}

Status GetTensor(const std::string& path, const std::string& name, const schema::TensorData& in,
                 Tensor* t) {
  if (in.name() != name || in.shape_size() != 4 || in.shape(0) != t->n() || in.shape(1) != t->c() ||
      in.shape(2) != t->h() || in.shape(3) != t->w() ||
      in.data().size() != t->size() * sizeof(float)) {
    return Status::Corruption(path + ": tensor '" + in.name() + "' does not fit the model's '" +
                              name + "' (" + t->ShapeString() + ")");
  }
  std::memcpy(t->data(), in.data().data(), in.data().size());
  return Status::Ok();
}

Result<schema::Checkpoint> ReadVerified(const std::string& path) {
  auto bytes = ReadFile(path, kCheckpointLimit);
  if (!bytes.ok()) return bytes.status();
  const std::string& b = *bytes;
  if (b.size() < 48 || std::memcmp(b.data(), kMagic, 8) != 0) {
    return Status::Corruption(path + ": not a petprep checkpoint (no PETCKPT1 header)");
  }
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i)
    length |= static_cast<uint64_t>(static_cast<uint8_t>(b[8 + i])) << (8 * i);
  if (length != b.size() - 48) {
    return Status::Corruption(path + ": truncated or padded checkpoint (" +
                              std::to_string(b.size()) + " bytes, header says " +
                              std::to_string(length + 48) + ")");
  }
  Sha256Digest want = Sha256Of(std::string_view(b.data(), 16 + length));
  if (std::memcmp(want.data(), b.data() + 16 + length, 32) != 0) {
    return Status::Corruption(
        path + ": checkpoint SHA-256 does not match its contents (the file is damaged)");
  }
  schema::Checkpoint c;
  if (!c.ParseFromArray(b.data() + 16, static_cast<int>(length))) {
    return Status::Corruption(path + ": checkpoint message does not parse");
  }
  return c;
}

TrainState StateOf(const schema::Checkpoint& c) {
  TrainState s;
  s.step = c.step();
  s.config_json = c.config_json();
  s.dataset_fingerprint = c.dataset_fingerprint();
  s.image_size = c.image_size();
  s.seed = c.seed();
  s.loader_epoch = c.loader_epoch();
  s.loader_position = c.loader_position();
  s.best_val_loss = c.best_val_loss();
  s.best_step = c.best_step();
  s.pending_validation = c.pending_validation();
  return s;
}

}  // namespace

std::string CheckpointName(uint64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08llu.ckpt", static_cast<unsigned long long>(step));
  return buf;
}

std::vector<std::pair<uint64_t, std::string>> ListCheckpoints(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() == 18 && name.rfind("step-", 0) == 0 && name.compare(13, 5, ".ckpt") == 0 &&
        std::all_of(name.begin() + 5, name.begin() + 13,
                    [](char ch) { return ch >= '0' && ch <= '9'; })) {
      out.emplace_back(std::stoull(name.substr(5, 8)), dir + "/" + name);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status SaveCheckpoint(const std::string& path, const TrainState& state, UNet* net,
                      const std::vector<DeviceAdamSlot>& slots) {
  schema::Checkpoint c;
  c.set_step(state.step);
  c.set_config_json(state.config_json);
  c.set_dataset_fingerprint(state.dataset_fingerprint);
  c.set_image_size(state.image_size);
  c.set_seed(state.seed);
  c.set_loader_epoch(state.loader_epoch);
  c.set_loader_position(state.loader_position);
  c.set_best_val_loss(state.best_val_loss);
  c.set_best_step(state.best_step);
  c.set_pending_validation(state.pending_validation);
  std::vector<Tensor> params, bufs;
  PETPREP_RETURN_IF_ERROR(net->ReadParams(&params, &bufs));
  std::vector<std::string> names = net->ParamNames();
  Backend* backend = net->backend();
  Tensor m, v;
  for (size_t i = 0; i < params.size(); ++i) {
    PutTensor(names[i], params[i], c.add_params());
    const Shape shape{params[i].n(), params[i].c(), params[i].h(), params[i].w()};
    if (i < slots.size() && slots[i].m.allocated() && slots[i].m.shape() == shape) {
      PETPREP_RETURN_IF_ERROR(backend->Download(slots[i].m, &m));
      PETPREP_RETURN_IF_ERROR(backend->Download(slots[i].v, &v));
      PutTensor(names[i], m, c.add_adam_m());
      PutTensor(names[i], v, c.add_adam_v());
    }
  }
  std::vector<std::string> buf_names = net->BufferNames();
  for (size_t i = 0; i < bufs.size(); ++i) PutTensor(buf_names[i], bufs[i], c.add_buffers());
  std::string data;
  if (!c.SerializeToString(&data)) return Status::Internal("checkpoint does not serialize");
  std::string file(kMagic, 8);
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((data.size() >> (8 * i)) & 0xff));
  file += data;
  Sha256Digest d = Sha256Of(file);
  file.append(reinterpret_cast<const char*>(d.data()), d.size());
  return WriteFileAtomic(path, file);
}

Status LoadCheckpoint(const std::string& path, TrainState* state, UNet* net,
                      std::vector<DeviceAdamSlot>* slots) {
  auto c = ReadVerified(path);
  if (!c.ok()) return c.status();
  Status side = net->CheckInputSide(c->image_size());
  if (!side.ok()) return Status::Corruption(path + ": " + side.message());
  std::vector<std::string> names = net->ParamNames();
  std::vector<Shape> shapes = net->ParamShapes();
  if (static_cast<size_t>(c->params_size()) != names.size()) {
    return Status::Corruption(path + ": holds " + std::to_string(c->params_size()) +
                              " parameters, the model has " + std::to_string(names.size()));
  }
  const bool moments = c->adam_m_size() == c->params_size() && c->adam_v_size() == c->params_size();
  if (!moments && (c->step() > 0 || c->adam_m_size() + c->adam_v_size() > 0)) {
    return Status::Corruption(path + ": the optimiser's moments are missing or incomplete (step " +
                              std::to_string(c->step()) + ")");
  }
  std::vector<Tensor> params(names.size()), ms, vs;
  if (moments) {
    ms.resize(names.size());
    vs.resize(names.size());
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const Shape& s = shapes[i];
    for (Tensor* t : {&params[i], moments ? &ms[i] : nullptr, moments ? &vs[i] : nullptr}) {
      if (t != nullptr) t->Resize(s.n, s.c, s.h, s.w);
    }
    const int k = static_cast<int>(i);
    PETPREP_RETURN_IF_ERROR(GetTensor(path, names[i], c->params(k), &params[i]));
    if (moments) {
      PETPREP_RETURN_IF_ERROR(GetTensor(path, names[i], c->adam_m(k), &ms[i]));
      PETPREP_RETURN_IF_ERROR(GetTensor(path, names[i], c->adam_v(k), &vs[i]));
    }
  }
  std::vector<std::string> buf_names = net->BufferNames();
  if (static_cast<size_t>(c->buffers_size()) != buf_names.size()) {
    return Status::Corruption(path + ": holds " + std::to_string(c->buffers_size()) +
                              " BatchNorm statistics, the model has " +
                              std::to_string(buf_names.size()));
  }
  // Every size comes from the model; the file's shapes are only compared with it.
  std::vector<Shape> buf_shapes = net->BufferShapes();
  std::vector<Tensor> bufs(buf_names.size());
  for (size_t i = 0; i < bufs.size(); ++i) {
    const Shape& s = buf_shapes[i];
    bufs[i].Resize(s.n, s.c, s.h, s.w);
    PETPREP_RETURN_IF_ERROR(
        GetTensor(path, buf_names[i], c->buffers(static_cast<int>(i)), &bufs[i]));
  }
  Status written = net->WriteParams(params, bufs);
  if (!written.ok()) return Status::Corruption(path + ": " + written.message());
  Backend* backend = net->backend();
  slots->clear();
  if (moments) {
    slots->resize(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      PETPREP_RETURN_IF_ERROR(backend->Upload(ms[i], &(*slots)[i].m));
      PETPREP_RETURN_IF_ERROR(backend->Upload(vs[i], &(*slots)[i].v));
    }
  }
  *state = StateOf(*c);
  return Status::Ok();
}

Result<TrainState> PeekCheckpoint(const std::string& path) {
  auto c = ReadVerified(path);
  if (!c.ok()) return c.status();
  return StateOf(*c);
}

}  // namespace petprep
