#include "pipeline/system_info.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "backends/cpu/cpu_features.h"

namespace chatterd::bench {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The value after "key:" on the first line starting with `key` in a /proc text file.
std::string proc_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  }
  return {};
}

std::int64_t kib_value(const std::string& v) {  // "123456 kB"
  std::istringstream in(v);
  std::int64_t n = 0;
  in >> n;
  return in ? n : 0;
}

}  // namespace

MachineInfo read_machine_info() {
  MachineInfo m;
  m.cpu_model = proc_field("/proc/cpuinfo", "model name");
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  m.logical_cores = static_cast<int>(std::thread::hardware_concurrency());
  m.memory_total_kib = kib_value(proc_field("/proc/meminfo", "MemTotal"));
  m.isa = std::string(cpu::isa_name(cpu::default_isa()));
  for (const cpu::CpuIsa isa : cpu::supported_isas()) {
    m.isas_supported.emplace_back(cpu::isa_name(isa));
  }
  utsname u{};
  if (uname(&u) == 0) m.os = std::string(u.sysname) + " " + u.release;
  return m;
}

MemoryUsage read_memory_usage() {
  MemoryUsage u;
  u.rss_kib = kib_value(proc_field("/proc/self/status", "VmRSS"));
  u.hwm_kib = kib_value(proc_field("/proc/self/status", "VmHWM"));
  return u;
}

void raise_to_resident(std::int64_t& peak) {
  peak = std::max(peak, resident_bytes());
}

std::int64_t resident_bytes() {
  // open/read/close rather than a stream: a few microseconds, called several times per chunk.
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::array<char, 128> buf{};
  const ssize_t n = ::read(fd, buf.data(), buf.size() - 1);
  ::close(fd);
  if (n <= 0) return 0;
  long long size_pages = 0;
  long long resident_pages = 0;
  if (std::sscanf(buf.data(), "%lld %lld", &size_pages, &resident_pages) != 2) return 0;
  const long page_bytes = ::sysconf(_SC_PAGESIZE);
  return page_bytes > 0 ? static_cast<std::int64_t>(resident_pages) * page_bytes : 0;
}

bool reset_peak_memory() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double process_cpu_ms() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  const auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1000.0 + static_cast<double>(t.tv_usec) / 1000.0;
  };
  return ms(r.ru_utime) + ms(r.ru_stime);
}

}  // namespace chatterd::bench
