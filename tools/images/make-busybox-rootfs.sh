#!/bin/sh
# Builds a minimal root filesystem directory from Debian's busybox-static:
#   tools/images/make-busybox-rootfs.sh <dest-dir> [busybox-binary]
# The binary defaults to /bin/busybox (install with `apt-get install -y busybox-static`).
# Applets become symlinks at their canonical paths, like `busybox --install -s`.
set -eu

dest=${1:?usage: make-busybox-rootfs.sh <dest-dir> [busybox-binary]}
busybox=${2:-/bin/busybox}

[ -x "$busybox" ] || { echo "make-busybox-rootfs: $busybox not found (apt-get install -y busybox-static)" >&2; exit 1; }
# A dynamically linked busybox would need the host's libc inside the root.
if command -v file >/dev/null 2>&1 && file -L "$busybox" | grep -q 'dynamically linked'; then
  echo "make-busybox-rootfs: $busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi

mkdir -p "$dest"
chmod 0755 "$dest"   # mktemp -d makes 0700; non-root users need to traverse /
cd "$dest"
mkdir -p bin sbin usr/bin usr/sbin etc root home proc sys dev tmp var/tmp run
chmod 1777 tmp var/tmp
chmod 0700 root
ln -sfn ../run var/run
cp "$busybox" bin/busybox
chmod 0755 bin/busybox

# --list-full prints each applet with its install directory, e.g. "usr/bin/wget".
"$busybox" --list-full | while read -r applet; do
  [ "$applet" = "bin/busybox" ] && continue
  ln -sfn /bin/busybox "$applet"
done

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
tty:x:5:
nogroup:x:65534:
GROUP
chmod 0644 etc/passwd etc/group
