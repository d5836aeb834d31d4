#!/usr/bin/env bash
# Mount the bundled demo image read-write and list it (the README's first command).
# Works on a copy in /tmp so the committed image stays pristine.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/main.js ] || npx tsc -p tsconfig.json
img=/tmp/fuse4fs-demo.ext4
mnt=${1:-/tmp/fuse4fs-demo}
gunzip -c test/images/demo.ext4.gz > "$img"
mkdir -p "$mnt"
if mountpoint -q "$mnt"; then ./bin/fuse4fs-ts umount "$mnt"; fi
./bin/fuse4fs-ts mount "$img" "$mnt"
echo "== $img mounted at $mnt"
ls -la "$mnt"
echo "== unmount with: ./bin/fuse4fs-ts umount $mnt"
