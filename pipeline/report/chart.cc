#include "pipeline/report/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace petprep {

namespace {

constexpr int kLeft = 64, kRight = 16, kTop = 34, kBottom = 46;
constexpr int kLegendRow = 15, kLegendWidth = 150;

// Where the legend's first entry goes: the line's left end (x) and its height (y).
std::pair<int, int> LegendOrigin(const Chart& c) {
  const int rows = static_cast<int>(c.series.size());
  switch (c.legend) {
    case Chart::Legend::kTopLeft:
      return {kLeft + 12, kTop + 10};
    case Chart::Legend::kBottomRight:
      return {c.width - kRight - kLegendWidth, c.height - kBottom - 10 - kLegendRow * (rows - 1)};
    case Chart::Legend::kTopRight:
      break;
  }
  return {c.width - kRight - kLegendWidth, kTop + 4};
}

struct Frame {
  double x_lo, x_hi, y_lo, y_hi;
  int w, h;
  double X(double x) const { return kLeft + (x - x_lo) / (x_hi - x_lo) * (w - kLeft - kRight); }
  double Y(double y) const {
    return h - kBottom - (y - y_lo) / (y_hi - y_lo) * (h - kTop - kBottom);
  }
};

Frame FrameOf(const Chart& c) {
  Frame f{c.x_lo, c.x_hi, c.y_lo, c.y_hi, c.width, c.height};
  const bool auto_x = c.x_lo == c.x_hi, auto_y = c.y_lo == c.y_hi;
  double xl = 1e300, xh = -1e300, yl = 1e300, yh = -1e300;
  for (const ChartSeries& s : c.series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xl = std::min(xl, x);
      xh = std::max(xh, x);
      yl = std::min(yl, y);
      yh = std::max(yh, y);
    }
  }
  if (xl > xh) xl = 0, xh = 1, yl = 0, yh = 1;
  if (auto_x) f.x_lo = xl, f.x_hi = xh;
  if (auto_y) {
    f.y_lo = yl > 0 ? 0 : yl;
    f.y_hi = yh;
  }
  if (f.x_hi <= f.x_lo) f.x_hi = f.x_lo + 1;
  if (f.y_hi <= f.y_lo) f.y_hi = f.y_lo + 1;
  if (auto_y) f.y_hi += (f.y_hi - f.y_lo) * 0.05;
  return f;
}

// About five round tick values over [lo, hi].
std::vector<double> Ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    t.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return t;
}

std::string Label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

cv::Scalar Bgr(const std::string& hex) {
  const long v = hex.size() == 7 ? std::strtol(hex.c_str() + 1, nullptr, 16) : 0;
  return cv::Scalar(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
}

}  // namespace

std::string EscapeMarkup(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string ChartSvg(const Chart& c) {
  const Frame f = FrameOf(c);
  char buf[256];
  std::string s;
  std::snprintf(
      buf, sizeof buf,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
      "%d %d\" font-family=\"sans-serif\" font-size=\"11\">",
      c.width, c.height, c.width, c.height);
  s += buf;
  s += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>";
  s += "<text x=\"" + std::to_string(kLeft) + "\" y=\"18\" font-size=\"13\" font-weight=\"bold\">" +
       EscapeMarkup(c.title) + "</text>";
  for (double t : Ticks(f.y_lo, f.y_hi)) {
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
                  kLeft, c.width - kRight, f.Y(t), f.Y(t), kLeft - 5, f.Y(t) + 4);
    s += buf + EscapeMarkup(Label(t)) + "</text>";
  }
  for (double t : Ticks(f.x_lo, f.x_hi)) {
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", f.X(t),
                  c.height - kBottom + 15);
    s += buf + EscapeMarkup(Label(t)) + "</text>";
  }
  std::snprintf(buf, sizeof buf,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>"
                "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>",
                kLeft, c.width - kRight, c.height - kBottom, c.height - kBottom, kLeft, kLeft, kTop,
                c.height - kBottom);
  s += buf;
  std::snprintf(buf, sizeof buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                (kLeft + c.width - kRight) / 2, c.height - 10);
  s += buf + EscapeMarkup(c.x_label) + "</text>";
  std::snprintf(buf, sizeof buf,
                "<text transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\">",
                (kTop + c.height - kBottom) / 2);
  s += buf + EscapeMarkup(c.y_label) + "</text>";
  auto [legend_x, legend_y] = LegendOrigin(c);
  for (const ChartSeries& series : c.series) {
    std::string pts;
    for (const auto& [x, y] : series.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", f.X(x), f.Y(y));
      pts += buf;
    }
    s += "<polyline fill=\"none\" stroke=\"" + series.color + "\" stroke-width=\"1.6\"" +
         (series.dashed ? " stroke-dasharray=\"5 4\"" : "") + " points=\"" + pts + "\"/>";
    if (series.markers) {
      for (const auto& [x, y] : series.points) {
        if (!std::isfinite(x) || !std::isfinite(y)) continue;
        std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                      f.X(x), f.Y(y), series.color.c_str());
        s += buf;
      }
    }
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                  "<text x=\"%d\" y=\"%d\">",
                  legend_x, legend_x + 18, legend_y, legend_y, series.color.c_str(), legend_x + 24,
                  legend_y + 4);
    s += buf + EscapeMarkup(series.name) + "</text>";
    legend_y += kLegendRow;
  }
  s += "</svg>";
  return s;
}

