#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <string>

#include "broker/console_assets.h"

using namespace tandem::broker;

namespace {

// "./x.js" relative to "js/main.js" -> "js/x.js"; "/console/a.css" -> "a.css".
std::string resolve(const std::string& from, std::string target) {
  if (target.starts_with("/console/")) return target.substr(9);
  std::string dir = from.substr(0, from.rfind('/') + 1);
  if (target.starts_with("./")) target = target.substr(2);
  while (target.starts_with("../")) {
    target = target.substr(3);
    dir = dir.substr(0, dir.rfind('/', dir.size() - 2) + 1);
  }
  return dir + target;
}

}  // namespace

TEST_CASE("the console's files are embedded with their content types and validators") {
  const console_asset* index = find_console_asset("index.html");
  REQUIRE(index != nullptr);
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(index->bytes.find("<!doctype html>") == 0);
  CHECK(index->etag.starts_with("W/\""));
  CHECK(index->etag.ends_with("\""));
  const console_asset* main_js = find_console_asset("js/main.js");
  REQUIRE(main_js != nullptr);
  CHECK(main_js->content_type == "text/javascript; charset=utf-8");
  CHECK(find_console_asset("console.css")->content_type == "text/css; charset=utf-8");
  CHECK(find_console_asset("favicon.svg")->content_type == "image/svg+xml");
  CHECK(find_console_asset("") == nullptr);
  CHECK(find_console_asset("js/nope.js") == nullptr);
  CHECK(find_console_asset("/index.html") == nullptr);
  std::set<std::string_view> etags;
  for (const auto& a : console_assets()) etags.insert(a.etag);
  CHECK(etags.size() == console_assets().size());
}

TEST_CASE("every file the console references is embedded (no missing module, no external URL)") {
  // src="..." / href="..." in the page, and `import ... from "..."` in the modules.
  const std::regex html_ref(R"re((?:src|href)="([^"#][^"]*)")re");
  const std::regex js_import(R"re(\bfrom\s+"([^"]+)")re");
  int checked = 0;
  for (const auto& a : console_assets()) {
    const std::string text(a.bytes);
    const bool html = a.path.ends_with(".html");
    if (!html && !a.path.ends_with(".js")) continue;
    const std::regex& re = html ? html_ref : js_import;
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
      const std::string target = (*it)[1];
      INFO(a.path << " refers to " << target);
      CHECK(target.find("://") == std::string::npos);  // nothing from another origin
      if (target == "/") continue;
      CHECK(find_console_asset(resolve(std::string(a.path), target)) != nullptr);
      ++checked;
    }
  }
  CHECK(checked > 10);
}
