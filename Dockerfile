# syntax=docker/dockerfile:1
#
# wxnotify in a container: a static binary on distroless/static, as user
# nonroot (65532), with the SQLite database on a volume. docs/deploy.md has
# the whole story; in short:
#
#   docker build -t wxnotify .
#   (umask 077; docker run --rm wxnotify keygen > secret.key) && sudo chown 65532 secret.key
#   docker run -d --name wxnotify -p 8080:8080 -v wxnotify:/var/lib/wxnotify \
#     -v "$PWD/secret.key:/run/secrets/wxnotify_secret_key:ro" -e WXNOTIFY_ADMIN_PASSWORD wxnotify
#
# The image holds no secret: the key that encrypts app secrets at rest is read
# from the file at WXNOTIFY_SECRET_KEY_FILE, mounted at run time. What the
# final stage needs (the binary, CA certificates, a writable data directory)
# is proved by cmd/wxnotify/package_test.go, which starts this binary, with
# this file's ENV, in an empty root holding only those; CI runs it.

# The newest Go 1.26 (go.mod's go line is the minimum; the image does not
# fetch another toolchain).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Static (modernc.org/sqlite is pure Go, so no cgo), no local paths in the
# binary, and the commit it was built from (.git is in the build context for
# that: wxnotify version --json and /healthz print it).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=true -ldflags='-s -w' -o /out/wxnotify ./cmd/wxnotify \
    && mkdir -p /out/data

# distroless/static: CA certificates, tzdata (schedules' time zones), /tmp and
# a nonroot user; no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wxnotify /usr/local/bin/wxnotify
# A named volume mounted here starts with this directory's owner and mode.
COPY --from=build --chown=65532:65532 /out/data /var/lib/wxnotify
ENV WXNOTIFY_DB=sqlite:///var/lib/wxnotify/wxnotify.db \
    WXNOTIFY_HTTP_ADDR=:8080 \
    WXNOTIFY_SECRET_KEY_FILE=/run/secrets/wxnotify_secret_key
USER 65532:65532
WORKDIR /var/lib/wxnotify
VOLUME /var/lib/wxnotify
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/wxnotify", "healthcheck"]
# `docker run IMAGE` serves; `docker run IMAGE app list` (same volume and
# secret) runs an operator command against the same database.
ENTRYPOINT ["/usr/local/bin/wxnotify"]
CMD ["serve"]