Image ChartImage(const Chart& c) {
  const Frame f = FrameOf(c);
  cv::Mat m(c.height, c.width, CV_8UC3, cv::Scalar(255, 255, 255));
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar ink(51, 51, 51);
  auto text = [&](const std::string& t, int x, int y, double scale, int align) {
    int base = 0;
    const cv::Size size = cv::getTextSize(t, font, scale, 1, &base);
    const int at = align == 0 ? x : align == 1 ? x - size.width / 2 : x - size.width;
    cv::putText(m, t, cv::Point(at, y), font, scale, ink, 1, cv::LINE_AA);
  };
  text(c.title, kLeft, 20, 0.5, 0);
  for (double t : Ticks(f.y_lo, f.y_hi)) {
    const int y = static_cast<int>(std::lround(f.Y(t)));
    cv::line(m, {kLeft, y}, {c.width - kRight, y}, cv::Scalar(229, 229, 229), 1);
    text(Label(t), kLeft - 5, y + 4, 0.35, 2);
  }
  for (double t : Ticks(f.x_lo, f.x_hi)) {
    text(Label(t), static_cast<int>(std::lround(f.X(t))), c.height - kBottom + 15, 0.35, 1);
  }
  cv::line(m, {kLeft, c.height - kBottom}, {c.width - kRight, c.height - kBottom}, ink, 1);
  cv::line(m, {kLeft, kTop}, {kLeft, c.height - kBottom}, ink, 1);
  text(c.x_label, (kLeft + c.width - kRight) / 2, c.height - 10, 0.4, 1);
  auto [legend_x, legend_y] = LegendOrigin(c);
  for (const ChartSeries& s : c.series) {
    std::vector<cv::Point> pts;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      pts.emplace_back(static_cast<int>(std::lround(f.X(x))),
                       static_cast<int>(std::lround(f.Y(y))));
    }
    const cv::Scalar color = Bgr(s.color);
    for (size_t i = 1; i < pts.size(); ++i) {
      if (s.dashed && i % 2 == 0) continue;
      cv::line(m, pts[i - 1], pts[i], color, 1, cv::LINE_AA);
    }
    if (s.markers) {
      for (const cv::Point& p : pts) cv::circle(m, p, 3, color, cv::FILLED, cv::LINE_AA);
    }
    cv::line(m, {legend_x, legend_y}, {legend_x + 18, legend_y}, color, 2);
    text(s.name, legend_x + 24, legend_y + 4, 0.35, 0);
    legend_y += kLegendRow;
  }
  Image out(c.width, c.height, 3);
  for (int y = 0; y < c.height; ++y) {
    const uint8_t* src = m.ptr<uint8_t>(y);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < c.width; ++x) {
      dst[3 * x] = src[3 * x + 2];
      dst[3 * x + 1] = src[3 * x + 1];
      dst[3 * x + 2] = src[3 * x];
    }
  }
  return out;
}

}  // namespace petprep
