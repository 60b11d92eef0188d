#pragma once
// Structured logging: one line per event, `ts level component message key=value...`.
// Thread-safe. Components name themselves ("journal", "stomp", "broker", "lease").
//
//   log::info("journal", "recovered {} messages in {} ms", n, ms);

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string_view>

namespace tandem::log {

enum class level { trace, debug, info, warn, error, off };

// Parses "trace|debug|info|warn|error|off"; returns false for anything else.
bool parse_level(std::string_view text, level& out);
void set_level(level l);
level current_level();

void write(level l, std::string_view component, std::string_view message);

template <typename... Args>
void emit(level l, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (l < current_level()) return;
  write(l, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void trace(std::string_view c, fmt::format_string<Args...> f, Args&&... a) { emit(level::trace, c, f, std::forward<Args>(a)...); }
template <typename... Args>
void debug(std::string_view c, fmt::format_string<Args...> f, Args&&... a) { emit(level::debug, c, f, std::forward<Args>(a)...); }
template <typename... Args>
void info(std::string_view c, fmt::format_string<Args...> f, Args&&... a) { emit(level::info, c, f, std::forward<Args>(a)...); }
template <typename... Args>
void warn(std::string_view c, fmt::format_string<Args...> f, Args&&... a) { emit(level::warn, c, f, std::forward<Args>(a)...); }
template <typename... Args>
void error(std::string_view c, fmt::format_string<Args...> f, Args&&... a) { emit(level::error, c, f, std::forward<Args>(a)...); }

}  // namespace tandem::log
