#include "pipeline/dataset/codec.h"

#include <gif_lib.h>
#include <png.h>
#include <tiffio.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <mutex>
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

Status CheckPictureSize(int64_t width, int64_t height, uint64_t max_pixels, const char* format) {
  if (width <= 0 || height <= 0) {
    return Status::Corruption(std::string("a ") + format + " of " + std::to_string(width) + "x" +
                              std::to_string(height) + " pixels");
  }
  const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (pixels <= max_pixels) return Status::Ok();
  char text[160];
  std::snprintf(text, sizeof text,
                "a %lldx%lld %s (%.1f megapixels) is over the limit of %.1f megapixels "
                "(--max-pixels)",
                static_cast<long long>(width), static_cast<long long>(height), format,
                static_cast<double>(pixels) / 1e6, static_cast<double>(max_pixels) / 1e6);
  return Status::InvalidArgument(text);
}

Result<Image> DecodeJpeg(const std::string& bytes, uint64_t max_pixels) {
  struct TjDecompressor {
    tjhandle handle = tjInitDecompress();
    ~TjDecompressor() {
      if (handle) tjDestroy(handle);
    }
  };
  thread_local TjDecompressor tj;
  int w, h, sub, cs;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (tjDecompressHeader3(tj.handle, p, bytes.size(), &w, &h, &sub, &cs) != 0) {
    return Status::Corruption(std::string("unreadable JPEG: ") + tjGetErrorStr2(tj.handle));
  }
  PETPREP_RETURN_IF_ERROR(CheckPictureSize(w, h, max_pixels, "JPEG"));
  Image img(w, h, 3);
  if (tjDecompress2(tj.handle, p, bytes.size(), img.data.data(), w, 0, h, TJPF_RGB,
                    TJFLAG_ACCURATEDCT) != 0) {
    return Status::Corruption(std::string("JPEG decoding failed: ") + tjGetErrorStr2(tj.handle));
  }
  return img;
}

namespace {

void PngWrite(png_structp png, png_bytep data, png_size_t size) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), size);
}
void PngFlush(png_structp) {}
void PngError(png_structp png, png_const_charp msg) {
  *static_cast<std::string*>(png_get_error_ptr(png)) = msg;
  png_longjmp(png, 1);
}
void PngWarning(png_structp, png_const_charp) {}

}  // namespace

namespace {

struct PngSource {
  const std::string* data;
  size_t pos = 0;
};

void PngRead(png_structp png, png_bytep out, png_size_t size) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (src->data->size() - src->pos < size) png_error(png, "truncated PNG");
  std::memcpy(out, src->data->data() + src->pos, size);
  src->pos += size;
}

}  // namespace

