#!/usr/bin/env bash
# make-journal-images.sh: builds the journal-recovery test images
# (test/images/journal/*.img.gz): filesystems whose journal needs recovery.
#
#   kernel-4k-v3    ext4, 4 KiB blocks, metadata_csum: the kernel writes checksum-v3
#                   transactions (creates, appends, an rm -rf: revokes), and the image
#                   is copied while still mounted, after the commits but before the
#                   metadata reached its home blocks (commit=1, the copy 3 s later)
#   kernel-1k-v3    the same with 1 KiB blocks
#   kernel-ext3     ext3 (no metadata_csum): transactions without checksums
#   kernel-ext3-v1  ext3 mounted with journal_checksum: v1 (crc32) commit checksums
#   debugfs-v2      ext4 whose journal superblock was switched to checksum v2 (a
#                   python patch: feature bit, checksum type, superblock crc32c), then
#                   debugfs transactions: blocks, a revoke, an escaped block (first 4
#                   bytes = the jbd2 magic), and a last transaction without commit
#   debugfs-v1      ext3 with debugfs `jo -c` (v1 checksums), blocks and a revoke; the
#                   revoke-only transaction gets a v1 commit checksum that e2fsck (and
#                   the kernel) reject: replay stops after transaction 1 ("corrupt")
#   kernel-fastcommit  ext4 with fast_commit: a full commit (sync -f), then three files
#                   created and fsync'ed, which the kernel logs as fast commits only
#
# Needs root (loop mounts), e2fsprogs, python3, gzip. Run from anywhere:
#   test/images/journal/make-journal-images.sh [NAME ...]
# The kernel images depend on timing and the kernel's choices, so rebuilding
# gives equivalent, not identical, images; the tests only need "needs_recovery
# with committed transactions", which the script checks (logdump) for each.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$HERE}
export LC_ALL=C TZ=UTC
die() { echo "make-journal-images: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (loop mounts)"
for t in mke2fs debugfs e2fsck dumpe2fs python3 gzip mount umount; do command -v $t >/dev/null || die "missing $t"; done
WORK=$(mktemp -d /tmp/fuse4fs-jimages.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT"
cleanup() { mountpoint -q "$MNT" && umount "$MNT" || true; rm -rf "$WORK"; }
trap cleanup EXIT

# A mounted workload: files, appends, a directory tree removed again (revokes).
workload() {
  local m=$1
  mkdir -p "$m/keep" "$m/gone"
  for i in $(seq 1 40); do head -c $((i * 700)) /dev/zero | tr '\0' "$(printf '\\%03o' $((65 + i % 26)))" > "$m/keep/f$i"; done
  for i in $(seq 1 60); do echo "gone $i" > "$m/gone/g$i"; done
  mkdir -p "$m/keep/deep/a/b/c" && echo deep > "$m/keep/deep/a/b/c/leaf"
  sync -f "$m"
  rm -rf "$m/gone"
  for i in $(seq 1 10); do echo "append $i" >> "$m/keep/f$i"; done
  ln -s keep/f1 "$m/link"
  mv "$m/keep/f40" "$m/keep/renamed"
  sync -f "$m"
}

# NAME MOUNT-OPTS SIZE mkfs-args...: build, run the workload, copy while mounted.
kernel_image() {
  local name=$1 opts=$2 size=$3; shift 3
  local img=$WORK/$name.img
  mke2fs -q -F -U 6a6f7572-6e61-4c00-8000-0000000000$(printf %02x ${#name}) "$@" "$img" "$size"
  mount -t ext4 -o loop,commit=1${opts:+,$opts} "$img" "$MNT"
  workload "$MNT"
  sleep 3
  cp --sparse=always "$img" "$WORK/$name.copy"
  umount "$MNT"
  mv "$WORK/$name.copy" "$img"
  finish "$name"
}

# Switch a journal superblock to checksum v2 (crc32c): jsb at the journal inode's first block.
jsb_to_v2() {
  local img=$1
  local blk bs
  bs=$(dumpe2fs -h "$img" 2>/dev/null | awk -F: '/^Block size/ {gsub(/ /,"",$2); print $2}')
  blk=$(debugfs -R "bmap <8> 0" "$img" 2>/dev/null)
  python3 - "$img" $((blk * bs)) <<'PY'
import struct, sys
path, off = sys.argv[1], int(sys.argv[2])
def crc32c(crc, data):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc
with open(path, 'r+b') as f:
    f.seek(off); sb = bytearray(f.read(1024))
    incompat = struct.unpack('>I', sb[0x28:0x2c])[0] | 0x8 | 0x1  # csum_v2 + revoke
    sb[0x28:0x2c] = struct.pack('>I', incompat)
    sb[0x50] = 4                                                    # crc32c
    sb[0xfc:0x100] = b'\0\0\0\0'
    sb[0xfc:0x100] = struct.pack('>I', crc32c(0xffffffff, bytes(sb)))
    f.seek(off); f.write(sb)
PY
}

debugfs_v2() {
  local img=$WORK/debugfs-v2.img
  mke2fs -q -F -t ext4 -b 1024 -U 6a6f7572-6e61-4c00-8000-0000000000d2 "$img" 4M
  jsb_to_v2 "$img"
  head -c 3072 /dev/urandom > "$WORK/rand"
  printf '\xc0\x3b\x39\x98escaped-block' > "$WORK/magic"; truncate -s 1024 "$WORK/magic"
  debugfs -w "$img" -f - >/dev/null <<EOF
jo
jw -b 3000,3001,3002 $WORK/rand
jw -b 3003 $WORK/magic
jw -r 3001
jw -b 3004,3005 $WORK/rand
jw -b 3006 -c $WORK/rand
jc
EOF
  finish debugfs-v2
}

debugfs_v1() {
  local img=$WORK/debugfs-v1.img
  mke2fs -q -F -t ext3 -b 1024 -U 6a6f7572-6e61-4c00-8000-0000000000d1 "$img" 4M
  head -c 2048 /dev/urandom > "$WORK/rand1"
  debugfs -w "$img" -f - >/dev/null <<EOF
jo -c
jw -b 2000,2001 $WORK/rand1
jw -r 2000
jw -b 2002 $WORK/rand1
jc
EOF
  finish debugfs-v1
}

kernel_fastcommit() {
  local img=$WORK/kernel-fastcommit.img
  mke2fs -q -F -t ext4 -O fast_commit -U 6a6f7572-6e61-4c00-8000-0000000000fc "$img" 16M
  mount -o loop "$img" "$MNT"
  mkdir "$MNT/d"
  for i in 1 2 3; do echo "file $i" > "$MNT/d/f$i"; done
  sync -f "$MNT"
  for i in 4 5 6; do echo "fc $i" > "$MNT/d/f$i"; python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)" "$MNT/d/f$i"; done
  sleep 0.5
  cp --sparse=always "$img" "$WORK/fc.copy"
  umount "$MNT"
  mv "$WORK/fc.copy" "$img"
  debugfs -R logdump "$img" 2>/dev/null | grep -q 'tag CREAT_DENTRY' || die "kernel-fastcommit: no fast commit in the journal"
  finish kernel-fastcommit
}

finish() {
  local name=$1 img=$WORK/$1.img
  dumpe2fs -h "$img" 2>/dev/null | grep -q needs_recovery || die "$name: needs_recovery is not set"
  local n
  n=$(debugfs -R logdump "$img" 2>/dev/null | grep -c 'commit block' || true)
  [ "$n" -gt 0 ] || die "$name: no committed transaction in the journal"
  gzip -9n < "$img" > "$OUT/$name.img.gz"
  echo "$name: $n commit blocks, $(stat -c %s "$OUT/$name.img.gz") bytes gzipped"
}

want() { [ $# -eq 0 ] && return 0; local n; for n in "${SELECTED[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
SELECTED=("$@")
sel() { [ ${#SELECTED[@]} -eq 0 ] || want "$1"; }

sel kernel-4k-v3 && kernel_image kernel-4k-v3 "" 8M -t ext4 -b 4096 -O metadata_csum
sel kernel-1k-v3 && kernel_image kernel-1k-v3 "" 4M -t ext4 -b 1024 -O metadata_csum
sel kernel-ext3 && kernel_image kernel-ext3 "" 4M -t ext3 -b 1024
sel kernel-ext3-v1 && kernel_image kernel-ext3-v1 "journal_checksum" 4M -t ext3 -b 1024
sel debugfs-v2 && debugfs_v2
sel debugfs-v1 && debugfs_v1
sel kernel-fastcommit && kernel_fastcommit
exit 0
