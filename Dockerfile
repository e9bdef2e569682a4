# syntax=docker/dockerfile:1
# Mana Core Auth container image: `docker build -t manaauth .`
#
#   docker build \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t manaauth .
#
# The binary is built as `make build` builds it (go build ./cmd/manaauth),
# statically (CGO_ENABLED=0: SQLite is the pure-Go modernc driver), and
# runs on distroless/static as the unprivileged user 65532. See
# deploy/README.md for the production stack.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
# .git stays out of the build context (.dockerignore), so Go cannot stamp
# the revision itself: `manaauth version` reads these instead.
ARG VERSION=""
ARG REVISION=""
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.buildVersion=${VERSION} -X main.buildRevision=${REVISION}" \
      -o /out/manaauth ./cmd/manaauth \
 && mkdir -p /out/data

# distroless/static: CA certificates (SMTP, Stripe, app backends), the
# time zone database in /usr/share/zoneinfo (the binary embeds one too),
# /etc/passwd with the nonroot user, and no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/manaauth /usr/local/bin/manaauth
# The SQLite default needs a directory the non-root user may write; a
# volume mounted there keeps the database (and nothing else) across
# container replacements.
COPY --from=build --chown=65532:65532 /out/data /data
ENV DATABASE_URL=sqlite:/data/manaauth.db \
    PORT=3001
USER 65532:65532
VOLUME ["/data"]
EXPOSE 3001
# The readiness check (database reachable), not mere liveness: Docker and
# Traefik stop sending traffic to a replica that cannot serve.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/manaauth", "healthcheck", "-timeout", "4s"]
ENTRYPOINT ["/usr/local/bin/manaauth"]
CMD ["serve"]
