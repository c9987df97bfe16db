// B3 (../shared/BENCHMARKS.md): one training step of the reference U-Net (widths 16-32-64-128,
// 482,771 parameters) on an 8x3x128x128 batch, softmax cross-entropy, Adam lr 1e-3: the
// median step time on 1 and 2 threads, the weights' SHA-256 after 10 steps on each, and the
// fraction of the measured FP32 FMA peak.
//
//   build/bench/train_step_bench [--steps 20] [--warmup 3] [--batch 8] [--size 128]
//   build/bench/train_step_bench --export DIR     # weights, batch, loss and gradients of one
//                                                 # step, for bench/torch_compare.py
//   build/bench/train_step_bench --device cuda    # B4: the step on an ops backend (cuda,
//                                                 # cuda-sim) against the CPU's weights
//   build/bench/train_step_bench --op-table 2     # where one step's time goes on 2 threads:
//                                                 # ms and share of the step per op
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/fma_peak.h"
#include "pipeline/core/philox.h"
#include "pipeline/device/cuda_info.h"
#include "pipeline/train/backend.h"
#include "pipeline/train/ops.h"
#include "pipeline/train/optim.h"
#include "pipeline/train/simd.h"
#include "pipeline/train/threads.h"
#include "pipeline/train/unet.h"

