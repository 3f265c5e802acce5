// Result<T, E>: a value or an expected failure, returned instead of thrown (STYLE.md habit 3).
// E defaults to Error (a code-free message a person can act on); layers with typed failures
// (envelope open, roster verification) use their own enum codes through TypedError<Code>.
// Plain value type; no threading concerns.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace comity {

// A failure a person can act on: one line, no secrets.
struct Error {
  std::string message;
};

// A failure with a machine-checkable code and a one-line message.
template <class Code>
struct TypedError {
  Code code;
  std::string message;
};

template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const& { return std::get<1>(v_); }
  E&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, E> v_;
};

// Result of an operation that yields nothing on success.
template <class E = Error>
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(E error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  // From another error type that converts to E (a layer widening a lower layer's errors).
  template <class F>
    requires(!std::is_same_v<F, E> && std::is_convertible_v<F, E>)
  Status(F error) : error_(E(std::move(error))), ok_(false) {}  // NOLINT: implicit by design
  template <class F>
    requires(!std::is_same_v<F, E> && std::is_convertible_v<F, E>)
  Status(const Status<F>& other) : ok_(other.ok()) {  // NOLINT: implicit by design
    if (!other.ok()) error_ = E(other.error());
  }
  static Status Ok() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { return error_; }

 private:
  E error_{};
  bool ok_ = true;
};

inline Error MakeError(std::string message) { return Error{std::move(message)}; }

}  // namespace comity
