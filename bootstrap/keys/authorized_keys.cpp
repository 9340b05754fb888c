#include "keys/authorized_keys.hpp"

namespace sshboot::keys {
namespace {

struct Span {
    std::size_t begin;
    std::size_t end;  // one past the line terminator
};

std::string_view line_content(std::string_view text, std::size_t begin, std::size_t end) {
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

// Complete blocks in `text`, in order. An end marker closes the nearest begin
// marker before it; begins left open are ordinary lines.
std::vector<Span> find_blocks(std::string_view text) {
    std::vector<Span> blocks;
    constexpr std::size_t k_none = std::string_view::npos;
    std::size_t open = k_none;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        const std::string_view content = line_content(text, pos, end);
        if (content == k_block_begin) {
            open = pos;
        } else if (content == k_block_end && open != k_none) {
            blocks.push_back(Span{open, end});
            open = k_none;
        }
        pos = end;
    }
    return blocks;
}

void append_block(std::string& out, const std::vector<std::string>& lines) {
    out.append(k_block_begin);
    out.push_back('\n');
    for (const auto& line : lines) {
        if (line.empty()) {
            continue;
        }
        out.append(line);
        out.push_back('\n');
    }
    out.append(k_block_end);
    out.push_back('\n');
}

}  // namespace

std::string merge_managed_block(std::string_view existing, const std::vector<std::string>& lines) {
    const std::vector<Span> blocks = find_blocks(existing);
    std::size_t total = existing.size() + k_block_begin.size() + k_block_end.size() + 3;
    for (const auto& line : lines) {
        total += line.size() + 1;
    }
    std::string out;
    out.reserve(total);

    if (blocks.empty()) {
        out.append(existing);
        if (lines.empty()) {
            return out;
        }
        if (!out.empty() && out.back() != '\n') {
            out.push_back('\n');
        }
        append_block(out, lines);
        return out;
    }

    std::size_t pos = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        out.append(existing.substr(pos, blocks[i].begin - pos));
        if (i == 0 && !lines.empty()) {
            append_block(out, lines);
        }
        pos = blocks[i].end;
    }
    out.append(existing.substr(pos));
    return out;
}

}  // namespace sshboot::keys
