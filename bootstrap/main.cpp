#include "cli/main.hpp"

int main(int argc, char** argv) {
    return sshboot::cli::main(argc, argv);
}
