// Line charts for `petprep report`: one description, drawn twice — as inline SVG for the HTML
// page and as a PNG picture (OpenCV's imgproc draws the lines and the Hershey-font text) written
// beside it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "pipeline/core/image.h"

namespace petprep {

struct ChartSeries {
  std::string name;
  std::string color = "#1f77b4";  // "#rrggbb"
  std::vector<std::pair<double, double>> points;
  bool markers = false;  // a dot at each point
  bool dashed = false;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<ChartSeries> series;
  // Axis ranges; lo == hi: from the data (y from 0 when every value is positive).
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  int width = 640, height = 360;
  // The corner of the plot area the legend goes in: one the curves leave empty.
  enum class Legend { kTopRight, kTopLeft, kBottomRight } legend = Legend::kTopRight;
};

// Text for HTML and SVG: < > & " as entities.
std::string EscapeMarkup(const std::string& s);

// An <svg> element, self-contained (no external fonts or styles).
std::string ChartSvg(const Chart& chart);
// The same chart as an RGB picture of chart.width x chart.height.
Image ChartImage(const Chart& chart);

}  // namespace petprep
