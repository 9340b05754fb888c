#include "keys/wire.hpp"

namespace sshboot::keys {

std::optional<std::uint32_t> WireReader::read_u32() {
    if (remaining() < 4) {
        return std::nullopt;
    }
    const auto* p = m_data.data() + m_pos;
    m_pos += 4;
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

std::optional<std::span<const std::uint8_t>> WireReader::read_string() {
    const auto len = read_u32();
    if (!len || *len > remaining()) {
        return std::nullopt;
    }
    auto out = m_data.subspan(m_pos, *len);
    m_pos += *len;
    return out;
}

std::optional<std::string> WireReader::read_string_text() {
    auto s = read_string();
    if (!s) {
        return std::nullopt;
    }
    return std::string(reinterpret_cast<const char*>(s->data()), s->size());
}

void WireWriter::put_u32(std::uint32_t v) {
    m_out.push_back(static_cast<std::uint8_t>(v >> 24));
    m_out.push_back(static_cast<std::uint8_t>(v >> 16));
    m_out.push_back(static_cast<std::uint8_t>(v >> 8));
    m_out.push_back(static_cast<std::uint8_t>(v));
}

void WireWriter::put_string(std::span<const std::uint8_t> bytes) {
    put_u32(static_cast<std::uint32_t>(bytes.size()));
    put_raw(bytes);
}

void WireWriter::put_string(std::string_view text) {
    put_u32(static_cast<std::uint32_t>(text.size()));
    put_raw(text);
}

void WireWriter::put_raw(std::span<const std::uint8_t> bytes) {
    m_out.insert(m_out.end(), bytes.begin(), bytes.end());
}

void WireWriter::put_raw(std::string_view text) {
    m_out.insert(m_out.end(), text.begin(), text.end());
}

}  // namespace sshboot::keys
