# A small non-root image of stampede for the shards of `stampede k8s`:
#   docker build -t registry.example/stampede:1.0 .
# The binary is static (CGO_ENABLED=0: SQLite is modernc's pure Go), so the
# runtime image is distroless's static base: no shell, no package manager,
# user 65532 ("nonroot"), as the manifests' securityContext expects.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/stampede ./cmd/stampede

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stampede /usr/local/bin/stampede
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/stampede"]
