// The restart policy for sshd: a delay that starts well under a second,
// doubles on every failure up to a cap, and starts over once sshd has stayed
// up long enough to count as healthy.
#pragma once

#include <chrono>

namespace sshboot::supervise {

class Backoff {
  public:
    using Duration = std::chrono::milliseconds;

    static constexpr Duration k_initial{100};
    static constexpr Duration k_cap{5000};
    static constexpr Duration k_healthy_uptime{30000};

    // The delay before the next restart attempt; each call doubles the one after (up to k_cap).
    Duration next();

    // Called when the process ends after running for `uptime`: a healthy run
    // (at least k_healthy_uptime) resets the delay to k_initial.
    void record_uptime(Duration uptime);

  private:
    Duration m_next = k_initial;
};

}  // namespace sshboot::supervise
