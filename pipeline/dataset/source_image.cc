#include "pipeline/dataset/source_image.h"

#include <gif_lib.h>
#include <turbojpeg.h>

#include <cstring>

#include "pipeline/dataset/codec.h"

namespace petprep {
namespace {

struct TjDecompressor {
  tjhandle handle = tjInitDecompress();
  ~TjDecompressor() {
    if (handle) tjDestroy(handle);
  }
};

const unsigned char* U(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Result<SourceImage> ReadJpeg(const std::string& bytes, uint64_t max_pixels) {
  thread_local TjDecompressor tj;
  int w = 0, h = 0, subsamp = 0, cs = 0;
  if (tjDecompressHeader3(tj.handle, U(bytes), bytes.size(), &w, &h, &subsamp, &cs) != 0) {
    return Status::Corruption(std::string("unreadable JPEG header: ") + tjGetErrorStr2(tj.handle));
  }
  PETPREP_RETURN_IF_ERROR(CheckPictureSize(w, h, max_pixels, "JPEG"));
  SourceImage out;
  out.width = w;
  out.height = h;
  bool cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
  if (cs == TJCS_YCbCr || cs == TJCS_RGB) {
    tjscalingfactor eighth = {1, 8};
    int sw = TJSCALED(w, eighth), sh = TJSCALED(h, eighth);
    std::vector<unsigned char> small(static_cast<size_t>(sw) * sh * 3);
    if (tjDecompress2(tj.handle, U(bytes), bytes.size(), small.data(), sw, 0, sh, TJPF_RGB, 0) ==
        0) {
      out.clean_jpeg = true;
      return out;
    }
  }
  Image decoded(w, h, cmyk ? 4 : 3);
  int rc = tjDecompress2(tj.handle, U(bytes), bytes.size(), decoded.data.data(), w, 0, h,
                         cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT);
  if (rc != 0) {
    std::string msg = tjGetErrorStr2(tj.handle);
    if (tjGetErrorCode(tj.handle) != TJERR_WARNING) {
      return Status::Corruption("JPEG cannot be decoded: " + msg);
    }
    std::string kind = msg.find("Premature end") != std::string::npos      ? "truncated_jpeg"
                       : msg.find("extraneous bytes") != std::string::npos ? "extraneous_bytes_jpeg"
                                                                           : "corrupt_jpeg";
    out.defects.push_back({kind, "libjpeg: " + msg});
  }
  if (cs == TJCS_GRAY) out.defects.push_back({"grayscale_jpeg", "a one-channel JPEG"});
  if (cmyk) {
    out.defects.push_back({"cmyk_jpeg", cs == TJCS_CMYK ? "a CMYK JPEG" : "a YCCK JPEG"});
    out.rgb = Image(w, h, 3);
    for (size_t i = 0, n = static_cast<size_t>(w) * h; i < n; ++i) {
      const uint8_t* p = &decoded.data[4 * i];
      for (int c = 0; c < 3; ++c) {
        out.rgb.data[3 * i + c] = static_cast<uint8_t>((p[c] * p[3] + 127) / 255);
      }
    }
  } else {
    out.rgb = std::move(decoded);
  }
  out.clean_jpeg = out.defects.empty();
  return out;
}

Result<SourceImage> ReadPng(const std::string& bytes, uint64_t max_pixels) {
  auto png = DecodeAnyPng(bytes, max_pixels);
  if (!png.ok() && png.status().code() == Status::Code::kInvalidArgument) return png.status();
  if (!png.ok()) return Status::Corruption("PNG cannot be decoded: " + png.status().message());
  const int ch = png->channels;
  if (png->wide) {  // 16 bits to 8, rounded: round(v / 257), never a tie
    png->data.resize(png->data16.size());
    for (size_t i = 0; i < png->data16.size(); ++i) {
      png->data[i] = static_cast<uint8_t>((2u * png->data16[i] + 257u) / 514u);
    }
  }
  SourceImage out;
  out.width = png->width;
  out.height = png->height;
  out.rgb = Image(png->width, png->height, 3);
  for (int y = 0; y < png->height; ++y) {
    const uint8_t* src = png->data.data() + static_cast<size_t>(y) * png->width * ch;
    uint8_t* dst = out.rgb.row(y);
    for (int x = 0; x < png->width; ++x) {
      const uint8_t* p = src + x * ch;
      if (ch < 3) {
        dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = p[0];
      } else {  // RGB(A), alpha dropped
        dst[3 * x] = p[0];
        dst[3 * x + 1] = p[1];
        dst[3 * x + 2] = p[2];
      }
    }
  }
  out.defects.push_back({"png_as_jpg", std::string("a PNG with ") + std::to_string(ch) +
                                           " channel" + (ch == 1 ? "" : "s") + " named .jpg"});
  return out;
}

struct GifSource {
  const std::string* data;
  size_t pos = 0;
};

int ReadGifBytes(GifFileType* gif, GifByteType* out, int n) {
  auto* s = static_cast<GifSource*>(gif->UserData);
  size_t k = std::min<size_t>(static_cast<size_t>(n), s->data->size() - s->pos);
  std::memcpy(out, s->data->data() + s->pos, k);
  s->pos += k;
  return static_cast<int>(k);
}

// Every frame's size from its image descriptor, walked over the file's blocks before giflib
// allocates a raster for any of them (a frame may declare more than the logical screen).
Status CheckGifFrames(const std::string& b, uint64_t max_pixels) {
  auto u8 = [&](size_t at) { return static_cast<uint8_t>(b[at]); };
  auto u16 = [&](size_t at) { return static_cast<int64_t>(u8(at) | (u8(at + 1) << 8)); };
  size_t at = 13;
  if (b.size() < at) return Status::Corruption("GIF header is truncated");
  if (u8(10) & 0x80) at += 3u << ((u8(10) & 7) + 1);  // the global colour table
  auto skip_sub_blocks = [&]() {
    while (at < b.size() && u8(at) != 0) at += 1 + u8(at);
    ++at;
  };
  while (at < b.size()) {
    const uint8_t kind = u8(at);
    if (kind == 0x3B) break;  // trailer
    if (kind == 0x21) {       // extension: label, then sub-blocks
      at += 2;
      skip_sub_blocks();
    } else if (kind == 0x2C) {
      if (at + 10 > b.size()) break;  // giflib reports the truncation
      PETPREP_RETURN_IF_ERROR(CheckPictureSize(u16(at + 5), u16(at + 7), max_pixels, "GIF frame"));
      const uint8_t flags = u8(at + 9);
      at += 10;
      if (flags & 0x80) at += 3u << ((flags & 7) + 1);  // a local colour table
      at += 1;                                          // LZW minimum code size
      skip_sub_blocks();
    } else {
      break;  // not a block giflib reads either
    }
  }
  return Status::Ok();
}

Result<SourceImage> ReadGif(const std::string& bytes, uint64_t max_pixels) {
  GifSource src{&bytes};
  int err = 0;
  GifFileType* gif = DGifOpen(&src, ReadGifBytes, &err);
  if (!gif) return Status::Corruption(std::string("GIF cannot be opened: ") + GifErrorString(err));
  // The logical screen, from the header, before a frame is read.
  Status fits = CheckPictureSize(gif->SWidth, gif->SHeight, max_pixels, "GIF");
  if (fits.ok()) fits = CheckGifFrames(bytes, max_pixels);
  if (!fits.ok()) {
    DGifCloseFile(gif, &err);
    return fits;
  }
  if (DGifSlurp(gif) != GIF_OK || gif->ImageCount < 1 || gif->SWidth <= 0 || gif->SHeight <= 0) {
    DGifCloseFile(gif, &err);
    return Status::Corruption("GIF cannot be decoded");
  }
  const SavedImage& frame = gif->SavedImages[0];
  const ColorMapObject* map = frame.ImageDesc.ColorMap ? frame.ImageDesc.ColorMap : gif->SColorMap;
  if (!map) {
    DGifCloseFile(gif, &err);
    return Status::Corruption("GIF has no colour map");
  }
  SourceImage out;
  out.width = gif->SWidth;
  out.height = gif->SHeight;
  out.rgb = Image(gif->SWidth, gif->SHeight, 3);
  const GifColorType bg = gif->SColorMap && gif->SBackGroundColor < gif->SColorMap->ColorCount
                              ? gif->SColorMap->Colors[gif->SBackGroundColor]
                              : GifColorType{0, 0, 0};
  for (size_t i = 0; i < out.rgb.data.size(); i += 3) {
    out.rgb.data[i] = bg.Red;
    out.rgb.data[i + 1] = bg.Green;
    out.rgb.data[i + 2] = bg.Blue;
  }
  const GifImageDesc& d = frame.ImageDesc;
  for (int y = 0; y < d.Height; ++y) {
    int ty = d.Top + y;
    if (ty < 0 || ty >= gif->SHeight) continue;
    for (int x = 0; x < d.Width; ++x) {
      int tx = d.Left + x;
      if (tx < 0 || tx >= gif->SWidth) continue;
      int idx = frame.RasterBits[static_cast<size_t>(y) * d.Width + x];
      if (idx >= map->ColorCount) continue;
      uint8_t* p = out.rgb.at(tx, ty);
      p[0] = map->Colors[idx].Red;
      p[1] = map->Colors[idx].Green;
      p[2] = map->Colors[idx].Blue;
    }
  }
  out.defects.push_back({"gif_as_jpg", "a GIF named .jpg (" + std::to_string(gif->ImageCount) +
                                           " frame" + (gif->ImageCount == 1 ? "" : "s") +
                                           "; the first is kept)"});
  DGifCloseFile(gif, &err);
  return out;
}

}  // namespace

Result<SourceImage> ReadSourceImage(const std::string& bytes, uint64_t max_pixels) {
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
      static_cast<uint8_t>(bytes[1]) == 0xD8) {
    return ReadJpeg(bytes, max_pixels);
  }
  if (bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    return ReadPng(bytes, max_pixels);
  }
  if (bytes.size() >= 6 && bytes.compare(0, 4, "GIF8") == 0) return ReadGif(bytes, max_pixels);
  return Status::Corruption("not a JPEG, PNG or GIF (" + std::to_string(bytes.size()) + " bytes)");
}

Result<SourceMask> ReadTrimap(const std::string& bytes, int width, int height,
                              uint64_t max_pixels) {
  auto png = DecodeAnyPng(bytes, max_pixels);
  if (!png.ok() && png.status().code() == Status::Code::kInvalidArgument) return png.status();
  if (!png.ok()) return Status::Corruption("trimap cannot be decoded: " + png.status().message());
  if (png->wide) return Status::Corruption("trimap is not 8-bit");
  SourceMask out;
  const int ch = png->channels;
  const int first = 0;  // red, the file's first channel
  if (ch == 3 || ch == 4) {
    out.defects.push_back({ch == 4 ? "rgba_trimap" : "rgb_trimap",
                           std::to_string(ch) + " channels; the first is used"});
  }
  const int cols = png->width, rows = png->height;
  if (cols != width || rows != height) {
    out.defects.push_back(
        {"trimap_size_mismatch", std::to_string(cols) + "x" + std::to_string(rows) +
                                     " resized nearest-neighbour to the image's " +
                                     std::to_string(width) + "x" + std::to_string(height)});
  }
  out.classes = Image(width, height, 1);
  std::vector<int> offset(width);  // byte offset of each output column in a source row
  for (int x = 0; x < width; ++x) {
    offset[x] = static_cast<int>(static_cast<int64_t>(x) * cols / width) * ch + first;
  }
  uint64_t bad = 0;
  for (int y = 0; y < height; ++y) {
    int sy = static_cast<int>(static_cast<int64_t>(y) * rows / height);
    const uint8_t* src = png->data.data() + static_cast<size_t>(sy) * cols * ch;
    uint8_t* dst = out.classes.row(y);
    for (int x = 0; x < width; ++x) {
      uint8_t v = src[offset[x]];
      if (v >= 1 && v <= 3) {
        dst[x] = static_cast<uint8_t>(v - 1);
      } else {
        dst[x] = 2;
        ++bad;
      }
    }
  }
  if (bad > 0) {
    out.defects.push_back({"trimap_bad_values",
                           std::to_string(bad) + " pixels outside 1..3 set to class 2 (border)"});
  }
  return out;
}

Result<Image> DecodePicture(const std::string& bytes, uint64_t max_pixels) {
  auto src = ReadSourceImage(bytes, max_pixels);
  if (!src.ok()) return src.status();
  if (!src->rgb.empty()) return std::move(src->rgb);
  return DecodeJpeg(bytes, max_pixels);  // a clean JPEG: ReadSourceImage keeps its bytes, undecoded
}

}  // namespace petprep
