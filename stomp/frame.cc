#include "stomp/frame.h"

#include <algorithm>
#include <array>

namespace tandem::stomp {

std::string_view to_string(version v) {
  switch (v) {
    case version::v1_0: return "1.0";
    case version::v1_1: return "1.1";
    case version::v1_2: return "1.2";
  }
  return "?";
}

const std::string* frame::find(std::string_view key) const {
  for (const auto& [k, v] : headers)
    if (k == key) return &v;
  return nullptr;
}

std::string_view frame::get(std::string_view key, std::string_view fallback) const {
  const std::string* v = find(key);
  return v ? std::string_view(*v) : fallback;
}

void frame::set(std::string_view key, std::string_view value) {
  for (auto& [k, v] : headers) {
    if (k == key) {
      v.assign(value);
      return;
    }
  }
  headers.emplace_back(std::string(key), std::string(value));
}

void frame::erase(std::string_view key) {
  std::erase_if(headers, [key](const auto& h) { return h.first == key; });
}

bool is_client_command(std::string_view command) {
  static constexpr std::array<std::string_view, 11> commands = {
      "CONNECT", "STOMP", "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK",
      "NACK", "BEGIN", "COMMIT", "ABORT", "DISCONNECT"};
  return std::find(commands.begin(), commands.end(), command) != commands.end();
}

bool is_server_command(std::string_view command) {
  static constexpr std::array<std::string_view, 4> commands = {"CONNECTED", "MESSAGE", "RECEIPT",
                                                               "ERROR"};
  return std::find(commands.begin(), commands.end(), command) != commands.end();
}

}  // namespace tandem::stomp
