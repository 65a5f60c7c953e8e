#pragma once
// What a benchmark result records about the machine and the process: CPU model, cores, memory,
// the SIMD ISA the kernels use, and the process's resident memory (Linux /proc).

#include <cstdint>
#include <string>
#include <vector>

namespace chatterd::bench {

struct MachineInfo {
  std::string cpu_model;              // /proc/cpuinfo "model name"; "unknown" when unreadable
  int logical_cores = 0;              // std::thread::hardware_concurrency()
  std::int64_t memory_total_kib = 0;  // /proc/meminfo MemTotal; 0 when unreadable
  std::string isa;                    // the ISA the CPU kernels use (CHATTERD_CPU_ISA applied)
  std::vector<std::string> isas_supported;
  std::string os;  // uname sysname + release
};

MachineInfo read_machine_info();

struct MemoryUsage {
  std::int64_t rss_kib = 0;  // VmRSS: resident now
  std::int64_t hwm_kib = 0;  // VmHWM: the resident high-water mark
};

// From /proc/self/status; zeros when unreadable (non-Linux).
MemoryUsage read_memory_usage();

// Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs, Linux >= 4.0) so that a
// later read gives the peak of what ran in between. False when the kernel refused.
bool reset_peak_memory();

// The process's resident set now, in bytes (/proc/self/statm's second field x the page size);
// 0 when unreadable (non-Linux). Cheap (one small read), so the engine samples it at the end of
// every segment of every stage: its scratch buffers are kept and reused between calls, so the
// resident set at the end of a segment is the segment's high-water mark to within what it freed,
// and streaming interleaves the stages chunk by chunk, which rules out resetting VmHWM per stage.
std::int64_t resident_bytes();
// peak = max(peak, resident_bytes()): where a stage segment ends.
void raise_to_resident(std::int64_t& peak);

// CPU time (user + system) of the whole process, all threads, in milliseconds.
double process_cpu_ms();

}  // namespace chatterd::bench
