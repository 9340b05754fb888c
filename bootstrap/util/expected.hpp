// A small expected-value type: low layers return Expected<T>, one top-level
// handler turns an error into a message and an exit code.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sshboot::util {

struct Error {
    std::string message;
};

// "what: strerror(err)", the form every failed syscall is reported in.
Error sys_error(std::string_view what, int err = errno);

inline Error make_error(std::string message) {
    return Error{std::move(message)};
}

template <class T>
class [[nodiscard]] Expected {
  public:
    Expected(T value) : m_v(std::in_place_index<0>, std::move(value)) {}
    Expected(Error error) : m_v(std::in_place_index<1>, std::move(error)) {}

    bool has_value() const { return m_v.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return std::get<0>(m_v); }
    const T& value() const& { return std::get<0>(m_v); }
    T&& value() && { return std::get<0>(std::move(m_v)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(m_v); }

  private:
    std::variant<T, Error> m_v;
};

struct Ok {};
using Status = Expected<Ok>;
inline Status ok() {
    return Ok{};
}

}  // namespace sshboot::util
