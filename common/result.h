#pragma once
// result<T>: a value or a std::error_code plus a human-readable detail message.
// Expected failures travel as values (STYLE.md "Errors"); exceptions stay at the edges.

#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace tandem {

// An error_code with the sentence an operator should read (which file, which value, why).
struct error {
  std::error_code code;
  std::string message;

  error() = default;
  error(std::error_code c, std::string m = {}) : code(c), message(std::move(m)) {}
  explicit operator bool() const { return static_cast<bool>(code); }
  // "message (category: code text)", or the code text alone when there is no message.
  std::string describe() const {
    if (message.empty()) return code.message();
    return message + " (" + code.message() + ")";
  }
};

template <typename T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}
  result(error e) : v_(std::move(e)) { assert(std::get<error>(v_).code); }
  result(std::error_code c, std::string message = {}) : v_(error{c, std::move(message)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const error& err() const { return std::get<1>(v_); }
  std::error_code code() const { return ok() ? std::error_code{} : err().code; }

 private:
  std::variant<T, error> v_;
};

}  // namespace tandem
