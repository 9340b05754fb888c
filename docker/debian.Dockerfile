# sshboot on a small Debian 12 image (no GPU libraries; handy for trying sshboot out).
#
# Build from the repository root (the build context must be the root):
#   docker build -f docker/debian.Dockerfile -t sshboot-debian .
# Run (host port 2222 to the container's 22):
#   docker run -d -p 2222:22 -e SSH_PUBLIC_KEY="$(cat ~/.ssh/id_ed25519.pub)" \
#     -e SSH_PUBLIC_HOST=<this host> -e SSH_PUBLIC_PORT=2222 sshboot-debian
#   docker logs <container>     # prints the ssh command that connects
#
# BASE_IMAGE is the image users already run; BUILDER_IMAGE is any Debian 12
# image (the build tools are installed into it). Both can be overridden with
# --build-arg. The builder stage is the same in every Dockerfile here, so a
# builder keeps one cached copy of it for all variants.

ARG BASE_IMAGE=debian:bookworm-slim
ARG BUILDER_IMAGE=debian:bookworm

# --- builder: sshboot from this repository's sources, one static binary ------
FROM ${BUILDER_IMAGE} AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make \
      libboost-program-options-dev libspdlog-dev libfmt-dev libsodium-dev libcrypt-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY templates/ templates/
COPY bootstrap/ bootstrap/
RUN cmake -S /src -B /build -DSSHBOOT_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j "$(nproc)" \
 && strip /build/sshboot \
 && if readelf -l /build/sshboot | grep -q 'program interpreter'; then \
      echo "sshboot is not statically linked" >&2; exit 1; \
    fi \
 && /build/sshboot --version

# --- runtime: the base image plus OpenSSH's server and the binary -------------
FROM ${BASE_IMAGE}
# The package's postinst creates host keys; every container built from this
# image would share them. sshboot creates its own per container (kept in its
# state directory), so the baked ones are removed.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && rm -f /etc/ssh/ssh_host_*
COPY --from=builder /build/sshboot /usr/local/bin/sshboot
EXPOSE 22
# OCI labels. SSHBOOT_SOURCE_URL (the repository) and SSHBOOT_LICENSE (an
# SPDX id; sshboot is MIT-licensed) can be overridden with --build-arg.
ARG BASE_IMAGE
ARG SSHBOOT_VERSION=0.1.0
ARG SSHBOOT_SOURCE_URL=https://github.com/sshboot/sshboot
ARG SSHBOOT_LICENSE=MIT
LABEL org.opencontainers.image.title="sshboot-debian" \
      org.opencontainers.image.description="Debian 12 with sshboot: SSH-ready on start" \
      org.opencontainers.image.version="${SSHBOOT_VERSION}" \
      org.opencontainers.image.licenses="${SSHBOOT_LICENSE}" \
      org.opencontainers.image.source="${SSHBOOT_SOURCE_URL}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# No default arguments: a CMD inherited from the base image would reach
# sshboot as COMMAND.
CMD []
ENTRYPOINT ["/usr/local/bin/sshboot"]
