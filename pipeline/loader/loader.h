// The loader: batches of augmented samples in a fixed order, whatever the thread count.
//
// Order: each epoch is a permutation of the split's records computed from (seed, epoch)
// alone: records sorted by the 64 bits Philox(DeriveKey(seed, kShuffle), {sample key, epoch,
// 0}) gives (words 0 and 1), ties by record index; with shuffle off, the stored order.
// Steps count batches from 0 across epochs; step s is batch s % B of epoch s / B, where B is
// the number of batches an epoch makes (the last one short, or dropped with drop_last).
// State = (seed, epoch, position): any step's state is computed, never replayed, so a run
// resumed at step k produces exactly the batches k, k+1, ... of an uninterrupted run.
//
// Parallel: oneTBB parallel_pipeline — serial in-order read, parallel decode and augment,
// serial in-order batching — with a fixed number of samples in flight and no busy waiting.
// A sample's pixels depend on (seed, sample key, epoch) only, never on its batch or slot.
//
// Pulled: Open(first, end) starts that pipeline on a thread of its own, which fills a bounded
// queue of finished batches; the caller takes them in step order with Next(), on its own
// thread and with its own thread setting, while the next batches are decoded.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/augment/augment.h"
#include "pipeline/augment/augment_backend.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/status.h"
#include "pipeline/dataset/dataset_reader.h"

namespace petprep {

struct LoaderOptions {
  int batch = 8;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;
  AugmentSpec augment;  // AugmentSpec::None() for no augmentation
  int threads = 0;      // 0: all cores; 1 with parallel = false: the serial reference loader
  bool parallel = true;
  // Where samples are augmented (augment_backend.h); null: the CPU, on the decode threads.
  // REQUIRES: outlives the loader.
  AugmentBackend* augment_backend = nullptr;
};

struct Batch {
  uint32_t epoch = 0;
  uint64_t step = 0;
  int side = 0;
  std::vector<float> images;   // size x 3 x side x side (NCHW)
  std::vector<uint8_t> masks;  // size x side x side, class ids 0 pet, 1 background, 2 border
  std::vector<std::string> pet_ids;
  std::vector<uint64_t> keys;  // sample keys
  // Per sample: SHA-256 of its image floats' bytes (little-endian), its mask bytes and its
  // pet id. Filled by the loader's parallel stage.
  std::vector<Sha256Digest> sample_digests;

  int size() const { return static_cast<int>(pet_ids.size()); }
  // SHA-256 of the concatenated sample digests (computed here when they are missing).
  Sha256Digest Digest() const;
  // The sample digests (computed here when they are missing).
  std::vector<Sha256Digest> SampleDigests() const;
};

// The digest of one sample, as Batch::sample_digests holds it.
Sha256Digest SampleDigest(const float* image, size_t image_floats, const uint8_t* mask,
                          size_t mask_bytes, const std::string& pet_id);

struct LoaderState {
  uint64_t seed = 0;
  uint32_t epoch = 0;
  uint64_t position = 0;  // the epoch's next sample
};

class BatchStream;

class Loader {
 public:
  // REQUIRES: split outlives the loader.
  Loader(const SplitReader* split, int side, LoaderOptions options);

  // Batches per epoch; 0 when drop_last leaves none (an error at Run).
  uint64_t batches_per_epoch() const;
  // The order of epoch e: record indices.
  std::vector<uint32_t> EpochOrder(uint32_t epoch) const;
  LoaderState StateAt(uint64_t step) const;
  uint64_t StepOf(const LoaderState& state) const;

  // Whether these options make batches: an empty split, a batch below 1 or a drop_last that
  // leaves none is kInvalidArgument naming it (what Open refuses).
  Status Check() const;

  // The batches of steps [first, end), in order, with up to `prefetch` (>= 1) finished
  // batches waiting. An error here: the options make no batch (an empty split, drop_last).
  // REQUIRES: the loader outlives the stream.
  Result<std::unique_ptr<BatchStream>> Open(uint64_t first, uint64_t end, int prefetch = 2) const;

 private:
  friend class BatchStream;
  // Produces the batches of steps [first, end) in order, handing each to `sink`; stops at
  // the first error (of a record, of the sink, or an interrupt).
  Status Run(uint64_t first, uint64_t end, const std::function<Status(Batch&)>& sink) const;

  const SplitReader* split_;
  int side_;
  LoaderOptions o_;
  std::vector<uint64_t> keys_;  // sample key of each record
  std::unique_ptr<AugmentBackend> own_augment_;
  AugmentBackend* augment_;
};

// Loader::Open's stream. Destroying it stops the decoding and joins its thread.
class BatchStream {
 public:
  BatchStream(const Loader* loader, uint64_t first, uint64_t end, int prefetch);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  // The next batch in step order: true with *batch filled, false after the last one. The
  // batches before a failing record (or an interrupt) come first, then its error, which every
  // later call returns again.
  Result<bool> Next(Batch* batch);

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  size_t capacity_;
  bool closed_ = false;  // the consumer is gone: the producer stops
  bool done_ = false;    // the producer has returned `end_status_`
  Status end_status_;
  std::thread producer_;
};

}  // namespace petprep
