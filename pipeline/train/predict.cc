#include "pipeline/train/predict.h"

#include <set>

#include "pipeline/augment/augment.h"
#include "pipeline/core/atomic_file.h"
#include "pipeline/core/hash.h"
#include "pipeline/core/read_file.h"
#include "pipeline/dataset/codec.h"
#include "pipeline/dataset/overlay.h"
#include "pipeline/dataset/partition.h"
#include "pipeline/dataset/resize.h"
#include "pipeline/dataset/source_image.h"
#include "pipeline/train/calibrate.h"
#include "pipeline/train/run_folder.h"
#include "pipeline/train/tensor.h"
#include "pipeline/train/trace.h"

namespace petprep {

Status PredictRun(const std::string& run, const std::vector<std::string>& images,
                  const std::string& out_dir, const std::string& checkpoint,
                  const std::string& device, bool probabilities, std::vector<std::string>* written,
                  std::string* note, uint64_t max_pixels) {
  LoadedRun r;
  PETPREP_RETURN_IF_ERROR(LoadRun(run, checkpoint, device, &r));
  auto digest = r.net->WeightsDigest();
  if (!digest.ok()) return digest.status();
  auto temperature = ReadTemperature(run, ToHex(*digest), note);
  if (!temperature.ok()) return temperature.status();
  const double t = temperature->value_or(1.0);
  const std::string holder = DatasetHolding(out_dir);
  if (!holder.empty()) {
    return Status::InvalidArgument("--out " + out_dir + " is inside the dataset " + holder +
                                   ": choose a folder outside it");
  }
  PETPREP_RETURN_IF_ERROR(MakeDirs(out_dir));
  const int side = r.state.image_size;
  const AugmentParams p = DrawAugmentParams(EvalSpec(r.spec), 0, 0, 0, side, side, side);
  // Every input is read and decoded, and every output name checked, before anything is written.
  struct Input {
    std::string path, stem;
    Image rgb;
  };
  std::vector<Input> inputs;
  std::set<std::string> stems;
  for (const std::string& path : images) {
    auto bytes = ReadFile(path, kPictureFileLimit);
    if (!bytes.ok()) return bytes.status();
    auto picture = DecodePicture(*bytes, max_pixels);
    if (!picture.ok()) return picture.status().WithContext(path);
    Input in;
    in.path = path;
    in.rgb = std::move(*picture);
    // OUT/<stem>; a petset folder's image.jpg is named after its pet (the folder).
    const size_t slash = path.find_last_of('/');
    std::string base = path.substr(slash == std::string::npos ? 0 : slash + 1);
    base = base.substr(0, base.find_last_of('.'));
    if (base == "image" && slash != std::string::npos && slash > 0) {
      const std::string parent = path.substr(0, slash);
      base = parent.substr(parent.find_last_of('/') + 1);
    }
    if (!stems.insert(base).second) {
      return Status::InvalidArgument(path + ": another input also makes " + out_dir + "/" + base +
                                     ".mask.png (give files of different names)");
    }
    in.stem = base;
    inputs.push_back(std::move(in));
  }
  DeviceTensor dx, classes;
  for (const Input& in : inputs) {
    const Image& rgb = in.rgb;
    Image small = ResizeBilinear(rgb, side, side);
    std::vector<uint8_t> blank(static_cast<size_t>(side) * side, 1), unused(blank.size());
    Tensor x(1, 3, side, side);
    AugmentSampleCpu(p, small.data.data(), blank.data(), x.data(), unused.data());
    PETPREP_RETURN_IF_ERROR(r.backend->Upload(x, &dx));
    const DeviceTensor* logits = nullptr;
    PETPREP_RETURN_IF_ERROR(r.net->Forward(dx, false, 0, 0, &logits));
    PETPREP_RETURN_IF_ERROR(r.backend->Argmax(*logits, &classes));
    Tensor probs;
    if (probabilities) {
      Tensor host;
      PETPREP_RETURN_IF_ERROR(r.backend->Download(*logits, &host));
      probs.Resize(1, 3, side, side);
      CalibratedProbabilities(host.data(), static_cast<size_t>(side) * side, t, probs.data());
    }
    Image mask_small(side, side, 1);
    PETPREP_RETURN_IF_ERROR(r.backend->DownloadBytes(classes, &mask_small.data));
    Image mask = ResizeNearest(mask_small, rgb.width, rgb.height);
    Image overlay = OverlayClasses(rgb, mask);
    auto mask_png = EncodePng(mask);
    auto overlay_png = EncodePng(overlay);
    if (!mask_png.ok()) return mask_png.status().WithContext(in.path);
    if (!overlay_png.ok()) return overlay_png.status().WithContext(in.path);
    const std::string mp = out_dir + "/" + in.stem + ".mask.png";
    const std::string op = out_dir + "/" + in.stem + ".overlay.png";
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(mp, *mask_png));
    PETPREP_RETURN_IF_ERROR(WriteFileAtomic(op, *overlay_png));
    written->push_back(mp);
    written->push_back(op);
    if (probabilities) {
      const std::string pp = out_dir + "/" + in.stem + ".probabilities.npy";
      PETPREP_RETURN_IF_ERROR(WriteNpy(pp, probs));
      written->push_back(pp);
    }
  }
  return Status::Ok();
}

}  // namespace petprep
