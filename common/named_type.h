#pragma once
// A strong typedef: an integer that cannot be mixed up with another kind of integer
// (an epoch passed where a message sequence is expected does not compile).

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>

namespace tandem {

template <typename T, typename Tag>
class named_type {
 public:
  using value_type = T;
  constexpr named_type() = default;
  constexpr explicit named_type(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const named_type&) const = default;
  constexpr named_type next() const { return named_type(value_ + 1); }

 private:
  T value_{};
};

template <typename T, typename Tag>
std::ostream& operator<<(std::ostream& os, const named_type<T, Tag>& v) {
  return os << v.value();
}

}  // namespace tandem

template <typename T, typename Tag>
struct std::hash<tandem::named_type<T, Tag>> {
  std::size_t operator()(const tandem::named_type<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
