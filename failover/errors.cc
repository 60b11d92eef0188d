#include "failover/errors.h"

#include <string>

namespace tandem::failover {

namespace {

class category_impl : public std::error_category {
 public:
  const char* name() const noexcept override { return "failover"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::timed_out: return "timed out";
      case errc::broker_error: return "broker sent ERROR";
      case errc::connection_closed: return "connection closed by broker";
      case errc::protocol_error: return "protocol error";
      case errc::not_connected: return "not connected";
      case errc::invalid_uri: return "invalid URI";
      case errc::unknown_option: return "unknown URI option";
      case errc::invalid_option: return "invalid URI option value";
      case errc::closed: return "connection closed by the application";
      case errc::buffer_full: return "send buffer full while disconnected";
      case errc::reconnect_failed: return "reconnect attempts exhausted";
      case errc::transaction_rolled_back: return "transaction rolled back by a failover";
      case errc::commit_in_doubt: return "commit in doubt after a failover";
      case errc::stale_message: return "message belongs to a lost connection";
      case errc::tls_error: return "TLS error";
    }
    return "unknown failover error";
  }
};

}  // namespace

const std::error_category& failover_category() {
  static const category_impl instance;
  return instance;
}
std::error_code make_error_code(errc e) { return {static_cast<int>(e), failover_category()}; }

}  // namespace tandem::failover
