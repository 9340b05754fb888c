#include "supervise/backoff.hpp"

#include <algorithm>

namespace sshboot::supervise {

Backoff::Duration Backoff::next() {
    const Duration delay = m_next;
    m_next = std::min(m_next * 2, k_cap);
    return delay;
}

void Backoff::record_uptime(Duration uptime) {
    if (uptime >= k_healthy_uptime) {
        m_next = k_initial;
    }
}

}  // namespace sshboot::supervise
