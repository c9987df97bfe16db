#include "pipeline/loader/loader.h"

#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>

#include "pipeline/core/interrupt.h"
#include "pipeline/core/philox.h"

namespace petprep {

Sha256Digest SampleDigest(const float* image, size_t image_floats, const uint8_t* mask,
                          size_t mask_bytes, const std::string& pet_id) {
  Sha256 h;
  h.Update(image, image_floats * sizeof(float));
  h.Update(mask, mask_bytes);
  h.Update(pet_id);
  return h.Finish();
}

std::vector<Sha256Digest> Batch::SampleDigests() const {
  const size_t n = static_cast<size_t>(size());
  if (sample_digests.size() == n) return sample_digests;
  std::vector<Sha256Digest> digests;
  const size_t px = static_cast<size_t>(side) * side;
  for (size_t i = 0; i < n; ++i) {
    digests.push_back(
        SampleDigest(images.data() + i * 3 * px, 3 * px, masks.data() + i * px, px, pet_ids[i]));
  }
  return digests;
}

Sha256Digest Batch::Digest() const {
  const std::vector<Sha256Digest> digests = SampleDigests();
  Sha256 h;
  for (const Sha256Digest& d : digests) h.Update(d.data(), d.size());
  return h.Finish();
}

Loader::Loader(const SplitReader* split, int side, LoaderOptions options)
    : split_(split), side_(side), o_(std::move(options)), augment_(o_.augment_backend) {
  if (augment_ == nullptr) {
    own_augment_ = NewCpuAugmentBackend();
    augment_ = own_augment_.get();
  }
  keys_.reserve(split_->size());
  for (size_t i = 0; i < split_->size(); ++i) keys_.push_back(SampleKeyOf(split_->pet_id(i)));
}

uint64_t Loader::batches_per_epoch() const {
  uint64_t n = split_->size(), b = static_cast<uint64_t>(o_.batch);
  return o_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<uint32_t> Loader::EpochOrder(uint32_t epoch) const {
  std::vector<uint32_t> order(split_->size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  if (!o_.shuffle) return order;
  PhiloxKey key = DeriveKey(o_.seed, RandomPurpose::kShuffle);
  std::vector<std::pair<uint64_t, uint32_t>> sort_keys(order.size());
  for (uint32_t i = 0; i < order.size(); ++i) {
    uint64_t s = keys_[i];
    PhiloxCounter c = {{static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32), epoch, 0}};
    PhiloxCounter r = Philox4x32_10(c, key);
    sort_keys[i] = {(static_cast<uint64_t>(r.v[0]) << 32) | r.v[1], i};
  }
  std::sort(sort_keys.begin(), sort_keys.end());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = sort_keys[i].second;
  return order;
}

LoaderState Loader::StateAt(uint64_t step) const {
  uint64_t bpe = std::max<uint64_t>(1, batches_per_epoch());
  LoaderState s;
  s.seed = o_.seed;
  s.epoch = static_cast<uint32_t>(step / bpe);
  s.position = (step % bpe) * static_cast<uint64_t>(o_.batch);
  return s;
}

uint64_t Loader::StepOf(const LoaderState& state) const {
  return static_cast<uint64_t>(state.epoch) * batches_per_epoch() +
         state.position / static_cast<uint64_t>(o_.batch);
}

namespace {

struct Work {
  uint64_t step;
  uint32_t epoch;
  int slot, count;  // position in the batch, batch size
  uint32_t record;
};

struct Sample {
  Status status;
  std::string pet_id;
  uint64_t key = 0;
  std::vector<float> image;   // augmented per sample: CHW
  std::vector<uint8_t> mask;  // augmented per sample
  std::vector<uint8_t> raw;   // augmented per batch: the decoded HWC image, and its mask
  std::vector<uint8_t> raw_mask;
  Sha256Digest digest{};
};

}  // namespace

Status Loader::Check() const {
  const uint64_t n = split_->size();
  if (n == 0) return Status::InvalidArgument("split " + split_->name() + " is empty");
  if (o_.batch < 1) return Status::InvalidArgument("the batch size must be at least 1");
  if (batches_per_epoch() == 0) {
    return Status::InvalidArgument("no batch would be produced: --drop-last with a batch of " +
                                   std::to_string(o_.batch) + " and only " + std::to_string(n) +
                                   " records in split " + split_->name());
  }
  return Status::Ok();
}

Result<std::unique_ptr<BatchStream>> Loader::Open(uint64_t first, uint64_t end,
                                                  int prefetch) const {
  PETPREP_RETURN_IF_ERROR(Check());
  if (prefetch < 1) return Status::InvalidArgument("the loader's prefetch must be at least 1");
  return std::make_unique<BatchStream>(this, first, end, prefetch);
}

BatchStream::BatchStream(const Loader* loader, uint64_t first, uint64_t end, int prefetch)
    : capacity_(static_cast<size_t>(prefetch)) {
  producer_ = std::thread([this, loader, first, end] {
    Status s;
    try {
      s = loader->Run(first, end, [this](Batch& b) -> Status {
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait(lock, [this] { return closed_ || ready_.size() < capacity_; });
        if (closed_) return Status::Interrupted("the batch stream was closed");
        ready_.push_back(std::move(b));
        changed_.notify_all();
        return Status::Ok();
      });
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("the loader failed: ") + e.what());
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    end_status_ = std::move(s);
    changed_.notify_all();
  });
}

BatchStream::~BatchStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    changed_.notify_all();
  }
  producer_.join();
}

