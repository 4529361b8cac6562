# syntax=docker/dockerfile:1
#
# One image with every Axle binary (vin-service, plate-service, sandbox, axle, and each
# service as it lands); each Kubernetes Deployment picks its binary with `command`
# (helm/axle does). Why one image: the binaries share almost all their code and
# dependencies, so one build compiles the workspace once, one tag is promoted through
# environments, and nodes pull the layers once. See README, "Container image".
#
#   docker build -t axle:0.1.0 .
#   docker run --rm -p 50051:50051 axle:0.1.0 vin-service --config /etc/axle/vin-service.toml
#   docker run --rm -p 50052:50052 -e AXLE_HEALTH_ENDPOINT=127.0.0.1:50052 \
#     axle:0.1.0 plate-service --config /etc/axle/plate-service.toml

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

# ---- build: the whole workspace in release mode, then the image's root filesystem ----
FROM rust:${RUST_VERSION}-${DEBIAN} AS build
WORKDIR /src
# pkg-config and the OpenSSL headers (reqwest's native TLS for the vendors) come with
# this image; protobuf is compiled in Rust (protox), so no protoc is needed.
COPY . .
# scripts/image-rootfs.sh copies every binary, exactly the libraries ldd says they link,
# the CA bundle, the non-root user and the shipped configs into /rootfs (the same script
# scripts/image.sh tests on the host).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && scripts/image-rootfs.sh /rootfs target/release

# ---- run: an empty image plus that file system: no shell, no package manager --------
FROM scratch
COPY --from=build /rootfs/ /
# State must be writable by the service user whatever COPY did with ownership.
COPY --from=build --chown=65532:65532 /rootfs/var/lib/axle/ /var/lib/axle/
USER 65532:65532
WORKDIR /var/lib/axle
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    AXLE_HEALTH_ENDPOINT=127.0.0.1:50051
# 50050-50054 gRPC (aggregator, vin, plate, violation, ocr), 50062 platecb webhook,
# 9050-9054 metrics, 50080 sandbox. /var/lib/axle holds plate-service's SQLite callback
# store when PostgreSQL is not used: mount a volume there.
EXPOSE 50050 50051 50052 50053 50054 50062 50080 9050 9051 9052 9053 9054
VOLUME ["/var/lib/axle"]
# gRPC health without a shell: `axle health` exits 0 only for SERVING. Point it at the
# binary's port with AXLE_HEALTH_ENDPOINT (Kubernetes uses its own gRPC probes instead).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/axle", "health", "--timeout", "2s"]
# No default service: the command names one (vin-service, plate-service, sandbox, axle).
CMD ["axle", "--help"]
