#include "pipeline/loader/loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "pipeline/core/atomic_file.h"
#include "tests/test_util.h"

namespace petprep {
namespace {

namespace fs = std::filesystem;

// Pulls the batches of steps [first, end) and hands each to f; the stream's error, if any.
template <typename F>
Status Drain(const Loader& loader, uint64_t first, uint64_t end, F f, int prefetch = 2) {
  auto stream = loader.Open(first, end, prefetch);
  if (!stream.ok()) return stream.status();
  Batch b;
  for (;;) {
    auto more = (*stream)->Next(&b);
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    f(b);
  }
}

Status DrainAll(const Loader& loader, uint64_t first, uint64_t end) {
  return Drain(loader, first, end, [](Batch&) {});
}

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    dataset_ = testing::MakeDataset(dir_->path(), 45, 8, 32, 10);
  }
  static void TearDownTestSuite() { delete dir_; }

  static LoaderOptions Options(int batch, int threads, bool parallel = true) {
    LoaderOptions o;
    o.batch = batch;
    o.seed = 11;
    o.threads = threads;
    o.parallel = parallel;
    auto spec = AugmentSpec::FromJson(
        R"({"flip_p": 0.5, "crop_scale": [0.5, 1], "rotate_deg": 20, "brightness": 0.3,
            "contrast": 0.3, "saturation": 0.3})",
        "test");
    o.augment = *spec;
    return o;
  }

  // The digest of every batch of steps [first, end), in order.
  static std::vector<std::string> Digests(const LoaderOptions& o, uint64_t first, uint64_t end,
                                          std::vector<Batch>* keep = nullptr, int prefetch = 2) {
    auto reader = DatasetReader::Open(dataset_);
    EXPECT_TRUE(reader.ok());
    Loader loader(*(*reader)->Split("train"), 32, o);
    std::vector<std::string> out;
    Status s = Drain(
        loader, first, end,
        [&](Batch& b) {
          out.push_back(std::to_string(b.step) + " " + ToHex(b.Digest()));
          if (keep) keep->push_back(b);
        },
        prefetch);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  static testing::TempDir* dir_;
  static std::string dataset_;
};
testing::TempDir* LoaderTest::dir_ = nullptr;
std::string LoaderTest::dataset_;

TEST_F(LoaderTest, SameBatchesForAnyThreadCountAndTheSerialLoader) {
  auto serial = Digests(Options(8, 1, false), 0, 12);
  ASSERT_EQ(serial.size(), 12u);
  for (int threads : {1, 2, 8}) EXPECT_EQ(Digests(Options(8, threads), 0, 12), serial) << threads;
  EXPECT_EQ(Digests(Options(8, 2), 0, 12), serial) << "a rerun";
}

TEST_F(LoaderTest, AnyPrefetchGivesTheSameBatches) {
  auto two = Digests(Options(8, 2), 0, 9);
  EXPECT_EQ(Digests(Options(8, 2), 0, 9, nullptr, 1), two);
  EXPECT_EQ(Digests(Options(8, 2), 0, 9, nullptr, 16), two);
  EXPECT_EQ(Digests(Options(8, 1, false), 0, 9, nullptr, 1), two) << "the serial loader";
}

TEST_F(LoaderTest, TheStreamEndsAndCanBeLeftEarly) {
  auto reader = DatasetReader::Open(dataset_);
  Loader loader(*(*reader)->Split("train"), 32, Options(4, 2));
  {
    auto stream = loader.Open(0, 3);
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    Batch b;
    for (uint64_t step = 0; step < 3; ++step) {
      auto more = (*stream)->Next(&b);
      ASSERT_TRUE(more.ok() && *more) << step;
      EXPECT_EQ(b.step, step);
      EXPECT_EQ(b.size(), 4);
    }
    for (int again = 0; again < 2; ++again) {
      auto more = (*stream)->Next(&b);
      ASSERT_TRUE(more.ok());
      EXPECT_FALSE(*more) << "the end, every time it is asked";
    }
  }
  // A consumer that stops after one batch of a long stream: the producer is stopped and
  // joined, not left blocked on the full queue.
  for (int prefetch : {1, 3}) {
    auto stream = loader.Open(0, 1000, prefetch);
    ASSERT_TRUE(stream.ok());
    Batch b;
    auto more = (*stream)->Next(&b);
    ASSERT_TRUE(more.ok() && *more);
  }
  EXPECT_FALSE(loader.Open(0, 1, 0).ok()) << "a prefetch of 0";
}

