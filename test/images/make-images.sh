#!/usr/bin/env bash
# make-images.sh: builds the committed test images (test/images/*.gz) and
# their manifest (manifest.json, MANIFEST.md) from test/images/tree/ plus the
# things git cannot store, which this script creates in a staging area:
# device nodes, fifos, sockets, sparse files, xattrs, ACLs, hardlinks,
# symlinks, owners, modes and timestamps with nanoseconds.
#
# Needs root (chown, mknod, trusted.* xattrs, tmpfs staging, loop mounts for
# the self-check), e2fsprogs (mke2fs, debugfs, e2fsck, dumpe2fs), attr
# (setfattr), acl (setfacl), perl, gzip, sha256sum and node (for the manifest).
#
# Usage: test/images/make-images.sh [IMAGE-NAME ...]   (default: all)
#   OUT=dir   write the .gz files and the manifest there (default: test/images)
#   KEEP=1    keep the work directory (uncompressed images, staging trees)
#
# Reproducibility: every image uses a fixed UUID and hash seed,
# E2FSPROGS_FAKE_TIME and E2FSCK_TIME fix the mkfs/debugfs/fsck times, and a
# debugfs pass sets every inode's mtime/atime (from the staging tree, with
# nanoseconds) and ctime/crtime (fixed T0). Staging is on a private tmpfs, so readdir order
# does not depend on the host filesystem. Rebuilding with the same
# e2fsprogs version gives byte-identical images.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TREE=$HERE/tree
OUT=${OUT:-$HERE}
T0=1704067200 # 2024-01-01T00:00:00Z, the default timestamp of everything
export E2FSPROGS_FAKE_TIME=$T0 E2FSCK_TIME=$T0 SOURCE_DATE_EPOCH=$T0 TZ=UTC LC_ALL=C

die() { echo "make-images: $*" >&2; exit 1; }
for tool in mke2fs debugfs e2fsck dumpe2fs setfattr setfacl perl gzip sha256sum node mknod; do
  command -v "$tool" >/dev/null || die "missing tool: $tool (apt-get install e2fsprogs attr acl perl gzip nodejs)"
done
[ "$(id -u)" = 0 ] || die "must run as root (chown, mknod, trusted.* xattrs)"

