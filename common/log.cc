#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <memory>

namespace tandem::log {
namespace {

std::atomic<level> g_level{level::info};

spdlog::logger& logger() {
  // stderr, so a tool's stdout stays clean for its output. Pattern: ISO time, level, text.
  static std::shared_ptr<spdlog::logger> l = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto lg = std::make_shared<spdlog::logger>("tandem", sink);
    lg->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    lg->set_level(spdlog::level::trace);
    lg->flush_on(spdlog::level::trace);
    return lg;
  }();
  return *l;
}

spdlog::level::level_enum to_spdlog(level l) {
  switch (l) {
    case level::trace: return spdlog::level::trace;
    case level::debug: return spdlog::level::debug;
    case level::info: return spdlog::level::info;
    case level::warn: return spdlog::level::warn;
    case level::error: return spdlog::level::err;
    case level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

bool parse_level(std::string_view text, level& out) {
  static constexpr std::pair<std::string_view, level> names[] = {
      {"trace", level::trace}, {"debug", level::debug}, {"info", level::info},
      {"warn", level::warn},   {"error", level::error}, {"off", level::off}};
  for (auto& [name, l] : names) {
    if (text == name) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_level(level l) { g_level.store(l); }
level current_level() { return g_level.load(std::memory_order_relaxed); }

void write(level l, std::string_view component, std::string_view message) {
  if (l < current_level() || l == level::off) return;
  logger().log(to_spdlog(l), "{}: {}", component, message);
}

}  // namespace tandem::log