// libpng reports errors by longjmp: the frame holding setjmp keeps no C++ object that changes
// after it; results go through pointers to the caller's frame. libpng's transformations give
// OpenCV's IMREAD_UNCHANGED layout.
bool ReadAnyPngInto(const std::string& bytes, uint64_t max_pixels, AnyPng* out,
                    std::string* error) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, error, PngError, PngWarning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_read_struct(&png, &info, nullptr);
    *error = "cannot create a PNG decoder";
    return false;
  }
  PngSource src{&bytes};
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &src, PngRead);
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const int depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
  if (w == 0 || h == 0 || w > 65535 || h > 65535) {
    png_destroy_read_struct(&png, &info, nullptr);
    *error = "unsupported PNG size";
    return false;
  }
  Status fits = CheckPictureSize(w, h, max_pixels, "PNG");
  if (!fits.ok()) {
    png_destroy_read_struct(&png, &info, nullptr);
    *error = fits.message();
    return false;
  }
  const bool trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  int channels = 1;
  if (color == PNG_COLOR_TYPE_RGB || color == PNG_COLOR_TYPE_PALETTE) {
    channels = trns ? 4 : 3;
  } else if (color == PNG_COLOR_TYPE_GRAY_ALPHA || color == PNG_COLOR_TYPE_RGB_ALPHA) {
    channels = 4;
  }
  const bool wide = depth == 16;
  if (wide) png_set_swap(png);  // host order (little-endian here)
  if (channels < 4) {
    png_set_strip_alpha(png);
  } else {
    png_set_tRNS_to_alpha(png);
  }
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((color & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if ((color & PNG_COLOR_MASK_COLOR) == 0 && channels > 1) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(w) * channels * (wide ? 2 : 1)) {
    png_destroy_read_struct(&png, &info, nullptr);
    *error = "unexpected PNG row layout";
    return false;
  }
  out->width = static_cast<int>(w);
  out->height = static_cast<int>(h);
  out->channels = channels;
  out->wide = wide;
  const size_t row = static_cast<size_t>(w) * channels;
  std::vector<png_bytep> rows(h);
  if (wide) {
    out->data16.assign(row * h, 0);
    for (png_uint_32 y = 0; y < h; ++y)
      rows[y] = reinterpret_cast<png_bytep>(out->data16.data() + y * row);
  } else {
    out->data.assign(row * h, 0);
    for (png_uint_32 y = 0; y < h; ++y) rows[y] = out->data.data() + y * row;
  }
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

Result<AnyPng> DecodeAnyPng(const std::string& bytes, uint64_t max_pixels) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0) {
    return Status::Corruption("not a PNG");
  }
  // IHDR is the first chunk: its size is known before libpng allocates anything.
  if (bytes.size() >= 24 && bytes.compare(12, 4, "IHDR") == 0) {
    auto be32 = [&](size_t at) {
      uint32_t v = 0;
      for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
      return v;
    };
    PETPREP_RETURN_IF_ERROR(CheckPictureSize(be32(16), be32(20), max_pixels, "PNG"));
  }
  AnyPng img;
  std::string error;
  if (!ReadAnyPngInto(bytes, max_pixels, &img, &error))
    return Status::Corruption("PNG decoding failed: " + error);
  return img;
}

Result<Image> DecodePng(const std::string& bytes, uint64_t max_pixels) {
  auto png = DecodeAnyPng(bytes, max_pixels);
  if (!png.ok()) return png.status();
  if (png->wide) return Status::Corruption("PNG decoding failed: 16-bit samples (8-bit expected)");
  Image img;
  img.width = png->width;
  img.height = png->height;
  img.channels = png->channels;
  img.data = std::move(png->data);
  return img;
}

bool WritePngInto(const Image& image, int color, std::string* out, std::string* error) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, PngError, PngWarning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    *error = "cannot create a PNG encoder";
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, out, PngWrite, PngFlush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), 8, color, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  // One fixed filter and fast deflate: trying every filter on every row costs more than the
  // few percent of size it saves.
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_PAETH);
  png_set_compression_level(png, 1);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y) {
    png_write_row(png, const_cast<png_bytep>(image.row(y)));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

Result<std::string> EncodePng(const Image& image) {
  int color;
  switch (image.channels) {
    case 1:
      color = PNG_COLOR_TYPE_GRAY;
      break;
    case 3:
      color = PNG_COLOR_TYPE_RGB;
      break;
    case 4:
      color = PNG_COLOR_TYPE_RGBA;
      break;
    default:
      return Status::InvalidArgument("PNG encoding needs 1, 3 or 4 channels");
  }
  std::string out, error;
  if (!WritePngInto(image, color, &out, &error))
    return Status::Internal("PNG encoding failed: " + error);
  return out;
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

namespace {

// libtiff reports through global handlers; keep the last message per thread.
thread_local std::string tiff_error;

void OnTiffMessage(const char* module, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  tiff_error = std::string(module ? module : "tiff") + ": " + buf;
}

void InstallTiffHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(OnTiffMessage);
    TIFFSetWarningHandler(nullptr);
  });
}

struct MemoryFile {
  std::string data;
  size_t pos = 0;
};