WORK=$(mktemp -d /tmp/fuse4fs-mkimages.XXXXXX)
STAGE_ROOT=$WORK/stage
MNT=$WORK/mnt
mkdir -p "$STAGE_ROOT" "$MNT" "$WORK/meta" "$WORK/img" "$OUT"
cleanup() {
  mountpoint -q "$MNT" && umount "$MNT" || true
  mountpoint -q "$STAGE_ROOT" && umount "$STAGE_ROOT" || true
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Staging on a private tmpfs: supports user./trusted./security. xattrs and
# POSIX ACLs on Linux >= 6.6, and gives a readdir order independent of the host.
if ! mount -t tmpfs -o size=256m,mode=755 fuse4fs-stage "$STAGE_ROOT" 2>/dev/null; then
  echo "make-images: warning: cannot mount tmpfs, staging in $STAGE_ROOT" >&2
fi
probe=$STAGE_ROOT/.probe
touch "$probe"
setfattr -n user.probe -v 1 "$probe" || die "staging fs lacks user xattrs"
setfattr -n trusted.probe -v 1 "$probe" || die "staging fs lacks trusted xattrs"
setfattr -n security.probe -v 1 "$probe" || die "staging fs lacks security xattrs"
setfacl -m u:1:r "$probe" || die "staging fs lacks POSIX ACLs"
rm -f "$probe"

CAN_MOUNT=0
if losetup -f >/dev/null 2>&1; then CAN_MOUNT=1; fi

# ---------------------------------------------------------------- helpers

META=/dev/null # meta file of the image being built (tab-separated records)
meta() { local IFS=$'\t'; printf '%s\n' "$*" >>"$META"; }
obj() { meta object "$1" "$2"; }              # obj ROLE PATH
fact() { meta fact "$1" "$2" "$3"; }          # fact PATH KEY JSON-VALUE
jstr() { node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' -- "$1"; }

# stamp STAGE PATH UNIT SIZE SPEC...: write "stamped" data. Each UNIT-byte
# block b that is written holds the line "PATH block b\n" repeated and cut at
# UNIT bytes. SPEC is START:COUNT[:STEP] (block numbers in UNIT units).
# SIZE is the final file size in bytes ("-" = end of the last block written).
stamp() {
  local stage=$1 path=$2 unit=$3 size=$4; shift 4
  mkdir -p "$(dirname "$stage$path")"
  perl -e '
    my ($file, $tag, $unit, $size, @specs) = @ARGV;
    open(my $fh, "+>", $file) or die "$file: $!"; binmode $fh;
    for my $s (@specs) {
      my ($start, $count, $step) = split /:/, $s; $step ||= 1;
      for (my $i = 0; $i < $count; $i++) {
        my $b = $start + $i * $step;
        my $line = sprintf("%s block %d\n", $tag, $b);
        my $data = substr($line x (int($unit / length($line)) + 1), 0, $unit);
        seek($fh, $b * $unit, 0) or die; print $fh $data or die;
      }
    }
    truncate($fh, $size) or die if $size ne "-";
    close $fh or die;' "$stage$path" "$path" "$unit" "$size" "$@"
  fact "$path" stamp "{\"unit\":$unit,\"blocks\":$(node -e 'process.stdout.write(JSON.stringify(process.argv.slice(1)))' -- "$@")}"
}

# pattern LEN SEED: deterministic printable bytes (for xattr values)
pattern() { perl -e 'my ($n,$s)=@ARGV; my $o=""; my $i=0; while (length($o)<$n) { $o .= sprintf("%s-%05d|", $s, $i++) } print substr($o,0,$n)' "$1" "$2"; }

# xa STAGE PATH NAME VALUE: set an xattr and record it in the manifest.
# VALUE starting with 0x is hex (setfattr syntax).
xa() {
  local stage=$1 path=$2 name=$3 value=$4
  if [ -z "$value" ]; then setfattr -n "$name" "$stage$path"; else setfattr -n "$name" -v "$value" "$stage$path"; fi
  local bytes
  if [[ $value == 0x* ]]; then bytes=$(printf '%s' "${value#0x}" | perl -ne 'print pack("H*", $_)' | od -An -tx1 | tr -d ' \n')
  else bytes=$(printf '%s' "$value" | od -An -tx1 | tr -d ' \n'); fi
  local len=$((${#bytes} / 2))
  local sha
  sha=$(printf '%s' "$bytes" | perl -ne 'print pack("H*", $_)' | sha256sum | cut -d' ' -f1)
  if [ "$len" -le 64 ]; then
    fact "$path" "xattr:$name" "{\"len\":$len,\"hex\":\"$bytes\",\"sha256\":\"$sha\"}"
  else
    fact "$path" "xattr:$name" "{\"len\":$len,\"sha256\":\"$sha\"}"
  fi
}

# settime STAGE PATH WHEN: WHEN is anything `touch -d` accepts (use @SECONDS.NS)
settime() { touch -h -d "$3" "$1$2"; }

mklink() { # mklink STAGE PATH TARGET
  mkdir -p "$(dirname "$1$2")"
  ln -s "$3" "$1$2"
  fact "$2" target "$(jstr "$3")"
}

# ---------------------------------------------------------------- tree parts

# add_common STAGE LARGE_INODES(0|1) BLOCKSIZE: the common tree, used by most images.
add_common() {
  local s=$1 large=$2 bs=$3
  cp -a "$TREE/common/." "$s/"
  obj readme /README.txt
  obj small_text /hello.txt
  obj deep_file /dir/sub/deep/file.txt
  obj random_8k /bin/random-8k.bin
  : >"$s/empty"
  obj empty_file /empty

  # regular data
  stamp "$s" /files/stamped-1m 1024 - 0:1024
  obj stamped_1m /files/stamped-1m
  stamp "$s" /files/fragmented 4096 - 0:20:2
  obj fragmented_20_extents /files/fragmented
  stamp "$s" /files/odd-size 1024 3000 0:3
  obj odd_size /files/odd-size

  # symlinks: fast (< 60 bytes, in i_block) and slow (>= 60 bytes, in a block)
  mklink "$s" /links/fast ../hello.txt
  obj symlink_fast /links/fast
  mklink "$s" /links/len59 "$(printf '../%056d' 0)"
  obj symlink_59_bytes_fast /links/len59
  mklink "$s" /links/len60 "$(printf '../%057d' 0)"
  obj symlink_60_bytes_slow /links/len60
  mklink "$s" /links/slow "/this/is/a/slow/symlink/target/$(printf 'x%.0s' $(seq 1 169))"
  obj symlink_slow_200 /links/slow
  mklink "$s" /links/dangling does-not-exist
  obj symlink_dangling /links/dangling
  mklink "$s" /links/to-dir ../dir
  obj symlink_to_dir /links/to-dir
  # hardlinks: three names, one inode
  printf 'one inode, three names\n' >"$s/links/hard-a"
  ln "$s/links/hard-a" "$s/links/hard-b"
  ln "$s/links/hard-a" "$s/dir/hard-c"
  obj hardlink_a /links/hard-a
  obj hardlink_b /links/hard-b
  obj hardlink_c /dir/hard-c

  # special files
  mkdir -p "$s/special"
  mkfifo "$s/special/fifo"
  mknod "$s/special/chr" c 1 3
  mknod "$s/special/blk" b 7 0
  mknod "$s/special/chr-big" c 300 70000 # needs the new (i_block[1]) encoding
  fact /special/chr rdev '{"major":1,"minor":3}'
  fact /special/blk rdev '{"major":7,"minor":0}'
  fact /special/chr-big rdev '{"major":300,"minor":70000}'
  obj fifo /special/fifo
  obj chardev /special/chr
  obj blockdev /special/blk
  obj chardev_big_numbers /special/chr-big
  if perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die' "$s/special/sock"; then
    obj socket /special/sock
  else
    meta note "could not create a unix socket in staging"
  fi

  # sparse files
  stamp "$s" /sparse/holes 4096 4194304 0:1 256:1
  obj sparse_holes /sparse/holes
  truncate -s 10M "$s/sparse/all-hole"
  obj sparse_all_hole /sparse/all-hole
  stamp "$s" /sparse/tail 4096 2097152 511:1
  obj sparse_data_at_end /sparse/tail
  stamp "$s" /sparse/over4g 4096 5368709120 1048576:1
  obj sparse_over_4g /sparse/over4g

  # modes (chmod after chown: chown clears setuid/setgid)
  mkdir -p "$s/modes" "$s/modes/sticky-dir"
  for m in setuid:4755 setgid:2755 ro:0444 none:0000 exec:0755 all:7777; do
    printf '#!/bin/sh\necho %s\n' "${m%%:*}" >"$s/modes/${m%%:*}"
    chmod "${m##*:}" "$s/modes/${m%%:*}"
    obj "mode_${m%%:*}" "/modes/${m%%:*}"
  done
  chmod 1777 "$s/modes/sticky-dir"
  obj mode_sticky_dir /modes/sticky-dir

  # owners
  mkdir -p "$s/owners"
  for o in u1000:1000:1000 nobody:65534:65534 big:100000:200000; do
    IFS=: read -r n u g <<<"$o"
    printf '%s\n' "$n" >"$s/owners/$n"
    chown "$u:$g" "$s/owners/$n"
    obj "owner_$n" "/owners/$n"
  done

  # many entries: a multi-block directory (an htree after e2fsck -D)
  mkdir -p "$s/many"
  for i in $(seq 0 299); do : >"$s/many/$(printf 'entry-%04d-with-a-somewhat-longer-name' "$i")"; done
  obj dir_300_entries /many

  # names
  mkdir -p "$s/names"
  printf 'latin\n' >"$s/names/héllo wörld.txt"
  printf 'cjk\n' >"$s/names/日本語.txt"
  printf 'hidden\n' >"$s/names/.hidden"
  printf 'dash\n' >"$s/names/-dash"
  printf 'long\n' >"$s/names/long-$(printf 'n%.0s' $(seq 1 250))"
  obj name_with_space "/names/héllo wörld.txt"
  obj name_255_bytes "/names/long-$(printf 'n%.0s' $(seq 1 250))"

  add_xattrs "$s" "$bs"

  # timestamps: everything T0, then a few specific ones (applied last)
  find "$s" -depth -exec touch -h -d "@$T0" {} +
  mkdir -p "$s/times"
  for t in ns epoch pre1970 max32 y2040; do printf '%s\n' "$t" >"$s/times/$t"; done
  settime "$s" /times/ns @1614834367.123456789 # 2021-03-04T05:06:07.123456789Z
  settime "$s" /times/epoch @0
  settime "$s" /times/pre1970 @-315619200 # 1960-01-01
  settime "$s" /times/max32 @2147483647   # 2038-01-19T03:14:07Z
  obj mtime_ns /times/ns
  obj mtime_epoch /times/epoch
  obj mtime_pre1970 /times/pre1970
  obj mtime_max32 /times/max32
  if [ "$large" = 1 ]; then
    settime "$s" /times/y2040 @2208988800.5 # 2040-01-01, needs the epoch bits
    obj mtime_y2040 /times/y2040
  else
    rm "$s/times/y2040" # 128-byte inodes have no room for epoch bits
  fi
  touch -h -d "@$T0" "$s/times" "$s"
}

# add_xattrs STAGE BLOCKSIZE: all of one inode's xattrs that do not fit in
# the inode must fit in one block, so 1 KiB-block images get smaller sets.
add_xattrs() {
  local s=$1 bs=$2 big=2000 many=40
  if [ "$bs" -lt 4096 ]; then big=700; many=20; fi
  mkdir -p "$s/xattr" "$s/acl"
  printf 'one small xattr, fits in the inode\n' >"$s/xattr/inode-small"
  xa "$s" /xattr/inode-small user.comment hello
  obj xattr_in_inode /xattr/inode-small
  printf 'one big xattr, does not fit in the inode\n' >"$s/xattr/block-big"
  xa "$s" /xattr/block-big user.big "$(pattern "$big" big)"
  obj xattr_in_block /xattr/block-big
  printf 'every namespace\n' >"$s/xattr/mixed"
  xa "$s" /xattr/mixed user.a 1
  xa "$s" /xattr/mixed user.empty ""
  xa "$s" /xattr/mixed user.binary 0x00ff10fe
  xa "$s" /xattr/mixed trusted.t "trusted value"
  xa "$s" /xattr/mixed security.s "security value"
  obj xattr_namespaces /xattr/mixed
  printf 'many xattrs\n' >"$s/xattr/many"
  for i in $(seq -w 0 $((many - 1))); do xa "$s" /xattr/many "user.attr$i" "value-$i"; done
  obj xattr_many /xattr/many
  mkdir -p "$s/xattr/dir"
  xa "$s" /xattr/dir user.dirattr "on a directory"
  obj xattr_on_dir /xattr/dir

  printf 'acl\n' >"$s/acl/file"
  setfacl -m u:1000:rw-,g:100:r-- "$s/acl/file"
  fact /acl/file acl "$(jstr "$(getfacl -cn "$s/acl/file" 2>/dev/null | grep -v '^$' | tr '\n' ',' | sed 's/,$//')")"
  obj acl_access /acl/file
  mkdir -p "$s/acl/dir"
  setfacl -m u:1000:rwx "$s/acl/dir"
  setfacl -d -m u::rwx,g::r-x,o::---,u:1000:rwx,g:100:r-x "$s/acl/dir"
  fact /acl/dir acl "$(jstr "$(getfacl -cn "$s/acl/dir" 2>/dev/null | grep -v '^$' | tr '\n' ',' | sed 's/,$//')")"
  obj acl_default /acl/dir
}

# add_sparse_big STAGE: data in direct, indirect, double and triple indirect
# ranges (1 KiB blocks: direct 0-11, ind 12-267, dind 268-65803, tind 65804+)
add_sparse_big() {
  local s=$1
  stamp "$s" /sparse/big 1024 73400320 0:1 100:1 5000:1 65904:2
  obj sparse_triple_indirect /sparse/big
  stamp "$s" /files/dind 1024 - 0:300
  obj double_indirect_300k /files/dind
  touch -h -d "@$T0" "$s/sparse" "$s/files" "$s/sparse/big" "$s/files/dind"
}

# ---------------------------------------------------------------- image build

IMAGE_INDEX=0
declare -a BUILT=()

# begin NAME IMAGEFILE FSTYPE DESCRIPTION: start an image; sets STAGE and META
begin() {
  NAME=$1; IMG_FILE=$2; FSTYPE=$3
  IMAGE_INDEX=$((IMAGE_INDEX + 1))
  UUID=$(printf 'f4f5e000-0000-4000-8000-%012d' "$IMAGE_INDEX")
  SEED=$(printf 'f4f5a5a5-0000-4000-8000-%012d' "$IMAGE_INDEX")
  STAGE=$STAGE_ROOT/$NAME
  META=$WORK/meta/$NAME.tsv
  IMG=$WORK/img/$IMG_FILE
  rm -rf "$STAGE" "$IMG"; : >"$META"; mkdir -p "$STAGE"
  meta name "$NAME"
  meta image "$IMG_FILE"
  meta fstype "$FSTYPE"
  meta describe "$4"
  meta uuid "$UUID"
  meta hash_seed "$SEED"
  DEBUGFS_CMDS=$WORK/$NAME.debugfs
  : >"$DEBUGFS_CMDS"
  echo "== $NAME" >&2
}

# mkfs SIZE MKE2FS-ARGS...: run mke2fs -d on the staging tree
mkfs() {
  local size=$1; shift
  local args=(-F -q -t "$FSTYPE" -L "$NAME" -U "$UUID" -E "root_owner=0:0,hash_seed=$SEED,lazy_itable_init=0,lazy_journal_init=0,nodiscard" "$@")
  meta mkfs "mke2fs ${args[*]} -d STAGING $IMG_FILE $size"
  mke2fs "${args[@]}" -d "$STAGE" "$IMG" "$size" >"$WORK/$NAME.mkfs.log" 2>&1 || { cat "$WORK/$NAME.mkfs.log" >&2; die "$NAME: mke2fs failed"; }
}

# debugfs_w DESCRIPTION: run the queued debugfs commands (-w), fail on errors
debugfs_run() {
  [ -s "$DEBUGFS_CMDS" ] || return 0
  local log=$WORK/$NAME.debugfs.log
  debugfs -w -f "$DEBUGFS_CMDS" "$IMG" >"$log" 2>&1 || { cat "$log" >&2; die "$NAME: debugfs failed"; }
  # debugfs -f exits 0 even when a command fails; its errors name the command
  if grep -vE '^(debugfs [0-9.]+ \(|debugfs: )' "$log" | grep -q .; then
    grep -vE '^(debugfs [0-9.]+ \(|debugfs: )' "$log" | head -20 >&2
    die "$NAME: a debugfs command failed (full log: $log)"
  fi
  : >"$DEBUGFS_CMDS"
}

# queue_times LARGE_INODES: set mtime (with ns) and atime (= mtime) from the
# staging tree, ctime = crtime = T0, for every inode (mke2fs -d drops the
# nanoseconds and copies the staging ctime, which cannot be chosen).
queue_times() {
  local large=$1 rel t sec frac ns lo s32 epoch extra p
  while IFS=$'\t' read -r -d '' t rel; do
    p="/$rel"; [ -z "$rel" ] && p=/
    sec=${t%.*}; frac=${t#*.}; ns=$((10#${frac:0:9}))
    lo=$((sec & 0xffffffff)); s32=$lo; [ "$lo" -ge 2147483648 ] && s32=$((lo - 4294967296))
    epoch=$(((sec - s32) >> 32 & 3)); extra=$((ns << 2 | epoch))
    {
      printf 'sif "%s" mtime @%s\nsif "%s" atime @%s\nsif "%s" ctime @%s\n' "$p" "$sec" "$p" "$sec" "$p" "$T0"
      if [ "$large" = 1 ]; then
        printf 'sif "%s" mtime_extra %d\nsif "%s" atime_extra %d\n' "$p" "$extra" "$p" "$extra"
        printf 'sif "%s" ctime_extra 0\nsif "%s" crtime @%s\nsif "%s" crtime_extra 0\n' "$p" "$p" "$T0" "$p"
      fi
    } >>"$DEBUGFS_CMDS"
  done < <(find "$STAGE" -printf '%T@\t%P\0')
}

fsck_fix() { # fsck_fix ARGS: e2fsck -fy[D]; exit 0 or 1 (fixed) is fine
  meta post "e2fsck $* IMAGE"
  local rc=0
  e2fsck "$@" "$IMG" >"$WORK/$NAME.fsck-fix.log" 2>&1 || rc=$?
  [ $rc -le 1 ] || { cat "$WORK/$NAME.fsck-fix.log" >&2; die "$NAME: e2fsck $* exit $rc"; }
  if [ $rc = 1 ]; then
    meta fsckfix "$(grep -E 'Fix\? yes|Salvage\? yes|Clear\? yes' "$WORK/$NAME.fsck-fix.log" | sed 's/  */ /g' | tr '\n' ';' | sed 's/;$//')"
  fi
}

# finish MOUNTABLE MOUNT-OPTS [NOTE]: verify, test-mount, compress, record
finish() {
  local mountable=$1 opts=$2 note=${3:-}
  local rc=0
  e2fsck -fn "$IMG" >"$WORK/$NAME.fsck.log" 2>&1 || rc=$?
  [ $rc = 0 ] || { cat "$WORK/$NAME.fsck.log" >&2; die "$NAME: e2fsck -fn exit $rc"; }
  if [ "$CAN_MOUNT" = 1 ]; then
    local mrc=0
    mount -o "loop,$opts" "$IMG" "$MNT" 2>/dev/null || mrc=$?
    if [ $mrc = 0 ]; then
      umount "$MNT"
      [ "$mountable" = yes ] || die "$NAME: expected the kernel to refuse it, but it mounted"
    else
      [ "$mountable" = no ] || die "$NAME: loop mount -o $opts failed"
      note="$note (kernel said: $(dmesg 2>/dev/null | grep -E 'EXT4-fs \(loop' | tail -1 | sed 's/^\[[^]]*\] //'))"
    fi
  fi
  meta mount "$mountable" "$opts" "$note"
  gzip -9n -c "$IMG" >"$OUT/$IMG_FILE.gz"
  BUILT+=("$NAME")
}

# ---------------------------------------------------------------- the images

build_ext2_1k() {
  begin ext2-1k ext2-1k.img ext2 "ext2, 1 KiB blocks, 128-byte inodes, indirect block maps; sparse file reaching the triple-indirect block"
  add_common "$STAGE" 0 1024
  add_sparse_big "$STAGE"
  mkfs 8M -b 1024 -I 128
  meta note "128-byte inodes: no nanoseconds, crtime or epoch bits (/times/ns has ns 0, no /times/y2040); every xattr lives in a block"
  queue_times 0; debugfs_run; meta post "debugfs -w: set mtime/atime from staging, ctime=T0"
  finish yes ro
}

build_ext3() {
  begin ext3 ext3.img ext3 "ext3 (has_journal, dir_index), 1 KiB blocks, indirect block maps, htree directory (e2fsck -D)"
  add_common "$STAGE" 1 1024
  add_sparse_big "$STAGE"
  mkfs 16M -b 1024
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  fsck_fix -fyD
  finish yes ro,noload
}

build_ext4() {
  begin ext4 ext4.img ext4 "ext4 defaults (extents, flex_bg, 64bit, metadata_csum, huge_file, dir_nlink, extra_isize), 4 KiB blocks, 256-byte inodes; the whole common tree"
  add_common "$STAGE" 1 4096
  mkfs 16M -b 4096
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  fsck_fix -fyD
  finish yes ro,noload
}

build_ext4_1k() {
  begin ext4-1k ext4-1k.img ext4 "ext4, 1 KiB blocks; the common tree; directories left linear (no e2fsck -D)"
  add_common "$STAGE" 1 1024
  add_sparse_big "$STAGE"
  mkfs 16M -b 1024
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  finish yes ro,noload
}

build_ext4_64k() {
  begin ext4-64k ext4-64k.img ext4 "ext4, 64 KiB blocks (too small for a journal); the common tree"
  add_common "$STAGE" 1 65536
  mkfs 32M -b 65536
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  fsck_fix -fyD
  finish no ro "block size 65536 > page size 4096: Linux (6.18, x86-64) refuses to mount it"
}

build_ext4_inline() {
  begin ext4-inline ext4-inline.img ext4 "ext4 with inline_data: small files and small directories stored in the inode"
  add_common "$STAGE" 1 4096
  local s=$STAGE
  mkdir -p "$s/inline/smalldir" "$s/inline/bigdir"
  printf 'tiny\n' >"$s/inline/tiny"
  printf '%059d\n' 0 >"$s/inline/sixty" # 60 bytes: exactly i_block
  printf '%099d\n' 0 >"$s/inline/hundred" # 100 bytes: i_block + system.data
  pattern 3000 large >"$s/inline/too-large" # 3000 bytes: needs a block
  : >"$s/inline/empty"
  for n in a b c; do printf '%s\n' "$n" >"$s/inline/smalldir/$n"; done
  for i in $(seq -w 0 39); do printf '%s\n' "$i" >"$s/inline/bigdir/file-$i"; done
  obj inline_tiny /inline/tiny
  obj inline_60_bytes /inline/sixty
  obj inline_100_bytes /inline/hundred
  obj not_inline_3000_bytes /inline/too-large
  obj inline_empty /inline/empty
  obj inline_dir /inline/smalldir
  obj dir_too_big_for_inline /inline/bigdir
  touch -h -d "@$T0" "$s/inline"/* "$s/inline/smalldir"/* "$s/inline/bigdir"/* "$s/inline/smalldir" "$s/inline/bigdir" "$s/inline" "$s"
  mkfs 16M -b 4096 -O inline_data
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  fsck_fix -fyD
  finish yes ro,noload
}

build_ext4_bigdir() {
  begin ext4-bigdir ext4-bigdir.img ext4 "ext4, 1 KiB blocks; /bigdir holds 1500 empty files with ~200-byte names: a two-level htree after e2fsck -D"
  local s=$STAGE i
  cp -a "$TREE/common/README.txt" "$s/"
  mkdir -p "$s/bigdir"
  local pad
  pad=$(printf 'p%.0s' $(seq 1 180))
  for i in $(seq 0 1499); do : >"$s/bigdir/$(printf 'file-%05d-%s' "$i" "$pad")"; done
  fact /bigdir entries 1500
  fact /bigdir first_name "$(jstr "$(printf 'file-%05d-%s' 0 "$pad")")"
  fact /bigdir name_pattern "$(jstr "file-%05d-$pad (0..1499)")"
  obj htree_two_level /bigdir
  find "$s" -depth -exec touch -h -d "@$T0" {} +
  mkfs 16M -b 1024 -N 2048
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  fsck_fix -fyD
  local levels
  levels=$(debugfs -R "htree /bigdir" "$IMG" 2>/dev/null | sed -n 's/.*Indirect levels: \([0-9]*\).*/\1/p' | head -1)
  [ "$levels" = 1 ] || die "$NAME: /bigdir indirect levels = '$levels', wanted 1"
  fact /bigdir htree_indirect_levels 1
  finish yes ro,noload
}

build_ext4_deep_extents() {
  begin ext4-deep-extents ext4-deep-extents.img ext4 "ext4, 1 KiB blocks; a 1200-extent file (extent tree depth 2), a 100-extent file (depth 1), sparse files, unwritten extents"
  local s=$STAGE
  cp -a "$TREE/common/README.txt" "$s/"
  stamp "$s" /deep/depth2 1024 - 0:1200:2
  obj extent_depth_2 /deep/depth2
  stamp "$s" /deep/depth1 1024 - 0:100:2
  obj extent_depth_1 /deep/depth1
  stamp "$s" /deep/depth0 1024 - 0:3:2
  obj extent_depth_0 /deep/depth0
  stamp "$s" /sparse/holes 4096 4194304 0:1 256:1
  obj sparse_holes /sparse/holes
  truncate -s 10M "$s/sparse/all-hole"
  obj sparse_all_hole /sparse/all-hole
  stamp "$s" /sparse/far 1024 - 0:1 1000000:1
  obj sparse_far_block /sparse/far
  # unwritten extents: mke2fs -d turns fallocated ranges into holes, so
  # debugfs fallocate makes them afterwards (blocks are 1 KiB here)
  stamp "$s" /unwritten/prealloc 1024 65536 0:4
  obj unwritten_inside_size /unwritten/prealloc
  stamp "$s" /unwritten/beyond-eof 1024 - 0:1
  obj unwritten_beyond_eof /unwritten/beyond-eof
  find "$s" -depth -exec touch -h -d "@$T0" {} +
  mkfs 16M -b 1024
  printf 'fallocate /unwritten/prealloc 4 63\nfallocate /unwritten/beyond-eof 1 31\n' >>"$DEBUGFS_CMDS"
  meta post "debugfs -w: fallocate /unwritten/prealloc 4 63; fallocate /unwritten/beyond-eof 1 31"
  fact /unwritten/prealloc unwritten_blocks '"4-63 (1 KiB blocks), read as zeros"'
  fact /unwritten/beyond-eof unwritten_blocks '"1-31 (1 KiB blocks), past i_size"'
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  local f want depth
  for f in depth2:2 depth1:1 depth0:0; do
    want=${f#*:}
    depth=$(debugfs -R "ex /deep/${f%:*}" "$IMG" 2>/dev/null | awk 'NR == 2 { print $2 + 0 }')
    [ "$depth" = "$want" ] || die "$NAME: /deep/${f%:*} extent depth $depth, wanted $want"
    fact "/deep/${f%:*}" extent_depth "$want"
  done
  if ! debugfs -R "ex /unwritten/prealloc" "$IMG" 2>/dev/null | grep -q Uninit; then die "$NAME: no unwritten extents"; fi
  finish yes ro,noload
}

build_ext4_xattr() {
  begin ext4-xattr ext4-xattr.img ext4 "ext4 with ea_inode: xattrs in the inode, in an xattr block, and values of 12-16 KiB in EA inodes; ACLs"
  local s=$STAGE
  cp -a "$TREE/common/README.txt" "$s/"
  add_xattrs "$s" 4096
  mkdir -p "$s/ea"
  printf 'one 16 KiB value in an EA inode\n' >"$s/ea/huge"
  xa "$s" /ea/huge user.huge "$(pattern 16384 huge)"
  obj xattr_ea_inode_16k /ea/huge
  printf 'two 12 KiB values plus small ones\n' >"$s/ea/two"
  xa "$s" /ea/two user.first "$(pattern 12288 first)"
  xa "$s" /ea/two trusted.second "$(pattern 12288 second)"
  xa "$s" /ea/two user.small tiny
  obj xattr_two_ea_inodes /ea/two
  find "$s" -depth -exec touch -h -d "@$T0" {} +
  mkfs 16M -b 4096 -O ea_inode
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  # mke2fs 1.47.0 -d leaves i_blocks of an inode with EA-inode values short
  # (the kernel charges the EA inode's blocks to it); e2fsck -fy fixes that
  fsck_fix -fy
  finish yes ro,noload
}

build_demo() {
  begin demo demo.ext4 ext4 "the README demo: a small pleasant tree with a symlink and a hardlink"
  local s=$STAGE
  cp -a "$TREE/demo/." "$s/"
  ln -s notes/2024-01.txt "$s/latest-notes"
  fact /latest-notes target '"notes/2024-01.txt"'
  ln "$s/src/hello.c" "$s/src/hello-copy.c"
  setfattr -n user.description -v "the demo image" "$s/README.txt"
  obj readme /README.txt
  obj symlink /latest-notes
  obj hardlink_a /src/hello.c
  obj hardlink_b /src/hello-copy.c
  find "$s" -depth -exec touch -h -d "@$T0" {} +
  mkfs 8M -b 4096
  queue_times 1; debugfs_run; meta post "debugfs -w: set mtime/atime (ns) from staging, ctime=crtime=T0"
  finish yes ro,noload
}

ALL=(ext2-1k ext3 ext4 ext4-1k ext4-64k ext4-inline ext4-bigdir ext4-deep-extents ext4-xattr demo)
WANT=("$@")
[ ${#WANT[@]} -gt 0 ] || WANT=("${ALL[@]}")
for n in "${WANT[@]}"; do
  case $n in
    ext2-1k) build_ext2_1k ;;
    ext3) build_ext3 ;;
    ext4) build_ext4 ;;
    ext4-1k) build_ext4_1k ;;
    ext4-64k) build_ext4_64k ;;
    ext4-inline) build_ext4_inline ;;
    ext4-bigdir) build_ext4_bigdir ;;
    ext4-deep-extents) build_ext4_deep_extents ;;
    ext4-xattr) build_ext4_xattr ;;
    demo) build_demo ;;
    *) die "unknown image $n (known: ${ALL[*]})" ;;
  esac
done

[ ${#BUILT[@]} = ${#WANT[@]} ] || die "built ${BUILT[*]:-nothing}, wanted ${WANT[*]}"
node "$HERE/gen-manifest.mjs" "$WORK/meta" "$WORK/img" "$OUT" "${BUILT[@]}"
du -ch "$OUT"/*.gz | tail -1
