# Cross-compiling for 64-bit Arm with Debian's cross toolchain
# (g++-aarch64-linux-gnu) and arm64 multiarch libraries
# (dpkg --add-architecture arm64; libsodium-dev:arm64 and so on).
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Headers are shared between architectures under /usr/include; libraries come
# only from the arm64 directory, never the build machine's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)
# Programs built for the tests run under qemu-user when binfmt is set up.
find_program(SSHBOOT_QEMU_AARCH64 qemu-aarch64-static)
if(SSHBOOT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SSHBOOT_QEMU_AARCH64})
endif()
