// petprep predict: masks and overlays for images of any size.
#include <cstdio>

#include "pipeline/train/backend.h"
#include "pipeline/train/predict.h"
#include "pipeline/train/threads.h"
#include "tools/cli.h"

namespace petprep {

int RunPredict(CommandContext& ctx) {
  CLI::App app;
  SetupApp(app, ctx,
           "Segment images with a run's weights: each image (JPEG, PNG, GIF, any size) is resized "
           "to the model's input, segmented, and the mask resized back; OUT/<name>.mask.png holds "
           "class ids (0 pet, 1 background, 2 border) and OUT/<name>.overlay.png the image with "
           "the pet in orange and the border in yellow.",
           "petprep predict runs/a --image photo.jpg --out predictions");
  std::string run, out, checkpoint;
  std::vector<std::string> images;
  std::string device = "cpu";
  int threads = 0;
  bool probabilities = false;
  app.add_option("run", run, "The run folder")->required()->type_name("RUN");
  app.add_option("--image", images, "Image files")->required()->expected(1, -1)->type_name("FILE");
  app.add_option("--out", out, "Output folder")->required()->type_name("DIR");
  app.add_option("--checkpoint", checkpoint,
                 "best, or a checkpoint file (default: the newest step)");
  app.add_flag("--probabilities", probabilities,
               "Also OUT/<name>.probabilities.npy: the class probabilities per pixel, "
               "softmax(logits / T) with the run's calibrated T (1 if not calibrated), float32 "
               "(1, 3, S, S) at the model's input size, classes pet, background, border");
  uint64_t max_pixels = kDefaultMaxPixels;
  AddMaxPixels(app, &max_pixels);
  app.add_option("--threads", threads, "Threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--device", device,
                 "The ops backend: cpu, cuda, cuda-sim (slow; never changes a result)")
      ->capture_default_str()
      ->check(CLI::IsMember(BuiltInBackends()));
  int rc;
  if (!ParseArgs(app, ctx, &rc)) return rc;
  std::vector<std::string> written;
  std::string note;
  Status s = WithThreads(threads, [&] {
    return PredictRun(run, images, out, checkpoint, device, probabilities, &written, &note,
                      max_pixels);
  });
  if (!note.empty() && probabilities)
    std::fprintf(stderr, "petprep predict: note: %s\n", note.c_str());
  if (!s.ok()) return ReportError(ctx, s);
  for (const std::string& w : written) std::printf("%s\n", w.c_str());
  return kExitOk;
}

}  // namespace petprep
