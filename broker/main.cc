// tandem-broker: parse the configuration, open the shared storage, and run a node (standby
// until it wins the lease, then active) until SIGTERM/SIGINT.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "broker/config.h"
#include "broker/node.h"
#include "common/log.h"
#include "storage/file_system.h"
#include "storage/nfs_file_system.h"

using namespace tandem;

namespace {

// The shared directory: a local (or kernel-mounted) path, or an NFS server through libnfs.
// It holds journal/ and lease/.
result<std::unique_ptr<storage::file_system>> open_storage(const broker::config& cfg) {
  if (!cfg.storage.url.empty()) {
    auto fs = storage::nfs_file_system::open(cfg.storage.url);
    if (!fs) return fs.err();
    return std::unique_ptr<storage::file_system>(std::move(fs.value()));
  }
  auto fs = std::make_unique<storage::posix_file_system>(cfg.storage.path);
  if (auto err = fs->mkdirs(".")) return err;
  return std::unique_ptr<storage::file_system>(std::move(fs));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tandem message broker"};
  std::string config_path, check_path, log_level;
  auto* run_opt = app.add_option("--config", config_path, "node configuration (YAML): run this node");
  auto* check_opt = app.add_option("--check-config", check_path, "validate this configuration file and exit");
  run_opt->excludes(check_opt);
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off (overrides log.level)");
  app.set_version_flag("--version", "tandem-broker 0.1.0");
  CLI11_PARSE(app, argc, argv);
  const bool check_only = !check_path.empty();
  if (check_only) config_path = check_path;
  if (config_path.empty()) {
    std::fprintf(stderr, "tandem-broker: give --config FILE to run a node, or --check-config FILE to validate one\n");
    return 2;
  }

  broker::config cfg;
  try {
    cfg = broker::load_config(config_path);
  } catch (const broker::config_error& e) {
    std::fprintf(stderr, "tandem-broker: invalid configuration: %s\n", e.what());
    return 2;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  log::level level{};
  std::string wanted = log_level.empty() ? cfg.log.level : log_level;
  if (!log::parse_level(wanted, level)) {
    std::fprintf(stderr, "tandem-broker: --log-level '%s' must be trace|debug|info|warn|error|off\n", wanted.c_str());
    return 2;
  }
  log::set_level(level);
  const std::string where = cfg.storage.url.empty() ? cfg.storage.path : cfg.storage.url;
  log::info("broker", "node {} starting (config {}, shared storage {})", cfg.node.name, config_path, where);

  auto fs = open_storage(cfg);
  if (!fs) {
    log::error("broker", "cannot open the shared storage {}: {}", where, fs.err().describe());
    return 1;
  }
  broker::node n(cfg, **fs);
  int rc = n.run();
  log::info("broker", "node {} stopped", cfg.node.name);
  return rc;
}
