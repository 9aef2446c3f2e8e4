# syntax=docker/dockerfile:1
#
# The wsgate image: one static binary on distroless, as a non-root user.
#
#   docker build -t wsgate .                        # the gateway (the last stage)
#   docker build --build-arg VERSION=1.2.3 -t wsgate:1.2.3 .
#   docker run -p 8080:8080 wsgate                  # dev mode, embedded NATS
#
# Stages, for docker-compose.yml and docker build --target:
#   build        compiles wsgate and the chat example's worker
#   chat-web     the chat example's page with its npm packages
#   gateway      the runtime image: wsgate, HEALTHCHECK, non-root
#   chat         gateway plus the chat page in /srv/chat
#   chat-worker  the chat example's worker
#   wsgate       the default image, the same as gateway
#
# No Docker engine runs in CI: e2e/deploy*_test.go read this file and the
# compose files and checks them against the code, and e2e/compose_test.go
# runs the same topology natively (README.md, Deploying).

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# main.version is what `wsgate version` prints and the log's version field.
ARG VERSION=dev
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wsgate ./cmd/wsgate \
 && go build -trimpath -ldflags "-s -w" -o /out/chat-worker ./examples/chat/worker \
 && mkdir -p /out/data

FROM node:22-alpine AS chat-web
WORKDIR /web
COPY examples/chat/web/package.json examples/chat/web/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY examples/chat/web/ ./

FROM gcr.io/distroless/static-debian12:nonroot AS gateway
COPY --from=build /out/wsgate /usr/local/bin/wsgate
# The embedded NATS server's JetStream store, owned by the non-root user:
# mount a volume here to keep it (a volume starts with this ownership).
COPY --from=build --chown=65532:65532 /out/data /data
ENV WSGATE_DATA_DIR=/data
USER 65532:65532
# 8080: WebSocket and HTTP (--listen). 4222: the embedded NATS server's
# clients (--nats-listen; it listens on 127.0.0.1 unless told 0.0.0.0:4222).
# 6222: the embedded server's cluster routes (nats.cluster.listen).
EXPOSE 8080 4222 6222
# No shell or curl here: wsgate asks itself (GET /readyz on its own port).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/wsgate", "healthcheck"]
# SIGTERM (docker stop) is a graceful shutdown: wsgate handles it as PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/wsgate"]
CMD ["run"]

FROM gateway AS chat
COPY --from=chat-web /web /srv/chat

FROM gcr.io/distroless/static-debian12:nonroot AS chat-worker
COPY --from=build /out/chat-worker /usr/local/bin/chat-worker
USER 65532:65532
# The worker stops on an interrupt (it handles os.Interrupt only).
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/chat-worker"]

FROM gateway AS wsgate
