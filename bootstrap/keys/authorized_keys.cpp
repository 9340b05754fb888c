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

// The blocks to replace in `text`, in order. Markers nest like brackets: an
// end marker closes the latest begin marker still open, and a block inside
// another is part of it. A begin never closed and an end with nothing open
// are ordinary lines. All ends with nothing open come before the first begin
// never closed, so removing the blocks cannot make two leftover markers pair
// up on the next merge.
std::vector<Span> find_blocks(std::string_view text, std::string_view begin_marker,
                              std::string_view end_marker) {
    std::vector<Span> blocks;
    std::vector<std::size_t> open;  // begin offsets, innermost last
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t nl = text.find('\n', pos);
        const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        const std::string_view content = line_content(text, pos, end);
        if (content == begin_marker) {
            open.push_back(pos);
        } else if (content == end_marker && !open.empty()) {
            const Span block{open.back(), end};
            open.pop_back();
            // Blocks closed earlier inside this one are part of it.
            while (!blocks.empty() && blocks.back().begin > block.begin) {
                blocks.pop_back();
            }
            blocks.push_back(block);
        }
        pos = end;
    }
    return blocks;
}

void append_block(std::string& out, const std::vector<std::string>& lines,
                  std::string_view begin_marker, std::string_view end_marker) {
    out.append(begin_marker);
    out.push_back('\n');
    for (const auto& line : lines) {
        if (line.empty()) {
            continue;
        }
        out.append(line);
        out.push_back('\n');
    }
    out.append(end_marker);
    out.push_back('\n');
}

}  // namespace

std::string merge_managed_block(std::string_view existing, const std::vector<std::string>& lines) {
    return merge_managed_block(existing, lines, k_block_begin, k_block_end);
}

std::string merge_managed_block(std::string_view existing, const std::vector<std::string>& lines,
                                std::string_view begin_marker, std::string_view end_marker) {
    const std::vector<Span> blocks = find_blocks(existing, begin_marker, end_marker);
    std::size_t total = existing.size() + begin_marker.size() + end_marker.size() + 3;
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
        append_block(out, lines, begin_marker, end_marker);
        return out;
    }

    std::size_t pos = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        out.append(existing.substr(pos, blocks[i].begin - pos));
        if (i == 0 && !lines.empty()) {
            append_block(out, lines, begin_marker, end_marker);
        }
        pos = blocks[i].end;
    }
    out.append(existing.substr(pos));
    return out;
}

}  // namespace sshboot::keys
