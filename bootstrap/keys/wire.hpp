// RFC 4251 wire encoding: big-endian uint32 and length-prefixed strings, the
// layout of every SSH key blob and of the openssh-key-v1 container.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sshboot::keys {

class WireReader {
  public:
    explicit WireReader(std::span<const std::uint8_t> data) : m_data(data) {}

    std::optional<std::uint32_t> read_u32();
    // A length-prefixed string; nullopt when the length runs past the end.
    std::optional<std::span<const std::uint8_t>> read_string();
    std::optional<std::string> read_string_text();
    std::size_t remaining() const { return m_data.size() - m_pos; }

  private:
    std::span<const std::uint8_t> m_data;
    std::size_t m_pos = 0;
};

class WireWriter {
  public:
    void put_u32(std::uint32_t v);
    void put_string(std::span<const std::uint8_t> bytes);
    void put_string(std::string_view text);
    void put_raw(std::span<const std::uint8_t> bytes);
    void put_raw(std::string_view text);
    const std::vector<std::uint8_t>& bytes() const { return m_out; }
    std::vector<std::uint8_t>& bytes() { return m_out; }

  private:
    std::vector<std::uint8_t> m_out;
};

}  // namespace sshboot::keys
