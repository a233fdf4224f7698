# syntax=docker/dockerfile:1

# ---- build: the locked dependency set, cached apart from our sources ----
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Build the dependencies against stub sources, so source edits reuse this layer.
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY manifest ./manifest
# `try` carries the example policy in the binary.
COPY docs/policy.example.toml ./docs/policy.example.toml
COPY src ./src
# touch: the stubs' build is newer than the copied sources' timestamps.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked

# ---- runtime: the binary and CA certificates, nothing else; runs as non-root ----
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/throttle-bot /usr/local/bin/throttle-bot
ENV LISTEN_ADDR=0.0.0.0:3000 \
    LOG_FORMAT=json
EXPOSE 3000
# 65532 is distroless's `nonroot` user; numeric so Kubernetes runAsNonRoot can check it.
USER 65532:65532
# No shell or curl in the image: the binary probes its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/throttle-bot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/throttle-bot"]
CMD ["serve"]
