#include "pipeline/bench_svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "pipeline/bench_stats.h"

namespace chatterd::bench {
namespace {

constexpr double kLeft = 170.0;  // label column
constexpr double kPlotWidth = 620.0;
constexpr double kRight = 30.0;
constexpr double kRowHeight = 90.0;
constexpr double kTop = 50.0;
constexpr const char* kLatencyColor = "#1f77b4";
constexpr const char* kTtfcColor = "#ff7f0e";

std::string header(double width, double height, const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
      "viewBox=\"0 0 {0:.0f} {1:.0f}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2:.0f}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{3}</text>\n",
      width, height, width / 2.0, xml_escape(title));
}

std::string fmt_tick(double v) {
  return fmt::format("{:g}", v);
}

// A box plot with its samples as dots, on one horizontal line at y.
std::string box_strip(const std::vector<double>& values, double y, double x0, double scale,
                      const char* color) {
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const auto x = [&](double v) { return x0 + v * scale; };
  const double q1 = percentile_sorted(sorted, 25.0);
  const double q2 = percentile_sorted(sorted, 50.0);
  const double q3 = percentile_sorted(sorted, 75.0);
  std::string s;
  s +=
      fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n",
                  x(sorted.front()), y, x(sorted.back()), y, color);
  s += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"14\" fill=\"{}\" "
      "fill-opacity=\"0.25\" stroke=\"{}\"/>\n",
      x(q1), y - 7.0, std::max(1.0, x(q3) - x(q1)), color, color);
  s += fmt::format(
      "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
      "stroke-width=\"2\"/>\n",
      x(q2), y - 7.0, y + 7.0, color);
  for (std::size_t i = 0; i < values.size(); ++i) {
    // Deterministic vertical spread so equal values stay visible.
    const double dy = (static_cast<double>(i % 5) - 2.0) * 2.0;
    s += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2\" fill=\"{}\" fill-opacity=\"0.7\"/>\n",
        x(values[i]), y + dy, color);
  }
  return s;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double max_value) {
  if (!(max_value > 0.0) || !std::isfinite(max_value)) return {0.0, 1.0};
  const double raw = max_value / 5.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (int i = 0;; ++i) {
    const double v = step * i;
    ticks.push_back(v);
    if (v >= max_value) break;
  }
  return ticks;
}

std::string latency_distribution_svg(const std::string& title,
                                     const std::vector<DistributionRow>& rows) {
  CHATTERD_CHECK(!rows.empty(), InvalidArgument, "latency plot: no rows");
  const double width = kLeft + kPlotWidth + kRight;
  const double height = kTop + kRowHeight * static_cast<double>(rows.size()) + 20.0;
  std::string s = header(width, height, title);
  s += fmt::format(
      "<rect x=\"{0:.0f}\" y=\"32\" width=\"10\" height=\"10\" fill=\"{1}\"/>"
      "<text x=\"{2:.0f}\" y=\"41\">synthesis latency</text>"
      "<rect x=\"{3:.0f}\" y=\"32\" width=\"10\" height=\"10\" fill=\"{4}\"/>"
      "<text x=\"{5:.0f}\" y=\"41\">time to first chunk</text>\n",
      kLeft, kLatencyColor, kLeft + 14.0, kLeft + 150.0, kTtfcColor, kLeft + 164.0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const DistributionRow& row = rows[i];
    CHATTERD_CHECK(!row.latency_ms.empty(), InvalidArgument, "latency plot: row '{}' is empty",
                   row.label);
    double vmax = *std::max_element(row.latency_ms.begin(), row.latency_ms.end());
    if (!row.ttfc_ms.empty()) {
      vmax = std::max(vmax, *std::max_element(row.ttfc_ms.begin(), row.ttfc_ms.end()));
    }
    const std::vector<double> ticks = nice_ticks(vmax);
    const double scale = kPlotWidth / ticks.back();
    const double y0 = kTop + kRowHeight * static_cast<double>(i);
    const double axis_y = y0 + 62.0;
    s += fmt::format("<text x=\"10\" y=\"{:.1f}\" font-weight=\"bold\">{}</text>\n", y0 + 34.0,
                     xml_escape(row.label));
    for (const double t : ticks) {
      const double x = kLeft + t * scale;
      s += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
          "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" font-size=\"10\">{4}</text>\n",
          x, y0 + 8.0, axis_y, axis_y + 12.0, fmt_tick(t));
    }
    s += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#444\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" font-size=\"10\" text-anchor=\"end\">ms</text>\n",
        kLeft, axis_y, kLeft + kPlotWidth, kLeft + kPlotWidth + 25.0, axis_y + 12.0);
    s += box_strip(row.latency_ms, y0 + 22.0, kLeft, scale, kLatencyColor);
    if (!row.ttfc_ms.empty()) s += box_strip(row.ttfc_ms, y0 + 46.0, kLeft, scale, kTtfcColor);
  }
  s += "</svg>\n";
  return s;
}

