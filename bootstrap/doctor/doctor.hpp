// `sshboot doctor`: gather, check, print; the exit code says whether SSH into
// this container should work.
#pragma once

#include "doctor/facts.hpp"

namespace sshboot::doctor {

// Prints the report (text or JSON) on stdout; returns 0 when every check
// passed, 1 otherwise.
int run_doctor(const GatherOptions& options, bool json);

}  // namespace sshboot::doctor
