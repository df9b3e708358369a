#!/bin/sh
# Builds the Dockerfile's image without a registry and checks it: the file
# tree its build stage makes is laid out on the host (a static binary built
# here), given to buildah as that stage (--build-context build=DIR), and the
# image is checked: user 65532, the entrypoint, a static binary, and the
# entrypoint run as the image's user in its file tree, printing the version.
# Needs buildah (apt-get install buildah) and root; run from the repository:
#   sudo scripts/check-image.sh
set -eu
image=localhost/stampede:check
work=$(mktemp -d)
trap 'buildah rm stampede-check >/dev/null 2>&1 || true; buildah rmi "$image" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
root=$work/out/rootfs

# The build stage's steps, on the host.
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$root/usr/local/bin/stampede" ./cmd/stampede
mkdir -p "$root/etc/ssl/certs" "$root/tmp" && chmod 1777 "$root/tmp"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
echo 'nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin' > "$root/etc/passwd"
echo 'nonroot:x:65532:' > "$root/etc/group"

buildah build --quiet --build-context build="$work" -t "$image" . >/dev/null

fail() { echo "check-image: $*" >&2; exit 1; }
user=$(buildah inspect --format '{{.OCIv1.Config.User}}' "$image")
[ "$user" = 65532:65532 ] || fail "user $user, want 65532:65532"
entry=$(buildah inspect --format '{{.OCIv1.Config.Entrypoint}}' "$image")
[ "$entry" = '[/usr/local/bin/stampede]' ] || fail "entrypoint $entry"
layers=$(buildah inspect --format '{{len .OCIv1.RootFS.DiffIDs}}' "$image")
[ "$layers" = 1 ] || fail "$layers layers, want the one of FROM scratch and one COPY"

buildah from --name stampede-check "$image" >/dev/null
mnt=$(buildah mount stampede-check)
bin=$mnt/usr/local/bin/stampede
ldd "$bin" 2>&1 | grep -q 'not a dynamic executable' || fail "the binary is not static: $(ldd "$bin" 2>&1)"
[ -z "$(find "$mnt" -name sh -o -name busybox)" ] || fail "the image holds a shell"
# The entrypoint, as the image's user (its config's), with nothing but the
# image's files. Chroot isolation: the OCI runtime cannot make namespaces in
# every sandbox.
out=$(buildah run --isolation chroot stampede-check -- /usr/local/bin/stampede version)
echo "$out" | grep -q stampede || fail "the entrypoint printed: $out"
size=$(du -sk "$mnt" | cut -f1)
buildah umount stampede-check >/dev/null
echo "check-image: ok: $image, user $user, entrypoint $entry, static, $size KB; $out"