std::string ttfc_vs_concurrency_svg(const std::string& title,
                                    const std::vector<ConcurrencyPoint>& points, double target_ms) {
  CHATTERD_CHECK(!points.empty(), InvalidArgument, "TTFC plot: no points");
  constexpr double left = 70.0;
  constexpr double top = 50.0;
  constexpr double w = 560.0;
  constexpr double h = 320.0;
  const double width = left + w + 160.0;
  const double height = top + h + 50.0;
  int cmax = 1;
  double vmax = target_ms;
  for (const ConcurrencyPoint& p : points) {
    cmax = std::max(cmax, p.concurrency);
    vmax = std::max({vmax, p.p50_ms, p.p95_ms, p.p99_ms});
  }
  const std::vector<double> yt = nice_ticks(vmax);
  const std::vector<double> xt = nice_ticks(static_cast<double>(cmax));
  const auto px = [&](double c) { return left + c / xt.back() * w; };
  const auto py = [&](double v) { return top + h - v / yt.back() * h; };
  std::string s = header(width, height, title);
  for (const double t : yt) {
    s += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" font-size=\"10\">{5}</text>\n",
        left, py(t), left + w, left - 6.0, py(t) + 4.0, fmt_tick(t));
  }
  for (const double t : xt) {
    s += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"10\">{}</text>\n",
        px(t), top + h + 14.0, fmt_tick(t));
  }
  s += fmt::format(
      "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"{:.0f}\" height=\"{:.0f}\" fill=\"none\" "
      "stroke=\"#444\"/>\n"
      "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">concurrent streams</text>\n"
      "<text x=\"18\" y=\"{:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {:.1f})\">"
      "time to first chunk (ms)</text>\n",
      left, top, w, h, left + w / 2.0, top + h + 34.0, top + h / 2.0, top + h / 2.0);
  s += fmt::format(
      "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#d62728\" "
      "stroke-dasharray=\"6 4\"/>\n",
      left, py(target_ms), left + w);
  struct Series {
    const char* name;
    const char* color;
    double ConcurrencyPoint::*field;
  };
  const Series series[] = {{"p50", "#1f77b4", &ConcurrencyPoint::p50_ms},
                           {"p95", "#ff7f0e", &ConcurrencyPoint::p95_ms},
                           {"p99", "#2ca02c", &ConcurrencyPoint::p99_ms}};
  double legend_y = top + 10.0;
  for (const Series& se : series) {
    std::string pts;
    for (const ConcurrencyPoint& p : points) {
      pts += fmt::format("{:.1f},{:.1f} ", px(p.concurrency), py(p.*se.field));
    }
    s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                     pts, se.color);
    for (const ConcurrencyPoint& p : points) {
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n",
                       px(p.concurrency), py(p.*se.field), se.color);
    }
    s += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"2\"/><text x=\"{4:.1f}\" y=\"{5:.1f}\">TTFC {6}</text>\n",
        left + w + 15.0, legend_y, left + w + 40.0, se.color, left + w + 46.0, legend_y + 4.0,
        se.name);
    legend_y += 18.0;
  }
  s += fmt::format(
      "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#d62728\" "
      "stroke-dasharray=\"6 4\"/><text x=\"{3:.1f}\" y=\"{4:.1f}\">target {5:g} ms</text>\n",
      left + w + 15.0, legend_y, left + w + 40.0, left + w + 46.0, legend_y + 4.0, target_ms);
  s += "</svg>\n";
  return s;
}

}  // namespace chatterd::bench
