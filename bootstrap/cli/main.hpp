// The top-level handler: parse, dispatch, turn failures into exit codes.
#pragma once

namespace sshboot::cli {

int main(int argc, char** argv);

}  // namespace sshboot::cli