// A backend that augments a batch at a time (as a device does) gives the bytes of the
// per-sample path: the CPU backend's AugmentBatch through the loader's batch path.
TEST_F(LoaderTest, ABatchAtATimeBackendGivesThePerSampleBytes) {
  class Batched final : public AugmentBackend {
   public:
    std::string name() const override { return "batched"; }
    bool per_sample() const override { return false; }
    Status AugmentBatch(const std::vector<AugmentParams>& params, const uint8_t* images,
                        const uint8_t* masks, int side, float* out_images,
                        uint8_t* out_masks) override {
      ++batches;
      return cpu->AugmentBatch(params, images, masks, side, out_images, out_masks);
    }
    std::unique_ptr<AugmentBackend> cpu = NewCpuAugmentBackend();
    int batches = 0;
  } batched;
  LoaderOptions o = Options(8, 2);
  o.augment_backend = &batched;
  EXPECT_EQ(Digests(o, 0, 7), Digests(Options(8, 2), 0, 7));
  EXPECT_EQ(batched.batches, 7);
}

TEST(AugmentBackendTest, NamesAndAnUnknownOne) {
  auto cpu = MakeAugmentBackend("cpu");
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ((*cpu)->name(), "cpu");
  EXPECT_TRUE((*cpu)->per_sample());
  auto bad = MakeAugmentBackend("tpu");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("choices: cpu, cuda-sim, cuda"), std::string::npos);
  auto cuda = MakeAugmentBackend("cuda");
  if (!cuda.ok()) {
    EXPECT_EQ(cuda.status().code(), Status::Code::kUnavailable);
    EXPECT_EQ(cuda.status().message().rfind("no CUDA device: ", 0), 0u) << cuda.status().message();
  }
}

TEST_F(LoaderTest, ASampleIsTheSameInAnyBatchSize) {
  std::map<std::string, std::pair<std::vector<float>, std::vector<uint8_t>>> first;
  for (int batch : {1, 8, 60}) {
    std::vector<Batch> batches;
    auto reader = DatasetReader::Open(dataset_);
    Loader loader(*(*reader)->Split("train"), 32, Options(batch, 2));
    Digests(Options(batch, 2), 0, loader.batches_per_epoch(), &batches);
    size_t seen = 0;
    for (const Batch& b : batches) {
      ASSERT_EQ(b.epoch, 0u);
      for (int i = 0; i < b.size(); ++i) {
        std::vector<float> img(b.images.begin() + i * 3 * 1024,
                               b.images.begin() + (i + 1) * 3 * 1024);
        std::vector<uint8_t> mask(b.masks.begin() + i * 1024, b.masks.begin() + (i + 1) * 1024);
        auto [it, fresh] = first.emplace(b.pet_ids[i], std::make_pair(img, mask));
        if (!fresh) {
          EXPECT_EQ(it->second.first, img) << b.pet_ids[i] << " in a batch of " << batch;
          EXPECT_EQ(it->second.second, mask) << b.pet_ids[i];
        }
        ++seen;
      }
    }
    EXPECT_EQ(seen, (*(*reader)->Split("train"))->size());
  }
}

TEST_F(LoaderTest, ResumingAtStepKContinuesTheUninterruptedRun) {
  auto full = Digests(Options(7, 2), 0, 15);
  for (uint64_t k : {1u, 4u, 5u, 9u, 14u}) {
    auto rest = Digests(Options(7, 2), k, 15);
    EXPECT_EQ(rest, std::vector<std::string>(full.begin() + k, full.end())) << "k = " << k;
  }
  auto reader = DatasetReader::Open(dataset_);
  Loader loader(*(*reader)->Split("train"), 32, Options(7, 2));
  LoaderState s = loader.StateAt(9);
  EXPECT_EQ(loader.StepOf(s), 9u);
  EXPECT_EQ(s.epoch, 9u / loader.batches_per_epoch());
}

TEST_F(LoaderTest, TheSeedChangesOrderAndPixels) {
  LoaderOptions a = Options(8, 2), b = Options(8, 2);
  b.seed = 12;
  std::vector<Batch> ba, bb;
  Digests(a, 0, 1, &ba);
  Digests(b, 0, 1, &bb);
  EXPECT_NE(ba[0].pet_ids, bb[0].pet_ids);
  auto reader = DatasetReader::Open(dataset_);
  Loader la(*(*reader)->Split("train"), 32, a), lb(*(*reader)->Split("train"), 32, b);
  auto oa = la.EpochOrder(0), ob = lb.EpochOrder(0), oa1 = la.EpochOrder(1);
  EXPECT_NE(oa, ob);
  EXPECT_NE(oa, oa1) << "each epoch has its own order";
  std::set<uint32_t> all(oa.begin(), oa.end());
  EXPECT_EQ(all.size(), oa.size()) << "a permutation";
  a.shuffle = false;
  Loader stored(*(*reader)->Split("train"), 32, a);
  auto o = stored.EpochOrder(3);
  for (uint32_t i = 0; i < o.size(); ++i) EXPECT_EQ(o[i], i);
  // The same pet, another seed: other pixels.
  LoaderOptions c = Options(100, 2);
  c.shuffle = false;
  LoaderOptions d = c;
  d.seed = 99;
  std::vector<Batch> bc, bd;
  Digests(c, 0, 1, &bc);
  Digests(d, 0, 1, &bd);
  ASSERT_EQ(bc[0].pet_ids, bd[0].pet_ids);
  EXPECT_NE(bc[0].images, bd[0].images);
}