namespace {

using petprep::Tensor;
using Clock = std::chrono::steady_clock;

struct Batch {
  Tensor x;
  std::vector<uint8_t> y;
};

Batch MakeBatch(int n, int side) {
  Batch b;
  b.x.Resize(n, 3, side, side);
  b.y.resize(static_cast<size_t>(n) * side * side);
  petprep::PhiloxStream s(petprep::DeriveKey(1234, petprep::RandomPurpose::kSynth), 0, 0);
  for (size_t i = 0; i < b.x.size(); ++i) b.x[i] = s.Uniform();
  for (auto& v : b.y) v = static_cast<uint8_t>(s.Below(3));
  return b;
}

// Forward MACs of the convolutions for one image.
double ForwardMacs(const std::vector<int>& w, int side) {
  double macs = 0;
  int s = side, cin = 3;
  for (size_t i = 0; i < w.size(); ++i) {
    macs += 9.0 * s * s * (cin * w[i] + w[i] * w[i]);
    cin = w[i];
    if (i + 1 < w.size()) s /= 2;
  }
  for (int i = static_cast<int>(w.size()) - 2; i >= 0; --i) {
    macs += 4.0 * s * s * w[i + 1] * w[i];  // transposed conv from s to 2s
    s *= 2;
    macs += 9.0 * s * s * (2 * w[i] * w[i] + w[i] * w[i]);
  }
  macs += static_cast<double>(s) * s * w[0] * 3;
  return macs;
}

// Exits with the message: a benchmark has no error path worth more.
void Check(const petprep::Status& s) {
  if (s.ok()) return;
  std::fprintf(stderr, "train_step_bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

// One training step as petprep train runs it, through the CPU ops backend: the batch is
// uploaded (a copy on the CPU), the loss read back.
struct Trainer {
  explicit Trainer(std::unique_ptr<petprep::Backend> b = petprep::NewCpuBackend())
      : backend(std::move(b)), net(petprep::UNetConfig{}, backend.get()) {
    Check(net.Init(0));
  }
  std::unique_ptr<petprep::Backend> backend;
  petprep::UNet net;
  std::vector<petprep::DeviceAdamSlot> slots;
  petprep::DeviceTensor x, y, dl, loss;
  uint64_t t = 0;
  float Step(const Batch& b) {
    Check(backend->UploadImagesAndLabels(b.x.data(), {b.x.n(), 3, b.x.h(), b.x.w()}, b.y.data(),
                                         {b.x.n(), 1, b.x.h(), b.x.w()}, &x, &y));
    const petprep::DeviceTensor* logits = nullptr;
    Check(net.Forward(x, true, 0, t, &logits));
    Check(backend->SoftmaxCrossEntropy(*logits, y, &loss, &dl));
    Check(net.Backward(dl));
    Check(petprep::AdamStep(backend.get(), petprep::AdamOptions{}, ++t, net.Params(), net.Grads(),
                            &slots));
    auto l = backend->ReadScalar(loss);
    Check(l.status());
    return *l;
  }
};

void WriteFloats(const std::string& path, const std::vector<const Tensor*>& ts) {
  std::ofstream f(path, std::ios::binary);
  for (const Tensor* t : ts)
    f.write(reinterpret_cast<const char*>(t->data()), static_cast<std::streamsize>(t->size() * 4));
}

int Export(const std::string& dir, int batch, int side) {
  Batch b = MakeBatch(batch, side);
  Trainer tr;
  std::vector<Tensor> params, buffers;
  Check(tr.net.ReadParams(&params, &buffers));
  std::vector<const Tensor*> cparams;
  for (const Tensor& p : params) cparams.push_back(&p);
  WriteFloats(dir + "/params.bin", cparams);
  WriteFloats(dir + "/x.bin", {&b.x});
  std::ofstream(dir + "/y.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(b.y.data()), static_cast<std::streamsize>(b.y.size()));
  Check(tr.backend->Upload(b.x, &tr.x));
  Check(tr.backend->UploadBytes(b.y.data(), {b.x.n(), 1, b.x.h(), b.x.w()}, &tr.y));
  const petprep::DeviceTensor* logits = nullptr;
  Check(tr.net.Forward(tr.x, true, 0, 0, &logits));
  Check(tr.backend->SoftmaxCrossEntropy(*logits, tr.y, &tr.loss, &tr.dl));
  Check(tr.net.Backward(tr.dl));
  auto loss_or = tr.backend->ReadScalar(tr.loss);
  Check(loss_or.status());
  const float loss = *loss_or;
  std::vector<Tensor> grads;
  std::vector<const Tensor*> cgrads;
  for (const petprep::DeviceTensor* g : tr.net.Grads()) {
    grads.emplace_back();
    Check(tr.backend->Download(*g, &grads.back()));
  }
  for (const Tensor& g : grads) cgrads.push_back(&g);
  WriteFloats(dir + "/grads.bin", cgrads);
  nlohmann::json m;
  m["batch"] = batch;
  m["size"] = side;
  m["loss"] = loss;
  std::vector<std::string> names = tr.net.ParamNames();
  for (size_t i = 0; i < params.size(); ++i) {
    m["params"].push_back(
        {{"name", names[i]},
         {"shape", {params[i].n(), params[i].c(), params[i].h(), params[i].w()}}});
  }
  std::ofstream(dir + "/manifest.json") << m.dump(1) << "\n";
  std::printf("exported the weights, batch, loss %.9g and gradients of one step to %s\n", loss,
              dir.c_str());
  return 0;
}

}  // namespace

// The weights' SHA-256 after 10 steps on a fresh network of this backend.
std::string TenStepHash(std::unique_ptr<petprep::Backend> backend, const Batch& b, float* loss) {
  Trainer fresh(std::move(backend));
  for (int i = 0; i < 10; ++i) *loss = fresh.Step(b);
  auto digest = fresh.net.WeightsDigest();
  Check(digest.status());
  return petprep::ToHex(*digest);
}

// B4: the median step time on `device` and the weights after 10 steps against the CPU's. The
// loss read at the end of each step waits for the device, so a step's time is all of its work.
int OnDevice(const std::string& device, int steps, int warmup, int batch, int side, double gflop) {
  auto make = [&] {
    auto b = petprep::MakeBackend(device);
    Check(b.status());
    return std::move(*b);
  };
  const Batch b = MakeBatch(batch, side);
  Trainer tr(make());
  std::printf("device: %s\n", tr.backend->Describe().c_str());
  for (int i = 0; i < warmup; ++i) tr.Step(b);
  const petprep::TransferCounts before = tr.backend->Transfers();
  std::vector<double> ts;
  for (int i = 0; i < steps; ++i) {
    auto a = Clock::now();
    tr.Step(b);
    ts.push_back(std::chrono::duration<double>(Clock::now() - a).count() * 1e3);
  }
  const petprep::TransferCounts after = tr.backend->Transfers();
  std::sort(ts.begin(), ts.end());
  const double median = ts[ts.size() / 2];
  std::printf("%s: median %.3f ms  min %.3f  max %.3f  %.1f GFLOP/s", device.c_str(), median,
              ts.front(), ts.back(), gflop / (median / 1e3));
  const petprep::gpu::CudaInfo info = petprep::gpu::QueryCuda();
  const double peak = device == "cuda" && !info.devices.empty()
                          ? petprep::gpu::Fp32PeakGflops(info.devices[0])
                          : 0.0;
  if (peak > 0) {
    std::printf("  (%.1f%% of the device's FP32 peak %.0f GFLOP/s)",
                100 * gflop / (median / 1e3) / peak, peak);
  }
  std::printf("\n");
  std::printf("%s per step: %.1f copies to the device, %.1f to the host, %.1f launches\n",
              device.c_str(), static_cast<double>(after.to_device - before.to_device) / steps,
              static_cast<double>(after.to_host - before.to_host) / steps,
              static_cast<double>(after.launches - before.launches) / steps);
  float loss_dev = 0, loss_cpu = 0;
  const std::string on_device = TenStepHash(make(), b, &loss_dev);
  const std::string on_cpu = TenStepHash(petprep::NewCpuBackend(), b, &loss_cpu);
  std::printf("hash %s: %s  loss10=%.9g\n", device.c_str(), on_device.c_str(), loss_dev);
  std::printf("hash cpu: %s  loss10=%.9g\n", on_cpu.c_str(), loss_cpu);
  std::printf("%s vs cpu bitwise identical: %s\n", device.c_str(),
              on_device == on_cpu ? "True" : "False");
  return on_device == on_cpu ? 0 : 1;
}

// The mean time per step of each op (forward and backward apart) over `steps` steps after
// `warmup`, on `threads` threads, largest first, and what the step spends outside the ops.
int OpTable(int threads, int steps, int warmup, int batch, int side) {
  return petprep::WithThreads(threads, [&] {
    const Batch b = MakeBatch(batch, side);
    petprep::OpTimes times;
    Trainer tr(petprep::NewTimedCpuBackend(&times));
    for (int i = 0; i < warmup; ++i) tr.Step(b);
    times = petprep::OpTimes{};
    const auto start = Clock::now();
    for (int i = 0; i < steps; ++i) tr.Step(b);
    const double step_ms =
        std::chrono::duration<double>(Clock::now() - start).count() * 1e3 / steps;
    std::vector<int> ops;
    double in_ops = 0;
    for (int i = 0; i < petprep::kOpCount; ++i) {
      if (times.calls[i] == 0) continue;
      ops.push_back(i);
      in_ops += times.seconds[i] * 1e3 / steps;
    }
    std::stable_sort(ops.begin(), ops.end(),
                     [&](int a, int c) { return times.seconds[a] > times.seconds[c]; });
    std::printf("per op, one step on %d thread%s (the mean of %d steps after %d warm-up):\n",
                threads, threads == 1 ? "" : "s", steps, warmup);
    std::printf("  %-24s %10s %10s %8s\n", "op", "calls/step", "ms/step", "share");
    for (int i : ops) {
      const double ms = times.seconds[i] * 1e3 / steps;
      std::printf("  %-24s %10.1f %10.2f %7.1f%%\n", petprep::OpName(static_cast<petprep::Op>(i)),
                  static_cast<double>(times.calls[i]) / steps, ms, 100 * ms / step_ms);
    }
    std::printf("  %-24s %10s %10.2f %7.1f%%\n", "outside the ops", "", step_ms - in_ops,
                100 * (step_ms - in_ops) / step_ms);
    std::printf("  %-24s %10s %10.2f %7.1f%%\n", "step", "", step_ms, 100.0);
    return 0;
  });
}

int main(int argc, char** argv) {
  int steps = 20, warmup = 3, batch = 8, side = 128, op_table = 0;
  std::string export_dir, device;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--size")) side = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--export")) export_dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--device")) device = argv[i + 1];
    if (!std::strcmp(argv[i], "--op-table")) op_table = std::atoi(argv[i + 1]);
  }
  if (op_table > 0) return OpTable(op_table, steps, warmup, batch, side);
  if (!export_dir.empty()) return Export(export_dir, batch, side);
  std::printf(
      "command: build/bench/train_step_bench --steps %d --warmup %d --batch %d --size %d%s%s\n",
      steps, warmup, batch, side, device.empty() ? "" : " --device ", device.c_str());
  std::printf("SIMD path: %s\n", petprep::SimdPathName(petprep::ActiveSimdPath()));
  const double gflop = 3.0 * 2.0 * ForwardMacs({16, 32, 64, 128}, side) * batch / 1e9;
  std::printf(
      "U-Net 16-32-64-128, %zu parameters, %dx3x%dx%d, %.2f GFLOP per step (3x the forward's)\n",
      petprep::UNet(petprep::UNetConfig{}, nullptr).ParamCount(), batch, side, side, gflop);
  if (!device.empty()) return OnDevice(device, steps, warmup, batch, side, gflop);
  const Batch b = MakeBatch(batch, side);
  std::string hashes[3];
  double median[3] = {0, 0, 0};
  for (int t = 1; t <= 2; ++t) {
    petprep::WithThreads(t, [&] {
      Trainer tr;
      for (int i = 0; i < warmup; ++i) tr.Step(b);
      std::vector<double> ts;
      for (int i = 0; i < steps; ++i) {
        auto a = Clock::now();
        tr.Step(b);
        ts.push_back(std::chrono::duration<double>(Clock::now() - a).count() * 1e3);
      }
      std::sort(ts.begin(), ts.end());
      median[t] = ts[ts.size() / 2];
      const double peak = petprep::bench::FmaPeakGflops(t);
      std::printf("threads=%d: median %.1f ms  min %.1f  max %.1f  %.1f GFLOP/s", t, median[t],
                  ts.front(), ts.back(), gflop / (median[t] / 1e3));
      if (peak > 0)
        std::printf("  (%.0f%% of the measured FMA peak %.1f GFLOP/s)",
                    100 * gflop / (median[t] / 1e3) / peak, peak);
      std::printf("\n");
      float loss = 0;
      hashes[t] = TenStepHash(petprep::NewCpuBackend(), b, &loss);
      std::printf("hash threads=%d: %s  loss10=%.9g\n", t, hashes[t].c_str(), loss);
      return 0;
    });
  }
  std::printf("1-thread vs 2-thread bitwise identical: %s\n",
              hashes[1] == hashes[2] ? "True" : "False");
  std::printf("speed-up 1 -> 2 threads: %.2fx\n", median[1] / median[2]);
  return 0;
}
