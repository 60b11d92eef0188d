#pragma once
// A STOMP frame and the protocol versions (STOMP 1.0, 1.1, 1.2).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::stomp {

enum class version { v1_0, v1_1, v1_2 };
std::string_view to_string(version v);  // "1.0", "1.1", "1.2"

struct frame {
  std::string command;
  // In wire order. A repeated header keeps every occurrence; find() returns the first,
  // which is the one that counts (STOMP 1.2 §"Repeated Header Entries").
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  const std::string* find(std::string_view key) const;
  std::string_view get(std::string_view key, std::string_view fallback = {}) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Replaces the first occurrence or appends.
  void set(std::string_view key, std::string_view value);
  void add(std::string key, std::string value) { headers.emplace_back(std::move(key), std::move(value)); }
  void erase(std::string_view key);  // every occurrence
};

// Commands a client may send / a server may send.
bool is_client_command(std::string_view command);
bool is_server_command(std::string_view command);

}  // namespace tandem::stomp
