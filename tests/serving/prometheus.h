#pragma once
// A strict reader of the Prometheus text exposition (0.0.4) for the serving tests: every sample
// must belong to a family announced by HELP and TYPE lines, histogram buckets must be cumulative
// and end in +Inf == _count. Problems are gtest failures naming the line.

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace chatterd::serving::testing {

struct PromSample {
  std::string name;                           // chatterd_x_bucket
  std::map<std::string, std::string> labels;  // without quotes
  double value = 0.0;
};

struct Exposition {
  std::map<std::string, std::string> type;  // family -> counter | gauge | histogram
  std::map<std::string, std::string> help;
  std::vector<PromSample> samples;

  // The value of the sample `name` whose labels include `labels`; -1 when absent.
  double value(const std::string& name,
               const std::map<std::string, std::string>& labels = {}) const {
    for (const PromSample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        const auto it = s.labels.find(k);
        match = match && it != s.labels.end() && it->second == v;
      }
      if (match) return s.value;
    }
    return -1.0;
  }
  // A histogram's _count for a label set (-1 when absent).
  double count(const std::string& family,
               const std::map<std::string, std::string>& labels = {}) const {
    return value(family + "_count", labels);
  }
};

inline std::string prom_family(const std::string& name,
                               const std::map<std::string, std::string>& type) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      const auto it = type.find(base);
      if (it != type.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

inline Exposition parse_exposition(const std::string& text) {
  Exposition e;
  static const std::regex kMeta(R"(^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([-+0-9.eE]+|\+Inf|NaN)$)");
  static const std::regex kLabel(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\"(,|$))");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.empty()) continue;
    if (std::regex_match(line, m, kMeta)) {
      (m[1] == "HELP" ? e.help : e.type)[m[2]] = m[3];
      if (m[1] == "TYPE") {
        EXPECT_TRUE(m[3] == "counter" || m[3] == "gauge" || m[3] == "histogram") << line;
        EXPECT_TRUE(e.help.count(m[2]) == 1) << "TYPE before HELP: " << line;
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "malformed exposition line: " << line;
      continue;
    }
    PromSample s;
    s.name = m[1];
    s.value = m[4] == "+Inf" ? 1e308 : std::stod(m[4]);
    const std::string labels = m[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), kLabel);
         it != std::sregex_iterator(); ++it) {
      s.labels[(*it)[1]] = (*it)[2];
    }
    const std::string family = prom_family(s.name, e.type);
    EXPECT_TRUE(e.type.count(family) == 1) << "sample without TYPE: " << line;
    if (e.type[family] == "counter") {
      EXPECT_TRUE(family.size() > 6 && family.compare(family.size() - 6, 6, "_total") == 0)
          << "counter not named _total: " << family;
    }
    e.samples.push_back(std::move(s));
  }
  // Histograms: per label set (without le), buckets non-decreasing, +Inf == _count.
  std::map<std::string, double> last_bucket;
  for (const PromSample& s : e.samples) {
    const std::string family = prom_family(s.name, e.type);
    if (e.type[family] != "histogram") continue;
    std::string key = family;
    for (const auto& [k, v] : s.labels) {
      if (k != "le") key += "," + k + "=" + v;
    }
    if (s.name == family + "_bucket") {
      EXPECT_TRUE(s.labels.count("le") == 1) << s.name;
      EXPECT_GE(s.value, last_bucket[key]) << "bucket counts must be cumulative: " << key;
      last_bucket[key] = s.value;
      if (s.labels.at("le") == "+Inf") last_bucket[key + ",inf"] = s.value;
    } else if (s.name == family + "_count") {
      EXPECT_EQ(s.value, last_bucket[key + ",inf"]) << "+Inf bucket != _count: " << key;
      last_bucket.erase(key);
    }
  }
  return e;
}

}  // namespace chatterd::serving::testing
