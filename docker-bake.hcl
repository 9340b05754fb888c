# The published images: `docker buildx bake` builds every variant below for
# linux/amd64 and linux/arm64 from docker/Dockerfile.
#
#   docker buildx bake                       # all variants, compiled from source
#   docker buildx bake debian                # one variant
#   SSHBOOT_BINARY=release docker buildx bake --push
#       with the binaries from dist/ (bash scripts/release.sh VERSION first):
#       nothing is compiled under emulation
#   docker buildx bake --print               # the resolved build definitions
#
# Each base image must publish both platforms; drop one for a single target
# with --set <target>.platforms=linux/amd64.

variable "VERSION" {
  default = "0.1.0"
}

variable "REGISTRY" {
  default = "ghcr.io/sshboot"
}

variable "SSHBOOT_BINARY" {
  default = "source"
}

variable "SSHBOOT_COMMIT" {
  default = "unknown"
}

group "default" {
  targets = ["pytorch", "cuda", "debian"]
}

target "_common" {
  context    = "."
  dockerfile = "docker/Dockerfile"
  platforms  = ["linux/amd64", "linux/arm64"]
  args = {
    BUILDER_IMAGE  = "debian:bookworm"
    SSHBOOT_BINARY = "${SSHBOOT_BINARY}"
    SSHBOOT_VERSION = "${VERSION}"
    SSHBOOT_COMMIT = "${SSHBOOT_COMMIT}"
    SSHBOOT_LICENSE = "MIT"
  }
}

target "pytorch" {
  inherits = ["_common"]
  args = {
    VARIANT    = "pytorch"
    BASE_IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
  }
  tags = ["${REGISTRY}/sshboot-pytorch:${VERSION}", "${REGISTRY}/sshboot-pytorch:latest"]
}

target "cuda" {
  inherits = ["_common"]
  args = {
    VARIANT    = "cuda"
    BASE_IMAGE = "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"
  }
  tags = ["${REGISTRY}/sshboot-cuda:${VERSION}", "${REGISTRY}/sshboot-cuda:latest"]
}

target "debian" {
  inherits = ["_common"]
  args = {
    VARIANT    = "debian"
    BASE_IMAGE = "debian:bookworm-slim"
  }
  tags = ["${REGISTRY}/sshboot-debian:${VERSION}", "${REGISTRY}/sshboot-debian:latest"]
}
