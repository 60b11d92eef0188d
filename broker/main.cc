// tandem-broker: parse the configuration, open the journal, serve STOMP until SIGTERM/SIGINT.

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "broker/broker.h"
#include "broker/config.h"
#include "broker/server.h"
#include "common/log.h"
#include "storage/file_system.h"
#include "storage/store.h"

using namespace tandem;

int main(int argc, char** argv) {
  CLI::App app{"Tandem message broker"};
  std::string config_path, log_level;
  bool check_only = false;
  app.add_option("--config", config_path, "node configuration (YAML)")->required();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off (overrides log.level)");
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  app.set_version_flag("--version", "tandem-broker 0.1.0");
  CLI11_PARSE(app, argc, argv);

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
  log::info("broker", "node {} starting (config {})", cfg.node.name, config_path);

  storage::posix_file_system fs;
  storage::store_options opts;
  opts.directory = cfg.storage.path;
  opts.segment_bytes = cfg.storage.segment_bytes;
  opts.max_store_bytes = cfg.storage.max_bytes;
  opts.checkpoint_every_bytes = cfg.storage.checkpoint_every_bytes;
  auto started = std::chrono::steady_clock::now();
  auto store = storage::store::open(fs, opts);
  if (!store) {
    log::error("broker", "cannot open the journal in '{}': {}", cfg.storage.path, store.err().describe());
    return 1;
  }

  asio::io_context io(1);
  broker::broker core(io, cfg, **store);
  core.recover();
  core.start();
  broker::stomp_server server(io, core);
  if (auto err = server.listen(cfg.listeners.stomp)) {
    log::error("broker", "{}", err.message);
    (*store)->close();
    return 1;
  }
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  log::info("broker", "node {} serving STOMP on {} ({:.0f} ms after start)", cfg.node.name,
            cfg.listeners.stomp.to_string(), ms);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    log::info("broker", "signal {}: stopping", sig);
    server.stop();
    core.stop();
    // Let queued work (receipts for durable writes) drain, then close the journal.
    io.stop();
  });
  io.run();
  (*store)->close();
  log::info("broker", "node {} stopped", cfg.node.name);
  return 0;
}