tmsize_t MemRead(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemoryFile*>(h);
  size_t k =
      std::min<size_t>(static_cast<size_t>(n), f->data.size() - std::min(f->pos, f->data.size()));
  std::memcpy(buf, f->data.data() + f->pos, k);
  f->pos += k;
  return static_cast<tmsize_t>(k);
}

tmsize_t MemWrite(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemoryFile*>(h);
  size_t end = f->pos + static_cast<size_t>(n);
  if (end > f->data.size()) f->data.resize(end, '\0');
  std::memcpy(&f->data[f->pos], buf, static_cast<size_t>(n));
  f->pos = end;
  return n;
}

toff_t MemSeek(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemoryFile*>(h);
  size_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->pos : f->data.size();
  f->pos = base + static_cast<size_t>(off);
  return f->pos;
}

int MemClose(thandle_t) { return 0; }
toff_t MemSize(thandle_t h) { return static_cast<MemoryFile*>(h)->data.size(); }
int MemMap(thandle_t, void**, toff_t*) { return 0; }
void MemUnmap(thandle_t, void*, toff_t) {}

TIFF* OpenMemory(MemoryFile* f, const char* mode) {
  InstallTiffHandlers();
  tiff_error.clear();
  return TIFFClientOpen("memory", mode, f, MemRead, MemWrite, MemSeek, MemClose, MemSize, MemMap,
                        MemUnmap);
}

}  // namespace

Result<std::string> EncodeTiff(const Image& image) {
  if (image.channels != 1 && image.channels != 3) {
    return Status::InvalidArgument("TIFF encoding needs 1 or 3 channels");
  }
  MemoryFile f;
  TIFF* t = OpenMemory(&f, "w");
  if (!t) return Status::Internal("TIFF encoder: " + tiff_error);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(image.width));
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(image.height));
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(image.channels));
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(8));
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
               image.channels == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  if (image.channels == 1) {
    // Class-id masks are long runs: PackBits holds them small and costs next to nothing.
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_PACKBITS);
  } else {
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    TIFFSetField(t, TIFFTAG_ZIPQUALITY, 1);
  }
  // One strip: one deflate stream (a stream per few rows costs a zlib reset each).
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, static_cast<uint32_t>(image.height));
  bool ok = true;
  std::vector<uint8_t> row(static_cast<size_t>(image.width) * image.channels);
  for (int y = 0; ok && y < image.height; ++y) {
    std::memcpy(row.data(), image.row(y), row.size());  // libtiff may modify the buffer
    ok = TIFFWriteScanline(t, row.data(), static_cast<uint32_t>(y), 0) == 1;
  }
  TIFFClose(t);
  if (!ok) return Status::Internal("TIFF encoding failed: " + tiff_error);
  return f.data;
}

Result<Image> DecodeTiff(const std::string& bytes, uint64_t max_pixels) {
  MemoryFile f;
  f.data = bytes;
  TIFF* t = OpenMemory(&f, "r");
  if (!t) return Status::Corruption("not a readable TIFF: " + tiff_error);
  uint32_t w = 0, h = 0;
  uint16_t spp = 1, bps = 8, planar = PLANARCONFIG_CONTIG;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
  if (bps != 8 || (spp != 1 && spp != 3) || planar != PLANARCONFIG_CONTIG || w == 0 || h == 0 ||
      w > 65535 || h > 65535) {
    TIFFClose(t);
    return Status::Corruption(
        "unsupported TIFF layout (8-bit, 1 or 3 contiguous channels expected)");
  }
  Status fits = CheckPictureSize(w, h, max_pixels, "TIFF");
  if (!fits.ok()) {
    TIFFClose(t);
    return fits;
  }
  Image img(static_cast<int>(w), static_cast<int>(h), spp);
  bool ok = true;
  for (uint32_t y = 0; ok && y < h; ++y)
    ok = TIFFReadScanline(t, img.row(static_cast<int>(y)), y, 0) == 1;
  TIFFClose(t);
  if (!ok) return Status::Corruption("TIFF data is damaged: " + tiff_error);
  return img;
}

}  // namespace petprep
