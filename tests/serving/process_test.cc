// The real `chatterd serve` process, as an operator runs it: the start-up banner (effective
// configuration), settings from --config FILE, the environment and flags in their precedence, a
// bad config file stopping start-up, and SIGTERM with a streamed response in flight (the stream
// completes, the process exits 0 within the shutdown deadline).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixture_dirs.h"
#include "serving/http_client.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawn

namespace chatterd::serving {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// `chatterd ARGS...` with its stderr captured by a reader thread. The destructor kills and reaps
// a process the test left running, so a failed assertion never leaks a server.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
    int fds[2];
    // Close-on-exec: other children (curl in ServingCurl) must not inherit it; dup2 onto the
    // child's stderr clears the flag there.
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::strerror(errno));
    std::vector<std::string> argv_s{CHATTERD_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    // The test's own CHATTERD_* variables must not leak into the server's settings.
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "CHATTERD_", 9) != 0) env_s.emplace_back(*e);
    }
    env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> argv, envp;
    for (std::string& s : argv_s) argv.push_back(s.data());
    for (std::string& s : env_s) envp.push_back(s.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
    }
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      ssize_t n = 0;
      while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        const std::lock_guard lock(mutex_);
        if (n > 0) log_.append(buf, static_cast<std::size_t>(n));
        grew_.notify_all();
      }
      close(fd);
      const std::lock_guard lock(mutex_);
      eof_ = true;
      grew_.notify_all();
    });
  }
  ~ServeProcess() {
    if (!exit_status_) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    reader_.join();  // the pipe reaches EOF once the process is gone
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Waits until stderr matches `pattern` (or EOF / `limit`); the first group's text, if any.
  std::optional<std::string> wait_for_log(const std::regex& pattern, milliseconds limit) {
    std::unique_lock lock(mutex_);
    std::smatch m;
    const bool found =
        grew_.wait_for(lock, limit, [&] { return std::regex_search(log_, m, pattern) || eof_; });
    if (!found || !std::regex_search(log_, m, pattern)) return std::nullopt;
    return m.size() > 1 ? m[1].str() : m[0].str();
  }
  std::string log() {
    const std::lock_guard lock(mutex_);
    return log_;
  }
  // The port from "listening on http://HOST:PORT" (0 when it never came).
  std::uint16_t wait_listening() {
    const auto port =
        wait_for_log(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"), seconds(60));
    return port ? static_cast<std::uint16_t>(std::stoi(*port)) : 0;
  }
  // The effective configuration printed at start-up: "key = value" lines.
  std::map<std::string, std::string> banner() {
    std::map<std::string, std::string> out;
    static const std::regex kLine(R"(^([a-z_0-9]+) = (.*)$)");
    std::istringstream in(log());
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_match(line, m, kLine)) out[m[1]] = m[2];
    }
    return out;
  }
  void signal(int signo) const { kill(pid_, signo); }
  // The exit code (128 + signal when killed by one), or nullopt if still running at `limit`.
  std::optional<int> wait_exit(milliseconds limit) {
    const auto end = Clock::now() + limit;
    while (!exit_status_) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (Clock::now() >= end) {
        return std::nullopt;
      } else {
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable grew_;
  std::string log_;
  bool eof_ = false;
};

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// Settings from all three sources, each key won by its documented source (defaults < file <
// CHATTERD_* environment < flags), as printed in the banner and as the running server reports.
TEST(ServeProcess, ConfigFileEnvironmentAndFlagsInTheBanner) {
  const std::string config =
      temp_file("chatterd_serve_config.json",
                R"({"model": "espeak", "port": 0, "threads": 1, "max_queue": 3, "max_streams": 5,)"
                R"( "max_contexts": 9, "chunk_size": 40, "shutdown_grace": 4})");
  ServeProcess p({"serve", "--config", config, "--max-contexts", "12"},
                 {"CHATTERD_MAX_STREAMS=6", "CHATTERD_MAX_CONTEXTS=11"});
  const std::uint16_t port = p.wait_listening();
  ASSERT_NE(port, 0) << p.log();
  const std::map<std::string, std::string> b = p.banner();
  EXPECT_EQ(b.at("max_queue"), "3") << p.log();      // file
  EXPECT_EQ(b.at("chunk_size"), "40") << p.log();    // file
  EXPECT_EQ(b.at("max_streams"), "6") << p.log();    // environment over file
  EXPECT_EQ(b.at("max_contexts"), "12") << p.log();  // flag over environment over file
  EXPECT_EQ(b.at("max_text_chars"), "5000");         // default
  EXPECT_EQ(b.at("port"), std::to_string(port));     // the port actually bound
  EXPECT_EQ(b.at("api_key"), "unset");
  const auto status =
      nlohmann::json::parse(testing::request(port, http::verb::get, "/optimization-status").body);
  EXPECT_EQ(status["config"]["max_queue"], 3) << status.dump();
  EXPECT_EQ(status["config"]["max_streams"], 6) << status.dump();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(seconds(20)), 0) << p.log();
}

