# crmsync image. go-sqlite3 needs cgo, so the build stage has gcc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/crmsync ./cmd/crmsync

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 crmsync
COPY --from=build /out/crmsync /usr/local/bin/crmsync
USER crmsync
WORKDIR /var/lib/crmsync
EXPOSE 8080
ENTRYPOINT ["crmsync"]
CMD ["run", "--config", "/etc/crmsync/crmsync.yaml"]
