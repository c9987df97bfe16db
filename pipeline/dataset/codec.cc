#include "pipeline/dataset/codec.h"

#include <gif_lib.h>
#include <turbojpeg.h>

#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace petprep {
namespace {

struct TjCompressor {
  tjhandle handle = tjInitCompress();
  ~TjCompressor() {
    if (handle) tjDestroy(handle);
  }
};

}  // namespace

Result<std::string> EncodeJpeg(const Image& image, int quality, JpegColor color) {
  thread_local TjCompressor tj;
  if (!tj.handle) return Status::Internal("cannot create a TurboJPEG compressor");
  if (quality < 1 || quality > 100) return Status::InvalidArgument("JPEG quality out of range");
  int pixel_format, subsamp;
  if (color == JpegColor::kCmyk) {
    if (image.channels != 4) return Status::InvalidArgument("CMYK JPEG needs 4 channels");
    pixel_format = TJPF_CMYK;
    subsamp = TJSAMP_444;
  } else if (image.channels == 1) {
    pixel_format = TJPF_GRAY;
    subsamp = TJSAMP_GRAY;
  } else if (image.channels == 3) {
    pixel_format = TJPF_RGB;
    subsamp = TJSAMP_420;
  } else {
    return Status::InvalidArgument("JPEG encoding needs 1 or 3 channels");
  }
  unsigned char* out = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(tj.handle, image.data.data(), image.width, 0, image.height, pixel_format,
                       &out, &size, subsamp, quality, TJFLAG_ACCURATEDCT);
  if (rc != 0) {
    std::string err = tjGetErrorStr2(tj.handle);
    if (out) tjFree(out);
    return Status::Internal("JPEG encoding failed: " + err);
  }
  std::string bytes(reinterpret_cast<const char*>(out), size);
  tjFree(out);
  return bytes;
}

Result<std::string> EncodePng(const Image& image) {
  int type;
  cv::Mat src;
  switch (image.channels) {
    case 1:
      type = CV_8UC1;
      break;
    case 3:
      type = CV_8UC3;
      break;
    case 4:
      type = CV_8UC4;
      break;
    default:
      return Status::InvalidArgument("PNG encoding needs 1, 3 or 4 channels");
  }
  cv::Mat view(image.height, image.width, type, const_cast<uint8_t*>(image.data.data()));
  if (image.channels == 3) {
    cv::cvtColor(view, src, cv::COLOR_RGB2BGR);
  } else if (image.channels == 4) {
    cv::cvtColor(view, src, cv::COLOR_RGBA2BGRA);
  } else {
    src = view;
  }
  std::vector<uchar> buf;
  if (!cv::imencode(".png", src, buf, {cv::IMWRITE_PNG_COMPRESSION, 6})) {
    return Status::Internal("PNG encoding failed");
  }
  return std::string(buf.begin(), buf.end());
}

namespace {

int GifWrite(GifFileType* gif, const GifByteType* data, int size) {
  static_cast<std::string*>(gif->UserData)->append(reinterpret_cast<const char*>(data), size);
  return size;
}

}  // namespace

Result<std::string> EncodeGif(const Image& image) {
  if (image.channels != 3) return Status::InvalidArgument("GIF encoding needs RGB");
  std::string out;
  int err = 0;
  GifFileType* gif = EGifOpen(&out, GifWrite, &err);
  if (!gif) return Status::Internal(std::string("GIF encoder: ") + GifErrorString(err));
  EGifSetGifVersion(gif, true);
  std::vector<GifColorType> colors(256, GifColorType{0, 0, 0});
  for (int i = 0; i < 216; ++i) {
    colors[i].Red = static_cast<GifByteType>((i / 36) * 51);
    colors[i].Green = static_cast<GifByteType>(((i / 6) % 6) * 51);
    colors[i].Blue = static_cast<GifByteType>((i % 6) * 51);
  }
  ColorMapObject* map = GifMakeMapObject(256, colors.data());
  bool ok = map && EGifPutScreenDesc(gif, image.width, image.height, 8, 0, map) == GIF_OK &&
            EGifPutImageDesc(gif, 0, 0, image.width, image.height, false, nullptr) == GIF_OK;
  std::vector<GifByteType> line(image.width);
  for (int y = 0; ok && y < image.height; ++y) {
    const uint8_t* p = image.row(y);
    for (int x = 0; x < image.width; ++x) {
      // Nearest level of the 6-step cube: (v * 5 + 127) / 255.
      int r = (p[3 * x] * 5 + 127) / 255, g = (p[3 * x + 1] * 5 + 127) / 255,
          b = (p[3 * x + 2] * 5 + 127) / 255;
      line[x] = static_cast<GifByteType>(r * 36 + g * 6 + b);
    }
    ok = EGifPutLine(gif, line.data(), image.width) == GIF_OK;
  }
  if (map) GifFreeMapObject(map);
  int close_err = 0;
  if (EGifCloseFile(gif, &close_err) != GIF_OK) ok = false;
  if (!ok) return Status::Internal("GIF encoding failed");
  return out;
}

}  // namespace petprep