Result<bool> BatchStream::Next(Batch* batch) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [this] { return !ready_.empty() || done_; });
  if (!ready_.empty()) {
    *batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return true;
  }
  if (!end_status_.ok()) return end_status_;
  return false;
}

Status Loader::Run(uint64_t first, uint64_t end, const std::function<Status(Batch&)>& sink) const {
  PETPREP_RETURN_IF_ERROR(Check());
  const uint64_t n = split_->size();
  const uint64_t bpe = batches_per_epoch();
  const int side = side_;
  const size_t pixels = static_cast<size_t>(side) * side;
  AugmentBackend* augment = augment_;
  const bool per_sample = augment->per_sample();

  auto process = [&](const Work& w) {
    auto s = std::make_shared<Sample>();
    auto rec = split_->Read(w.record);
    if (!rec.ok()) {
      s->status = rec.status();
      return s;
    }
    s->pet_id = rec->pet_id();
    s->key = keys_[w.record];
    auto img = DecodeRecordImage(rec->image());
    auto mask = DecodeRecordImage(rec->mask());
    if (!img.ok() || !mask.ok() || img->width != side || img->height != side ||
        img->channels != 3 || mask->width != side || mask->height != side) {
      s->status =
          Status::Corruption("split " + split_->name() + ", record " + std::to_string(w.record) +
                             " (" + s->pet_id + "): the image or mask does not decode to " +
                             std::to_string(side) + "x" + std::to_string(side));
      return s;
    }
    if (!per_sample) {
      s->raw = std::move(img->data);
      s->raw_mask = std::move(mask->data);
      return s;
    }
    AugmentParams p = DrawAugmentParams(o_.augment, o_.seed, s->key, w.epoch, side, side, side);
    s->image.resize(3 * pixels);
    s->mask.resize(pixels);
    augment->AugmentSample(p, img->data.data(), mask->data.data(), s->image.data(), s->mask.data());
    s->digest =
        SampleDigest(s->image.data(), s->image.size(), s->mask.data(), s->mask.size(), s->pet_id);
    return s;
  };

  // Batching: samples arrive in order; a full batch goes to the sink.
  Batch batch;
  std::vector<uint8_t> raw, raw_mask;
  auto add = [&](const Work& w, Sample& s) -> Status {
    PETPREP_RETURN_IF_ERROR(s.status);
    if (w.slot == 0) {
      batch = Batch();
      batch.step = w.step;
      batch.epoch = w.epoch;
      batch.side = side;
      batch.images.reserve(static_cast<size_t>(w.count) * 3 * pixels);
      batch.masks.reserve(static_cast<size_t>(w.count) * pixels);
      raw.clear();
      raw_mask.clear();
    }
    batch.pet_ids.push_back(s.pet_id);
    batch.keys.push_back(s.key);
    if (!per_sample) {
      raw.insert(raw.end(), s.raw.begin(), s.raw.end());
      raw_mask.insert(raw_mask.end(), s.raw_mask.begin(), s.raw_mask.end());
    } else {
      batch.images.insert(batch.images.end(), s.image.begin(), s.image.end());
      batch.masks.insert(batch.masks.end(), s.mask.begin(), s.mask.end());
      batch.sample_digests.push_back(s.digest);
    }
    if (w.slot + 1 < w.count) return Status::Ok();
    if (!per_sample) {
      std::vector<AugmentParams> params;
      for (uint64_t key : batch.keys) {
        params.push_back(DrawAugmentParams(o_.augment, o_.seed, key, w.epoch, side, side, side));
      }
      batch.images.resize(static_cast<size_t>(w.count) * 3 * pixels);
      batch.masks.resize(static_cast<size_t>(w.count) * pixels);
      PETPREP_RETURN_IF_ERROR(
          augment
              ->AugmentBatch(params, raw.data(), raw_mask.data(), side, batch.images.data(),
                             batch.masks.data())
              .WithContext(augment->name() + " augmentation, step " + std::to_string(w.step)));
    }
    return sink(batch);
  };

  // The work of steps [first, end), in order.
  uint64_t step = first;
  int slot = 0;
  uint32_t order_epoch = UINT32_MAX;
  std::vector<uint32_t> order;
  auto next_work = [&](Work* w) -> bool {
    if (step >= end) return false;
    uint32_t epoch = static_cast<uint32_t>(step / bpe);
    if (epoch != order_epoch) {
      order = EpochOrder(epoch);
      order_epoch = epoch;
    }
    uint64_t begin = (step % bpe) * static_cast<uint64_t>(o_.batch);
    int count = static_cast<int>(std::min<uint64_t>(o_.batch, n - begin));
    *w = Work{step, epoch, slot, count, order[begin + static_cast<uint64_t>(slot)]};
    if (++slot == count) {
      slot = 0;
      ++step;
    }
    return true;
  };

  if (!o_.parallel) {
    Work w;
    while (next_work(&w)) {
      PETPREP_RETURN_IF_ERROR(CheckInterrupt());
      PETPREP_RETURN_IF_ERROR(add(w, *process(w)));
    }
    return Status::Ok();
  }

  int threads = o_.threads > 0 ? o_.threads : tbb::this_task_arena::max_concurrency();
  Status status;
  std::atomic<bool> failed{false};
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_pipeline(static_cast<size_t>(4 * threads + 4),
                           tbb::make_filter<void, Work>(
                               tbb::filter_mode::serial_in_order,
                               [&](tbb::flow_control& fc) {
                                 Work w{};
                                 if (failed.load() || InterruptRequested() || !next_work(&w)) {
                                   fc.stop();
                                 }
                                 return w;
                               }) &
                               tbb::make_filter<Work, std::pair<Work, std::shared_ptr<Sample>>>(
                                   tbb::filter_mode::parallel,
                                   [&](const Work& w) { return std::make_pair(w, process(w)); }) &
                               tbb::make_filter<std::pair<Work, std::shared_ptr<Sample>>, void>(
                                   tbb::filter_mode::serial_in_order,
                                   [&](const std::pair<Work, std::shared_ptr<Sample>>& item) {
                                     if (!status.ok()) return;
                                     status = add(item.first, *item.second);
                                     if (!status.ok()) failed.store(true);
                                   }));
  });
  PETPREP_RETURN_IF_ERROR(status);
  return CheckInterrupt();
}

}  // namespace petprep
