# A small non-root image of stampede for the shards of `stampede k8s`:
#   docker build -t registry.example/stampede:1.0 .
# The binary is static (CGO_ENABLED=0: SQLite is modernc's pure Go), so the
# image is FROM scratch: the binary, CA certificates for https targets, a
# passwd entry for user 65532 ("nonroot", as the manifests' securityContext
# expects) and an empty /tmp. No shell, no package manager.
#
# The build stage lays that file tree out in /out/rootfs. To build the image
# without a registry, from a tree laid out on the host, name it as the build
# stage: scripts/check-image.sh does (buildah build --build-context
# build=DIR; docker buildx build --build-context takes the same).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rootfs/usr/local/bin/stampede ./cmd/stampede && \
    mkdir -p /out/rootfs/etc/ssl/certs /out/rootfs/tmp && chmod 1777 /out/rootfs/tmp && \
    cp /etc/ssl/certs/ca-certificates.crt /out/rootfs/etc/ssl/certs/ && \
    echo 'nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin' > /out/rootfs/etc/passwd && \
    echo 'nonroot:x:65532:' > /out/rootfs/etc/group

FROM scratch
COPY --from=build /out/rootfs/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/stampede"]
