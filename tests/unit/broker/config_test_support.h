#pragma once
// Shared by the configuration tests.

#include <catch2/catch.hpp>

#include <string>

#include "broker/config.h"

namespace tandem::broker::test {

// The message of the config_error that parsing `text` (as file `name`) throws; fails the
// test if it parses.
inline std::string config_error_of(const std::string& text, const std::string& name = "node-1.yaml") {
  try {
    parse_config(text, name);
  } catch (const config_error& e) {
    return e.what();
  }
  FAIL("expected a config_error for:\n" << text);
  return {};
}

}  // namespace tandem::broker::test
