#!/usr/bin/env bash
# Assembles the container image's root filesystem in OUT from the binaries in BIN_DIR:
#   scripts/image-rootfs.sh OUT BIN_DIR
# The Dockerfile runs it in its build stage and copies OUT into an empty (scratch) image;
# scripts/image.sh runs it on the host and runs the binaries in OUT under chroot, so the
# image's shape is tested even where no container builder is.
#
# OUT holds: every executable of BIN_DIR in /usr/local/bin; exactly the shared libraries
# they link (found by ldd: glibc, libgcc, OpenSSL) and the dynamic loader; the CA
# bundle; passwd/group entries for the non-root user 65532; the shipped configs
# (config/*.toml) in /etc/axle; /var/lib/axle owned by 65532 for state; /tmp. No shell, no package
# manager, nothing else.
set -euo pipefail
out="${1:?usage: scripts/image-rootfs.sh OUT BIN_DIR}"
bin_dir="${2:?usage: scripts/image-rootfs.sh OUT BIN_DIR}"
cd "$(dirname "$0")/.."

mkdir -p "$out/usr/local/bin" "$out/etc/axle" "$out/etc/ssl/certs" "$out/var/lib/axle" "$out/tmp"
chmod 1777 "$out/tmp"
bins=()
while IFS= read -r -d '' b; do bins+=("$b"); done < <(find "$bin_dir" -maxdepth 1 -type f -perm -u+x -print0)
[ "${#bins[@]}" -gt 0 ] || { echo "image-rootfs: no executables in $bin_dir" >&2; exit 1; }
for b in "${bins[@]}"; do
  cp "$b" "$out/usr/local/bin/"
done

# The libraries as ldd resolves them (/lib/x86_64-linux-gnu/libc.so.6, the loader
# /lib64/ld-linux-x86-64.so.2 ...), copied to the same paths: the binaries' interpreter
# path and the loader's default search path then find them without any configuration.
libs="$(ldd "${bins[@]}" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' | sort -u)"
[ -n "$libs" ] || { echo "image-rootfs: ldd found no libraries" >&2; exit 1; }
for lib in $libs; do
  cp --parents -L "$lib" "$out/"
done

cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
echo 'root:x:0:0:root:/nonexistent:/nonexistent' >"$out/etc/passwd"
echo 'nonroot:x:65532:65532:axle:/var/lib/axle:/nonexistent' >>"$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/etc/group"
cp config/*.toml "$out/etc/axle/"
chown 65532:65532 "$out/var/lib/axle" 2>/dev/null || true
echo "image-rootfs: ${#bins[@]} binaries, $(echo "$libs" | wc -l) libraries in $out"