TEST(ServeProcess, BadConfigFileStopsStartUpNamingTheProblem) {
  const std::string config =
      temp_file("chatterd_serve_bad_config.json", R"({"model": "espeak", "max_qeue": 3})");
  ServeProcess p({"serve", "--config", config, "--port", "0"}, {});
  const std::optional<int> code = p.wait_exit(seconds(30));
  ASSERT_TRUE(code.has_value()) << "still running:\n" << p.log();
  EXPECT_NE(*code, 0);
  const std::string log = p.log();
  EXPECT_NE(log.find("max_qeue"), std::string::npos) << log;
  EXPECT_NE(log.find(config), std::string::npos) << log;
  EXPECT_EQ(log.find("listening on"), std::string::npos) << log;
}

// SIGTERM while a streamed response is being written: the server stops accepting, lets the
// admitted synthesis finish within shutdown_grace, completes the chunked body (terminating chunk
// included) and exits 0 within grace + 1 s (docs/api.md, Shutdown). The signal goes out as soon
// as the first audio arrived; the request (~120 tokens) takes ~0.2 s in Release, so the
// synthesis is normally still running then. The grace is generous so that a slow sanitizer build
// never cancels it; a normal run exits ~0.1 s after the signal.
TEST(ServeProcess, SigtermLetsAStreamFinishAndExitsZero) {
  constexpr int kGraceSeconds = 20;
  constexpr int kExitSlackSeconds = 2;  // process teardown on a loaded machine
  ServeProcess p({"serve", "--model", test::kTurboTinyDir.string(), "--port", "0", "--threads", "1",
                  "--shutdown-grace", std::to_string(kGraceSeconds)},
                 {});
  const std::uint16_t port = p.wait_listening();
  ASSERT_NE(port, 0) << p.log();
  EXPECT_EQ(p.banner().at("shutdown_grace"), std::to_string(kGraceSeconds));

  // The same request not streamed first: the streamed body must come out as long.
  const std::string kBody =
      R"({"text":"A long streamed answer that is still being made.","response_format":"pcm",)"
      R"("seed":1,"max_speech_tokens":200,"chunk_size":25,"first_chunk_size":10)";
  const testing::Reply whole = testing::request(port, http::verb::post, "/synthesize", kBody + "}");
  ASSERT_EQ(whole.status, 200) << whole.body;
  net::io_context ioc;
  tcp::socket socket = testing::connect(port, ioc);
  // A safety net for the blocking reads below: a hung server fails the test, not the suite.
  const timeval tv{30, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  testing::send_request(socket, http::verb::post, "/synthesize", kBody + R"(,"streaming":true})");
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256u << 20);
  std::size_t bytes = 0;
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_body =
      [&](std::uint64_t, beast::string_view data, beast::error_code&) {
        bytes += data.size();
        return data.size();
      };
  parser.on_chunk_body(on_body);
  beast::error_code ec;
  http::read_header(socket, buffer, parser, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(parser.get().result_int(), 200u);
  while (bytes == 0 && !ec && !parser.is_done()) http::read_some(socket, buffer, parser, ec);
  ASSERT_FALSE(ec) << ec.message();
  const std::size_t bytes_at_signal = bytes;
  const auto signalled = Clock::now();
  p.signal(SIGTERM);
  // A stalled test thread could find the whole body read already; say so rather than fail.
  if (parser.is_done()) std::printf("note: the body was complete before SIGTERM\n");
  if (!parser.is_done()) http::read(socket, buffer, parser, ec);  // to the terminating chunk
  EXPECT_FALSE(ec) << "the stream did not complete: " << ec.message();
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(bytes % 2, 0u);
  EXPECT_EQ(bytes, whole.body.size()) << "audio lost in the shutdown";
  const std::optional<int> code = p.wait_exit(seconds(kGraceSeconds + 1 + kExitSlackSeconds));
  ASSERT_TRUE(code.has_value()) << "still running after the shutdown deadline:\n" << p.log();
  const double took = std::chrono::duration<double>(Clock::now() - signalled).count();
  std::printf("SIGTERM: %zu of %zu bytes streamed after it; exit %d after %.2f s\n",
              bytes - bytes_at_signal, bytes, *code, took);
  EXPECT_EQ(*code, 0) << p.log();
  const std::string log = p.log();
  EXPECT_NE(log.find("signal 15: shutting down"), std::string::npos) << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;
}

}  // namespace
}  // namespace chatterd::serving
