#include "util/template.hpp"

namespace sshboot::util {

Expected<std::string> render_template(std::string_view text,
                                      const std::map<std::string, std::string>& values) {
    std::string out;
    out.reserve(text.size() + 256);
    std::size_t pos = 0;
    for (;;) {
        const auto open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            out.append(text.substr(pos));
            return out;
        }
        const auto close = text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return make_error("template: unterminated {{ at offset " + std::to_string(open));
        }
        out.append(text.substr(pos, open - pos));
        const std::string name(text.substr(open + 2, close - open - 2));
        const auto it = values.find(name);
        if (it == values.end()) {
            return make_error("template: no value for {{" + name + "}}");
        }
        out.append(it->second);
        pos = close + 2;
    }
}

}  // namespace sshboot::util