TEST_F(LoaderTest, DropLastAndBadInput) {
  auto reader = DatasetReader::Open(dataset_);
  const SplitReader* train = *(*reader)->Split("train");
  LoaderOptions o = Options(static_cast<int>(train->size()) + 1, 2);
  o.drop_last = true;
  Loader loader(train, 32, o);
  EXPECT_EQ(loader.batches_per_epoch(), 0u);
  Status s = DrainAll(loader, 0, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no batch would be produced"), std::string::npos);
  LoaderOptions keep = Options(8, 2);
  keep.drop_last = true;
  Loader dropping(train, 32, keep);
  EXPECT_EQ(dropping.batches_per_epoch(), train->size() / 8);
}

TEST_F(LoaderTest, ACorruptRecordIsNamed) {
  testing::TempDir copy;
  fs::copy(dataset_, copy / "ds", fs::copy_options::recursive);
  std::string shard = copy / "ds/train/shard-00001.rec";
  std::string bytes = *ReadFile(shard);
  bytes[100] ^= 0x55;
  ASSERT_TRUE(WriteFileAtomic(shard, bytes).ok());
  auto reader = DatasetReader::Open(copy / "ds");
  ASSERT_TRUE(reader.ok());
  LoaderOptions o = Options(8, 2);
  o.shuffle = false;
  Loader loader(*(*reader)->Split("train"), 32, o);
  std::vector<uint64_t> steps;
  Status s = Drain(loader, 0, 4, [&](Batch& b) { steps.push_back(b.step); });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("shard-00001.rec: record 0"), std::string::npos) << s.message();
  // The batches before the bad record come first, then its error, which stays.
  EXPECT_LT(steps.size(), 4u);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], i);
  auto stream = loader.Open(0, 4);
  ASSERT_TRUE(stream.ok());
  Batch b;
  Status first_error;
  for (int i = 0; i < 8 && first_error.ok(); ++i) {
    auto more = (*stream)->Next(&b);
    if (!more.ok()) first_error = more.status();
  }
  ASSERT_FALSE(first_error.ok());
  auto again = (*stream)->Next(&b);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), first_error.message());
}

TEST(LoaderEmptySplitTest, AnEmptySplitIsAClearError) {
  testing::TempDir dir;
  // One pet, Abyssinian_1: fold 8, so the train split is empty.
  std::string dataset = testing::MakeDataset(dir.path(), 1, 1, 16);
  auto reader = DatasetReader::Open(dataset);
  ASSERT_TRUE(reader.ok());
  const SplitReader* train = *(*reader)->Split("train");
  ASSERT_EQ(train->size(), 0u);
  LoaderOptions o;
  Loader loader(train, 16, o);
  Status s = DrainAll(loader, 0, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("split train is empty"), std::string::npos) << s.message();
  auto cli = testing::RunPetprep("-q batches --data " + dataset);
  EXPECT_EQ(cli.exit_code, 2);
  EXPECT_NE(cli.err.find("empty"), std::string::npos) << cli.err;
}

// The CUDA augmentation backend's kernels and buffers, on the simulated device: the CPU's bytes.
TEST_F(LoaderTest, CudaSimAugmentationEqualsCpu) {
  std::unique_ptr<AugmentBackend> sim = NewCudaSimAugmentBackend();
  EXPECT_EQ(sim->name(), "cuda-sim");
  EXPECT_FALSE(sim->per_sample());
  LoaderOptions o = Options(8, 2);
  o.augment_backend = sim.get();
  EXPECT_EQ(Digests(o, 0, 7), Digests(Options(8, 2), 0, 7));
}

// The GPU path gives the CPU's bytes (ggml's test-backend-ops, but bitwise).
TEST_F(LoaderTest, CudaAugmentationEqualsCpu) {
  auto cuda = NewCudaAugmentBackend();
  if (!cuda.ok()) {
    ASSERT_EQ(cuda.status().code(), Status::Code::kUnavailable) << cuda.status().ToString();
    GTEST_SKIP() << cuda.status().message();
  }
  LoaderOptions gpu = Options(8, 2);
  gpu.augment_backend = cuda->get();
  EXPECT_EQ(Digests(gpu, 0, 6), Digests(Options(8, 2), 0, 6));
}

}  // namespace
}  // namespace petprep
