// Tracer: Chrome trace-event JSON that parses, names threads apart, escapes names, stays bounded.
#include "core/trace.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "chatterd/core/error.h"

namespace chatterd {
namespace {

using std::chrono::microseconds;

TEST(Tracer, WritesCompleteEventsThatParse) {
  Tracer tracer;
  const auto t0 = Tracer::Clock::now();
  tracer.complete("t3.decode", "t3", t0, t0 + microseconds(1500), {{"batch", 4}, {"step", 17}});
  { TraceSpan span(&tracer, "hift", "vocoder"); }
  const nlohmann::json j = nlohmann::json::parse(tracer.to_json());
  ASSERT_EQ(j["traceEvents"].size(), 2u);
  const auto& e = j["traceEvents"][0];
  EXPECT_EQ(e["name"], "t3.decode");
  EXPECT_EQ(e["cat"], "t3");
  EXPECT_EQ(e["ph"], "X");
  EXPECT_EQ(e["dur"], 1500);
  EXPECT_GE(e["ts"].get<std::int64_t>(), 0);
  EXPECT_EQ(e["args"]["batch"], 4);
  EXPECT_EQ(e["args"]["step"], 17);
  EXPECT_EQ(j["traceEvents"][1]["name"], "hift");
  EXPECT_EQ(j["otherData"]["dropped"], 0);
}

TEST(Tracer, EscapesNamesAndReplacesNonFiniteArgs) {
  Tracer tracer;
  const auto t0 = Tracer::Clock::now();
  tracer.complete("a \"quoted\"\\name\n\x01", "c", t0, t0,
                  {{"nan", std::numeric_limits<double>::quiet_NaN()}});
  const nlohmann::json j = nlohmann::json::parse(tracer.to_json());
  EXPECT_EQ(j["traceEvents"][0]["name"], "a \"quoted\"\\name\n\x01");
  EXPECT_TRUE(j["traceEvents"][0]["args"]["nan"].is_null());
}

TEST(Tracer, ThreadsGetDistinctSmallIds) {
  Tracer tracer;
  const auto t0 = Tracer::Clock::now();
  tracer.complete("main", "x", t0, t0);
  std::thread([&] { tracer.complete("other", "x", t0, t0); }).join();
  const auto events = tracer.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].thread, 0);
  EXPECT_EQ(events[1].thread, 1);
}

TEST(Tracer, DropsBeyondItsBoundAndCountsThem) {
  Tracer tracer(3);
  const auto t0 = Tracer::Clock::now();
  for (int i = 0; i < 10; ++i) tracer.complete("e", "x", t0, t0);
  EXPECT_EQ(tracer.events().size(), 3u);
  EXPECT_EQ(tracer.dropped(), 7u);
  EXPECT_EQ(nlohmann::json::parse(tracer.to_json())["otherData"]["dropped"], 7);
}

TEST(Tracer, WriteNamesAnUnwritablePath) {
  Tracer tracer;
  try {
    tracer.write("/nonexistent-dir/trace.json");
    ADD_FAILURE() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/trace.json"), std::string::npos);
  }
  const auto path = std::filesystem::temp_directory_path() / "chatterd_trace_test.json";
  tracer.write(path);
  EXPECT_TRUE(std::filesystem::exists(path));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace chatterd
