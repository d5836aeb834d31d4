// Read-side descriptions of a volume for `inspect`: the superblock as
// `dumpe2fs -h` lists it, the jbd2 superblock of an internal journal, per-group
// summaries (dumpe2fs's group section, with free ranges taken from the
// bitmaps), and one inode as `debugfs -R stat` shows it (block map and extent
// tree in debugfs's order). Plain data only; the CLI formats it.
//
// The models: e2fsprogs lib/e2p/ls.c (list_super2), lib/e2p/ljs.c
// (e2p_list_journal_super), misc/dumpe2fs.c (list_desc), debugfs/debugfs.c
// (internal_dump_inode, dump_extents, dump_blocks), lib/ext2fs/rw_bitmaps.c
// (how BLOCK_UNINIT / INODE_UNINIT groups read).
import { viewOf } from '../util/struct.js';
import { corrupt } from './errors.js';
import { groupBlockCount, groupFirstBlock } from './geometry.js';
import type { Inode } from './inode.js';
import { I_BLOCK_OFFSET } from './inode.js';
import { EXT_INIT_MAX_LEN } from './layout/extent.js';
import { COMPAT, INCOMPAT, RO_COMPAT } from './layout/features.js';
import { BG_BLOCK_UNINIT, BG_INODE_UNINIT, BG_INODE_ZEROED } from './layout/group-desc.js';
import {
  GOOD_OLD_INODE_SIZE, InodeFlags, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
} from './layout/inode.js';
import { superblockChecksum, inodeChecksum, inodeChecksumSeed } from './checksums.js';
import { walkExtents } from './extents.js';
import { isInline, runAt } from './file.js';
import { inlineBytes } from './inline.js';
import { inodeXattrs, listXattrs, xattrValue } from './xattr.js';
import type { Volume } from './volume.js';

// ---------------------------------------------------------------- names

/** lib/e2p/feature.c names where they differ from the kernel's (features.ts has the kernel's). */
const E2P_NAME: Record<string, string> = {
  gdt_csum: 'uninit_bg', read_only: 'read-only', exclude_bitmap: 'snapshot_bitmap', has_snapshot: 'snapshot',
};

function e2pNames(mask: number, table: Record<string, number>, letter: 'C' | 'I' | 'R'): string[] {
  const byBit = new Map<number, string>();
  for (const [name, bit] of Object.entries(table)) byBit.set(bit, E2P_NAME[name] ?? name);
  const out: string[] = [];
  for (let b = 0; b < 32; b++) {
    const bit = 2 ** b;
    if (Math.floor((mask >>> 0) / bit) % 2 === 1) out.push(byBit.get(bit) ?? `FEATURE_${letter}${b}`);
  }
  return out;
}

/** Feature names as dumpe2fs prints them: compat, incompat, ro_compat, each by bit. */
export function e2pFeatureNames(compat: number, incompat: number, roCompat: number): string[] {
  return [...e2pNames(compat, COMPAT, 'C'), ...e2pNames(incompat, INCOMPAT, 'I'), ...e2pNames(roCompat, RO_COMPAT, 'R')];
}

const MNTOPT: Record<number, string> = {
  0x1: 'debug', 0x2: 'bsdgroups', 0x4: 'user_xattr', 0x8: 'acl', 0x10: 'uid16', 0x20: 'journal_data',
  0x40: 'journal_data_ordered', 0x60: 'journal_data_writeback', 0x100: 'nobarrier', 0x200: 'block_validity',
  0x400: 'discard', 0x800: 'nodelalloc',
};
const DEFM_JMODE = 0x60;

function mountOptionNames(mask: number): string[] {
  const out: string[] = [];
  if (mask & DEFM_JMODE) out.push(MNTOPT[mask & DEFM_JMODE]!);
  for (let b = 0; b < 32; b++) {
    const m = (1 << b) >>> 0;
    if (m & DEFM_JMODE) continue;
    if ((mask >>> 0) & m) out.push(MNTOPT[m] ?? `MNTOPT_${b}`);
  }
  return out;
}

const HASH_NAMES: Record<number, string> = { 0: 'legacy', 1: 'half_md4', 2: 'tea' };
const OS_NAMES = ['Linux', 'Hurd', 'Masix', 'FreeBSD', 'Lites'];
const ERRORS_NAMES: Record<number, string> = { 1: 'Continue', 2: 'Remount read-only', 3: 'Panic' };
const ERRCODES = ['', 'EIO', 'ENOMEM', 'EFSBADCRC', 'EFSCORRUPTED', 'ENOSPC', 'ENOKEY', 'EROFS', 'EFBIG', 'EEXIST',
  'ERANGE', 'EOVERFLOW', 'EBUSY', 'ENOTDIR', 'ENOTEMPTY', 'ESHUTDOWN', 'EFAULT'];

export function hashName(v: number): string { return HASH_NAMES[v] ?? `HASHALG_${v}`; }

/** A 16-byte UUID as text, or null when all zero (e2p prints "<none>"). */
export function uuidString(b: Uint8Array): string | null {
  if (b.every((x) => x === 0)) return null;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A fixed-size NUL-padded string field (bytes up to the first NUL, as UTF-8). */
function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder('utf-8').decode(end < 0 ? b : b.subarray(0, end));
}

function le32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

// ---------------------------------------------------------------- superblock

export interface ErrorRecord {
  time: number;
  function: string;
  line: number;
  ino: number;
  block: number;
  errcode: number;
  errcodeName: string;
}

/** The superblock, field by field, in dumpe2fs -h order (null = dumpe2fs prints no line). */
export interface SuperblockDescription {
  volumeName: string;
  lastMountedOn: string;
  uuid: string | null;
  magic: number;
  revision: number;
  minorRevision: number;
  featureBits: { compat: number; incompat: number; roCompat: number };
  features: string[];
  flags: number;
  flagNames: string[];
  defaultMountOptionBits: number;
  defaultMountOptions: string[];
  mountOptions: string;
  state: number;
  stateText: string;
  errorsBehavior: number;
  errorsBehaviorText: string;
  creatorOs: number;
  creatorOsText: string;
  inodesCount: number;
  blocksCount: number;
  reservedBlocksCount: number;
  overheadClusters: number;
  freeBlocks: number;
  freeInodes: number;
  firstDataBlock: number;
  blockSize: number;
  clusterSize: number;
  bigalloc: boolean;
  descSize: number | null;
  reservedGdtBlocks: number;
  blocksPerGroup: number;
  clustersPerGroup: number;
  inodesPerGroup: number;
  inodeBlocksPerGroup: number;
  raidStride: number;
  raidStripeWidth: number;
  firstMetaBg: number;
  flexBgSize: number | null;
  /** Seconds since the epoch (lo + hi byte); 0 = never. */
  mkfsTime: number;
  lastMountTime: number;
  lastWriteTime: number;
  mountCount: number;
  maxMountCount: number;
  lastChecked: number;
  checkInterval: number;
  kbytesWritten: number;
  reservedUid: number;
  reservedGid: number;
  firstIno: number;
  inodeSize: number;
  minExtraIsize: number;
  wantExtraIsize: number;
  journalUuid: string | null;
  journalInode: number;
  journalDev: number;
  firstOrphan: number;
  defaultHashVersion: number;
  defaultHash: string;
  hashSeed: string | null;
  journalBackupType: number;
  backupBgs: [number, number];
  snapshotInode: number;
  snapshotId: number;
  snapshotReservedBlocks: number;
  snapshotList: number;
  errorCount: number;
  firstError: ErrorRecord | null;
  lastError: ErrorRecord | null;
  mmpBlock: number;
  mmpInterval: number;
  quotaInodes: { user: number; group: number; project: number };
  checksumType: number | null;
  checksum: number | null;
  /** What the checksum should be (null without metadata_csum). */
  checksumComputed: number | null;
  encryptPwSalt: string | null;
  checksumSeed: number | null;
  encoding: number | null;
  orphanFileInode: number | null;
  groupCount: number;
}

export function describeSuperblock(vol: Volume): SuperblockDescription {
  const sb = vol.sb;
  const geo = vol.geo;
  const f = { compat: sb.s_feature_compat >>> 0, incompat: sb.s_feature_incompat >>> 0, roCompat: sb.s_feature_ro_compat >>> 0 };
  const is64 = (f.incompat & INCOMPAT['64bit']) !== 0;
  const hi = (v: number) => (is64 ? v : 0);
  const csum = (f.roCompat & RO_COMPAT.metadata_csum) !== 0;
  const flagNames: string[] = [];
  if (sb.s_flags & 1) flagNames.push('signed_directory_hash');
  if (sb.s_flags & 2) flagNames.push('unsigned_directory_hash');
  if (sb.s_flags & 4) flagNames.push('test_filesystem');
  const stateText = `${sb.s_state & 1 ? 'clean' : 'not clean'}${sb.s_state & 2 ? ' with errors' : ''}`;
  const errRecord = (which: 'first' | 'last'): ErrorRecord | null => {
    const t = which === 'first' ? sb.s_first_error_time + sb.s_first_error_time_hi * 2 ** 32 : sb.s_last_error_time + sb.s_last_error_time_hi * 2 ** 32;
    if (t === 0) return null;
    const code = which === 'first' ? sb.s_first_error_errcode : sb.s_last_error_errcode;
    return {
      time: t,
      function: cString(which === 'first' ? sb.s_first_error_func : sb.s_last_error_func),
      line: which === 'first' ? sb.s_first_error_line : sb.s_last_error_line,
      ino: which === 'first' ? sb.s_first_error_ino : sb.s_last_error_ino,
      block: which === 'first' ? sb.s_first_error_block : sb.s_last_error_block,
      errcode: code,
      errcodeName: ERRCODES[code] ?? `UNKNOWN_ERRCODE_${code}`,
    };
  };
  const bb = sb.s_backup_bgs;
  return {
    volumeName: cString(sb.s_volume_name),
    lastMountedOn: cString(sb.s_last_mounted),
    uuid: uuidString(sb.s_uuid),
    magic: sb.s_magic,
    revision: sb.s_rev_level,
    minorRevision: sb.s_minor_rev_level,
    featureBits: f,
    features: e2pFeatureNames(f.compat, f.incompat, f.roCompat),
    flags: sb.s_flags,
    flagNames,
    defaultMountOptionBits: sb.s_default_mount_opts >>> 0,
    defaultMountOptions: mountOptionNames(sb.s_default_mount_opts),
    mountOptions: cString(sb.s_mount_opts),
    state: sb.s_state,
    stateText,
    errorsBehavior: sb.s_errors,
    errorsBehaviorText: ERRORS_NAMES[sb.s_errors] ?? 'Unknown (continue)',
    creatorOs: sb.s_creator_os,
    creatorOsText: OS_NAMES[sb.s_creator_os] ?? '(unknown os)',
    inodesCount: sb.s_inodes_count,
    blocksCount: sb.s_blocks_count_lo + hi(sb.s_blocks_count_hi) * 2 ** 32,
    reservedBlocksCount: sb.s_r_blocks_count_lo + hi(sb.s_r_blocks_count_hi) * 2 ** 32,
    overheadClusters: sb.s_overhead_clusters,
    freeBlocks: sb.s_free_blocks_count_lo + hi(sb.s_free_blocks_count_hi) * 2 ** 32,
    freeInodes: sb.s_free_inodes_count,
    firstDataBlock: sb.s_first_data_block,
    blockSize: geo.blockSize,
    clusterSize: geo.clusterSize,
    bigalloc: (f.roCompat & RO_COMPAT.bigalloc) !== 0,
    descSize: is64 ? sb.s_desc_size : null,
    reservedGdtBlocks: sb.s_reserved_gdt_blocks,
    blocksPerGroup: sb.s_blocks_per_group,
    clustersPerGroup: sb.s_clusters_per_group,
    inodesPerGroup: sb.s_inodes_per_group,
    inodeBlocksPerGroup: Math.ceil((sb.s_inodes_per_group * geo.inodeSize) / geo.blockSize),
    raidStride: sb.s_raid_stride,
    raidStripeWidth: sb.s_raid_stripe_width,
    firstMetaBg: sb.s_first_meta_bg,
    flexBgSize: sb.s_log_groups_per_flex ? 2 ** sb.s_log_groups_per_flex : null,
    mkfsTime: sb.s_mkfs_time + sb.s_mkfs_time_hi * 2 ** 32,
    lastMountTime: sb.s_mtime + sb.s_mtime_hi * 2 ** 32,
    lastWriteTime: sb.s_wtime + sb.s_wtime_hi * 2 ** 32,
    mountCount: sb.s_mnt_count,
    maxMountCount: sb.s_max_mnt_count,
    lastChecked: sb.s_lastcheck + sb.s_lastcheck_hi * 2 ** 32,
    checkInterval: sb.s_checkinterval,
    kbytesWritten: sb.s_kbytes_written,
    reservedUid: sb.s_def_resuid,
    reservedGid: sb.s_def_resgid,
    firstIno: sb.s_first_ino,
    inodeSize: sb.s_inode_size,
    minExtraIsize: sb.s_min_extra_isize,
    wantExtraIsize: sb.s_want_extra_isize,
    journalUuid: uuidString(sb.s_journal_uuid),
    journalInode: sb.s_journal_inum,
    journalDev: sb.s_journal_dev,
    firstOrphan: sb.s_last_orphan,
    defaultHashVersion: sb.s_def_hash_version,
    defaultHash: hashName(sb.s_def_hash_version),
    hashSeed: uuidString(sb.s_hash_seed),
    journalBackupType: sb.s_jnl_backup_type,
    backupBgs: [le32(bb, 0), le32(bb, 4)],
    snapshotInode: sb.s_snapshot_inum,
    snapshotId: sb.s_snapshot_id,
    snapshotReservedBlocks: sb.s_snapshot_r_blocks_count,
    snapshotList: sb.s_snapshot_list,
    errorCount: sb.s_error_count,
    firstError: errRecord('first'),
    lastError: errRecord('last'),
    mmpBlock: sb.s_mmp_block,
    mmpInterval: sb.s_mmp_interval,
    quotaInodes: { user: sb.s_usr_quota_inum, group: sb.s_grp_quota_inum, project: sb.s_prj_quota_inum },
    checksumType: csum ? sb.s_checksum_type : null,
    checksum: csum ? sb.s_checksum >>> 0 : null,
    checksumComputed: csum ? superblockChecksum(vol.sbBytes) : null,
    encryptPwSalt: uuidString(sb.s_encrypt_pw_salt),
    checksumSeed: f.incompat & INCOMPAT.metadata_csum_seed ? sb.s_checksum_seed >>> 0 : null,
    encoding: f.incompat & INCOMPAT.casefold ? sb.s_encoding : null,
    orphanFileInode: f.compat & COMPAT.orphan_file ? sb.s_orphan_file_inum : null,
    groupCount: geo.groupCount,
  };
}

// ---------------------------------------------------------------- journal

export const JBD2_MAGIC = 0xc03b3998;
const JBD2_COMPAT_NAMES: Record<number, string> = { 0x1: 'journal_checksum' };
const JBD2_INCOMPAT_NAMES: Record<number, string> = {
  0x1: 'journal_incompat_revoke', 0x2: 'journal_64bit', 0x4: 'journal_async_commit', 0x8: 'journal_checksum_v2',
  0x10: 'journal_checksum_v3', 0x20: 'journal_fast_commit',
};
const JBD2_INCOMPAT_FAST_COMMIT = 0x20;
const JBD2_CSUM_TYPES: Record<number, string> = { 1: 'crc32', 2: 'md5', 3: 'sha1', 4: 'crc32c' };

/** The jbd2 superblock of the internal journal (Documentation/filesystems/ext4/journal.rst). */
export interface JournalDescription {
  inode: number;
  /** Physical block of the journal superblock. */
  block: number;
  magicOk: boolean;
  blockType: number;
  blockSize: number;
  maxLen: number;
  first: number;
  sequence: number;
  start: number;
  errno: number;
  featureBits: { compat: number; incompat: number; roCompat: number };
  features: string[];
  uuid: string | null;
  nrUsers: number;
  users: string[];
  checksumType: number;
  checksumTypeName: string;
  checksum: number;
  fastCommitBlocks: number;
  /** s_maxlen - fast commit blocks, as dumpe2fs prints "Max transaction length". */
  maxTransaction: number;
}

/** The internal journal's superblock, or null when the volume has none. */
export function describeJournal(vol: Volume): JournalDescription | null {
  const ino = vol.sb.s_journal_inum;
  if (!vol.has('compat', COMPAT.has_journal) || ino === 0) return null;
  const inode = vol.inodes.get(ino);
  const run = runAt(vol, inode, 0);
  if (run.physical === 0) corrupt('journal', 'journal inode has no block 0', { ino });
  const b = vol.readMetaBlock(run.physical, 'journal', { ino });
  const dv = viewOf(b);
  const be = (o: number) => dv.getUint32(o, false);
  const featureBits = { compat: be(0x24), incompat: be(0x28), roCompat: be(0x2c) };
  const features: string[] = [];
  const tables: [number, Record<number, string>, string][] = [
    [featureBits.compat, JBD2_COMPAT_NAMES, 'C'], [featureBits.incompat, JBD2_INCOMPAT_NAMES, 'I'], [featureBits.roCompat, {}, 'R'],
  ];
  for (const [mask, names, letter] of tables) {
    for (let j = 0; j < 32; j++) {
      const m = (1 << j) >>> 0;
      if (mask & m) features.push(names[m] ?? `FEATURE_${letter}${j}`);
    }
  }
  const maxLen = be(0x10);
  const fc = featureBits.incompat & JBD2_INCOMPAT_FAST_COMMIT && vol.has('compat', COMPAT.fast_commit) ? be(0x54) || 256 : 0;
  const nrUsers = be(0x40);
  const users: string[] = [];
  for (let i = 0; i < Math.min(nrUsers, 48); i++) users.push(uuidString(b.subarray(0x100 + i * 16, 0x110 + i * 16)) ?? '<none>');
  return {
    inode: ino,
    block: run.physical,
    magicOk: be(0) === JBD2_MAGIC,
    blockType: be(4),
    blockSize: be(0xc),
    maxLen,
    first: be(0x14),
    sequence: be(0x18),
    start: be(0x1c),
    errno: dv.getInt32(0x20, false),
    featureBits,
    features,
    uuid: uuidString(b.subarray(0x30, 0x40)),
    nrUsers,
    users,
    checksumType: b[0x50]!,
    checksumTypeName: JBD2_CSUM_TYPES[b[0x50]!] ?? 'unknown',
    checksum: be(0xfc),
    fastCommitBlocks: fc,
    maxTransaction: maxLen - fc,
  };
}

// ---------------------------------------------------------------- groups

/** Where a block lies: its group and offset from that group's first block. */
export interface BlockPlace {
  block: number;
  group: number;
  offset: number;
}

export interface GroupDescription {
  group: number;
  firstBlock: number;
  lastBlock: number;
  /** bg_checksum as stored, and as computed (null without group checksums). */
  checksum: number | null;
  checksumComputed: number | null;
  flags: number;
  /** Flag names dumpe2fs shows (only with group checksums, as it does). */
  flagNames: string[];
  /** Superblock copy in this group (primary in group 0), or null. */
  superblock: number | null;
  /** Group descriptor table copy [first, last], and reserved GDT blocks (non-meta_bg layout). */
  gdt: [number, number] | null;
  reservedGdt: [number, number] | null;
  /** meta_bg: the one descriptor block this group holds. */
  metaBgDescriptor: number | null;
  blockBitmap: BlockPlace;
  inodeBitmap: BlockPlace;
  inodeTable: BlockPlace & { last: number };
  /** Bitmap checksums as stored (metadata_csum only). */
  blockBitmapChecksum: number | null;
  inodeBitmapChecksum: number | null;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  itableUnused: number;
  /** Free ranges read from the bitmaps ([first, last], blocks and inode numbers), like dumpe2fs. */
  freeBlockRanges: [number, number][];
  freeInodeRanges: [number, number][];
  /** Free counts from the bitmaps (compare with freeBlocks / freeInodes). */
  bitmapFreeBlocks: number;
  bitmapFreeInodes: number;
}

function placeOf(vol: Volume, block: number): BlockPlace {
  const group = Math.floor((block - vol.geo.firstDataBlock) / vol.geo.blocksPerGroup);
  return { block, group, offset: block - groupFirstBlock(vol.geo, group) };
}

/** ext2fs_super_and_bgd_loc2: superblock, old-style GDT and meta_bg descriptor block of group g. */
export function groupLayout(vol: Volume, g: number): { superblock: number | null; gdt: [number, number] | null; reservedGdt: [number, number] | null; metaBgDescriptor: number | null } {
  const geo = vol.geo;
  let groupBlock = groupFirstBlock(geo, g);
  if (groupBlock === 0 && geo.blockSize === 1024) groupBlock = 1;
  const metaBg = vol.has('incompat', INCOMPAT.meta_bg);
  const oldDescBlocks = metaBg ? vol.sb.s_first_meta_bg : geo.gdtBlocks;
  const hasSuper = vol.groupHasSuperblock(g);
  const perMeta = geo.descPerBlock;
  const out = { superblock: hasSuper ? groupBlock : null, gdt: null as [number, number] | null, reservedGdt: null as [number, number] | null, metaBgDescriptor: null as number | null };
  if (!metaBg || Math.floor(g / perMeta) < vol.sb.s_first_meta_bg) {
    if (hasSuper) {
      const first = groupBlock + 1;
      if (oldDescBlocks > 0) out.gdt = [first, first + oldDescBlocks - 1];
      const rsv = vol.sb.s_reserved_gdt_blocks;
      if (rsv) out.reservedGdt = [first + oldDescBlocks, first + oldDescBlocks + rsv - 1];
    }
  } else {
    const r = g % perMeta;
    if (r === 0 || r === 1 || r === perMeta - 1) out.metaBgDescriptor = groupBlock + (hasSuper ? 1 : 0);
  }
  return out;
}

/** Blocks a BLOCK_UNINIT group's bitmap would mark in use (mark_uninit_bg_group_blocks). */
function uninitUsedBlocks(vol: Volume): [number, number][] {
  const out: [number, number][] = [];
  if (!vol.hasGroupChecksums) return out;
  for (let g = 0; g < vol.geo.groupCount; g++) {
    const gd = vol.group(g);
    if (!(gd.flags & BG_BLOCK_UNINIT)) continue;
    const l = groupLayout(vol, g);
    if (l.superblock !== null) out.push([l.superblock, l.superblock]);
    if (l.gdt) out.push(l.gdt);
    if (l.reservedGdt) out.push(l.reservedGdt);
    if (l.metaBgDescriptor !== null) out.push([l.metaBgDescriptor, l.metaBgDescriptor]);
    out.push([gd.inodeTable, gd.inodeTable + vol.geo.inodeTableBlocks - 1]);
    out.push([gd.blockBitmap, gd.blockBitmap]);
    out.push([gd.inodeBitmap, gd.inodeBitmap]);
  }
  return out;
}

function isSet(bitmap: Uint8Array, i: number): boolean {
  return (bitmap[i >> 3]! & (1 << (i & 7))) !== 0;
}

/** Free runs of a bitmap of `count` bits, mapped to numbers by `at(i)`; returns the free count too. */
function freeRuns(used: (i: number) => boolean, count: number, at: (i: number) => number, runs: [number, number][]): number {
  let free = 0;
  for (let i = 0; i < count; i++) {
    if (used(i)) continue;
    let j = i;
    while (j + 1 < count && !used(j + 1)) j++;
    runs.push([at(i), at(j)]);
    free += j - i + 1;
    i = j;
  }
  return free;
}

/** Summaries of every group (the bitmaps are read once each). */
export function describeGroups(vol: Volume): GroupDescription[] {
  const extra = uninitUsedBlocks(vol);
  const out: GroupDescription[] = [];
  for (let g = 0; g < vol.geo.groupCount; g++) out.push(describeGroupWith(vol, g, extra));
  return out;
}

export function describeGroup(vol: Volume, g: number): GroupDescription {
  return describeGroupWith(vol, g, uninitUsedBlocks(vol));
}

function describeGroupWith(vol: Volume, g: number, uninitUsed: [number, number][]): GroupDescription {
  const geo = vol.geo;
  const gd = vol.group(g);
  const first = groupFirstBlock(geo, g);
  const last = first + groupBlockCount(geo, g) - 1;
  const csums = vol.hasGroupChecksums;
  const flags = gd.flags;
  const flagNames: string[] = [];
  if (csums) {
    if (flags & BG_INODE_UNINIT) flagNames.push('INODE_UNINIT');
    if (flags & BG_BLOCK_UNINIT) flagNames.push('BLOCK_UNINIT');
    if (flags & BG_INODE_ZEROED) flagNames.push('ITABLE_ZEROED');
  }
  const layout = groupLayout(vol, g);
  const metaCsum = vol.hasMetadataCsum;

  // Block bitmap, cluster-granular: bit i covers blocks from first + i * ratio.
  const ratio = geo.clusterSize / geo.blockSize;
  const perGroup = vol.sb.s_clusters_per_group || geo.blocksPerGroup;
  const blockUninit = csums && (flags & BG_BLOCK_UNINIT) !== 0;
  const bbits = blockUninit ? null : vol.readMetaBlock(gd.blockBitmap, 'bitmap', { group: g });
  const base = Math.floor(geo.firstDataBlock / ratio) + g * perGroup; // cluster number of bit 0
  const clusterUsed = (i: number): boolean => {
    const blk = (base + i) * ratio;
    if (blk > last || blk >= geo.blocksCount) return true; // padding past the end of the volume
    if (bbits) return isSet(bbits, i);
    for (const [a, b] of uninitUsed) if (blk >= a && blk <= b) return true;
    return false;
  };
  const freeBlockRanges: [number, number][] = [];
  const bitmapFreeBlocks = freeRuns(clusterUsed, perGroup, (i) => (base + i) * ratio, freeBlockRanges);

  const ipg = geo.inodesPerGroup;
  const inodeUninit = csums && (flags & BG_INODE_UNINIT) !== 0;
  const ibits = inodeUninit ? null : vol.readMetaBlock(gd.inodeBitmap, 'bitmap', { group: g });
  const freeInodeRanges: [number, number][] = [];
  const bitmapFreeInodes = freeRuns((i) => (ibits ? isSet(ibits, i) : false), ipg, (i) => g * ipg + i + 1, freeInodeRanges);

  const itable = placeOf(vol, gd.inodeTable);
  return {
    group: g,
    firstBlock: first,
    lastBlock: last,
    checksum: csums ? gd.checksum : null,
    checksumComputed: csums ? vol.groupChecksum(gd) : null,
    flags,
    flagNames,
    ...layout,
    blockBitmap: placeOf(vol, gd.blockBitmap),
    inodeBitmap: placeOf(vol, gd.inodeBitmap),
    inodeTable: { ...itable, last: gd.inodeTable + geo.inodeTableBlocks - 1 },
    blockBitmapChecksum: metaCsum ? gd.blockBitmapCsum >>> 0 : null,
    inodeBitmapChecksum: metaCsum ? gd.inodeBitmapCsum >>> 0 : null,
    freeBlocks: gd.freeBlocks,
    freeInodes: gd.freeInodes,
    usedDirs: gd.usedDirs,
    itableUnused: gd.itableUnused,
    freeBlockRanges,
    freeInodeRanges,
    bitmapFreeBlocks,
    bitmapFreeInodes,
  };
}

// ---------------------------------------------------------------- inodes

export type FileTypeName = 'regular' | 'directory' | 'symlink' | 'block special' | 'character special' | 'FIFO' | 'socket' | 'bad type';

/** debugfs's names for i_mode & S_IFMT. */
export function fileTypeName(mode: number): FileTypeName {
  switch (mode & S_IFMT) {
    case S_IFDIR: return 'directory';
    case S_IFREG: return 'regular';
    case S_IFLNK: return 'symlink';
    case S_IFBLK: return 'block special';
    case S_IFCHR: return 'character special';
    case S_IFIFO: return 'FIFO';
    case S_IFSOCK: return 'socket';
    default: return 'bad type';
  }
}

export interface RawTime {
  /** The 32-bit seconds field as stored (unsigned), and the extra word (null when absent). */
  lo: number;
  extra: number | null;
  /** Decoded: seconds since the epoch (epoch bits applied) and nanoseconds. */
  sec: number;
  nsec: number;
}

export interface XattrDescription {
  name: string;
  index: number;
  /** Bytes of the value. */
  length: number;
  value: Uint8Array;
  /** The EA inode holding the value (ea_inode), if any. */
  valueInode: number | null;
  inInode: boolean;
}

/** One entry of debugfs's EXTENTS list: an index entry (ETBn) or a leaf extent. */
export type ExtentEntry =
  | { kind: 'index'; level: number; logical: number; block: number }
  | { kind: 'leaf'; level: number; logical: number; length: number; physical: number; unwritten: boolean };

/** One node of the extent tree (the root is block 0, in the inode). */
export interface ExtentTreeNode {
  block: number;
  level: number;
  depth: number;
  entries: number;
  max: number;
}

/** One entry of debugfs's BLOCKS list: a run of data blocks, or an indirect block. */
export type BlockMapEntry =
  | { kind: 'data'; logical: number; length: number; physical: number }
  | { kind: 'IND' | 'DIND' | 'TIND'; physical: number };

export interface InodeDescription {
  ino: number;
  mode: number;
  type: FileTypeName;
  permissions: number;
  flags: number;
  flagNames: string[];
  generation: number;
  version: number;
  versionLo: number;
  versionHi: number | null;
  uid: number;
  gid: number;
  projid: number | null;
  size: number;
  sizeLo: number;
  fileAcl: number;
  links: number;
  /** i_blocks as stored (lo + hi), and in 512-byte units as stat(2) reports (huge_file aware). */
  blockcount: number;
  blocks512: number;
  fragmentAddress: number;
  times: { ctime: RawTime; atime: RawTime; mtime: RawTime; crtime: RawTime | null; dtime: number };
  extraIsize: number | null;
  checksum: number | null;
  checksumComputed: number | null;
  xattrs: XattrDescription[];
  /** Symlink target as stored (fast, inline or in a block). */
  linkTarget: Uint8Array | null;
  fastLink: boolean;
  device: { major: number; minor: number; newStyle: boolean } | null;
  inlineDataSize: number | null;
  extents: { depth: number; entries: ExtentEntry[]; nodes: ExtentTreeNode[] } | null;
  blockMap: { entries: BlockMapEntry[]; total: number } | null;
}

const FLAG_NAMES = Object.entries(InodeFlags);

function rawTime(lo: number, extra: number | null): RawTime {
  const signed = lo | 0;
  const epoch = extra === null ? 0 : extra & 3;
  return { lo: lo >>> 0, extra: extra === null ? null : extra >>> 0, sec: signed + epoch * 2 ** 32, nsec: extra === null ? 0 : extra >>> 2 };
}

/** Describe inode `ino` (any inode number, used or not). */
export function describeInode(vol: Volume, ino: number): InodeDescription {
  const inode = vol.inodes.get(ino);
  const r = inode.raw;
  const large = vol.geo.inodeSize > GOOD_OLD_INODE_SIZE;
  const extra = large ? r.i_extra_isize : null;
  const ex = extra ?? 0;
  const mode = r.i_mode;
  const type = fileTypeName(mode);
  const isReg = (mode & S_IFMT) === S_IFREG;
  const isDir = (mode & S_IFMT) === S_IFDIR;
  const isLnk = (mode & S_IFMT) === S_IFLNK;
  const has = (end: number) => large && GOOD_OLD_INODE_SIZE + ex >= end;

  let checksum: number | null = null;
  let checksumComputed: number | null = null;
  if (vol.hasMetadataCsum) {
    checksum = r.l_i_checksum_lo;
    if (large && ex >= 2) checksum = (checksum | (r.i_checksum_hi << 16)) >>> 0;
    const seed = inodeChecksumSeed(vol.csumSeed, ino, inode.generation);
    checksumComputed = inodeChecksum(seed, inode.bytes, vol.geo.inodeSize);
    if (!(large && ex >= 4)) checksumComputed &= 0xffff;
  }

  const xattrs: XattrDescription[] = [];
  if (vol.has('compat', COMPAT.ext_attr) || inode.fileAcl !== 0 || (large && ex > 0)) {
    const inInodeCount = inodeXattrs(vol, inode).length;
    listXattrs(vol, inode).forEach((e, i) => {
      const value = xattrValue(vol, inode, e);
      xattrs.push({
        name: e.fullName || `${e.index}.${e.name}`, index: e.index, length: value.length, value,
        valueInode: e.valueInum ?? null, inInode: i < inInodeCount,
      });
    });
  }

  const size = isReg || isDir ? inode.size : r.i_size_lo;
  let linkTarget: Uint8Array | null = null;
  let fastLink = false;
  let device: InodeDescription['device'] = null;
  let inlineDataSize: number | null = null;
  let extents: InodeDescription['extents'] = null;
  let blockMap: InodeDescription['blockMap'] = null;
  const fileType = mode & S_IFMT;
  if (isLnk && inode.size > 0 && inode.size < 60) {
    fastLink = true;
    const src = isInline(inode) ? inlineBytes(vol, inode) : inode.iBlock;
    linkTarget = src.slice(0, inode.size);
  } else if (isLnk && isInline(inode)) {
    linkTarget = inlineBytes(vol, inode).slice(0, inode.size);
  } else if (fileType === S_IFBLK || fileType === S_IFCHR) {
    const w0 = inode.iBlockWord(0);
    device = { ...inode.rdev, newStyle: w0 === 0 };
  } else if (inode.hasFlag(InodeFlags.EXTENTS)) {
    extents = extentList(vol, inode);
  } else if (isInline(inode)) {
    const data = xattrs.find((x) => x.name === 'system.data');
    inlineDataSize = 60 + (data?.length ?? 0);
  } else {
    blockMap = blockMapList(vol, inode);
  }
  if (isLnk && linkTarget === null && !isInline(inode)) {
    const out = new Uint8Array(Math.min(inode.size, vol.blockSize));
    const run = runAt(vol, inode, 0);
    if (run.physical !== 0) out.set(vol.readMetaBlock(run.physical, 'symlink', { ino }).subarray(0, out.length));
    linkTarget = out;
  }

  return {
    ino,
    mode,
    type,
    permissions: mode & 0o7777,
    flags: r.i_flags >>> 0,
    flagNames: FLAG_NAMES.filter(([, bit]) => (r.i_flags & bit) !== 0).map(([n]) => n),
    generation: r.i_generation >>> 0,
    version: inode.version,
    versionLo: r.l_i_version >>> 0,
    versionHi: has(0x9c) ? r.i_version_hi >>> 0 : null,
    uid: inode.uid,
    gid: inode.gid,
    projid: has(0xa0) ? r.i_projid >>> 0 : null,
    size,
    sizeLo: r.i_size_lo >>> 0,
    fileAcl: inode.fileAcl,
    links: r.i_links_count,
    blockcount: r.i_blocks_lo + r.l_i_blocks_high * 2 ** 32,
    blocks512: inode.blocks512,
    fragmentAddress: r.i_obso_faddr >>> 0,
    times: {
      ctime: rawTime(r.i_ctime, has(0x88) ? r.i_ctime_extra : null),
      mtime: rawTime(r.i_mtime, has(0x8c) ? r.i_mtime_extra : null),
      atime: rawTime(r.i_atime, has(0x90) ? r.i_atime_extra : null),
      crtime: has(0x94) ? rawTime(r.i_crtime, has(0x98) ? r.i_crtime_extra : null) : null,
      dtime: r.i_dtime >>> 0,
    },
    extraIsize: extra,
    checksum,
    checksumComputed,
    xattrs,
    linkTarget,
    fastLink,
    device,
    inlineDataSize,
    extents,
    blockMap,
  };
}

/** debugfs's EXTENTS list: index entries (ETB level) and leaves, depth first; and the tree's nodes. */
function extentList(vol: Volume, inode: Inode): NonNullable<InodeDescription['extents']> {
  // walkExtents checks every node (and throws on damage); then read the entries as stored.
  walkExtents(vol, inode, () => {});
  const entries: ExtentEntry[] = [];
  const nodes: ExtentTreeNode[] = [];
  const visit = (buf: Uint8Array, off: number, block: number, level: number): void => {
    const dv = viewOf(buf);
    const n = dv.getUint16(off + 2, true);
    const max = dv.getUint16(off + 4, true);
    const depth = dv.getUint16(off + 6, true);
    nodes.push({ block, level, depth, entries: n, max });
    for (let i = 0; i < n; i++) {
      const e = off + 12 + i * 12;
      const logical = dv.getUint32(e, true);
      if (depth === 0) {
        const raw = dv.getUint16(e + 4, true);
        const unwritten = raw > EXT_INIT_MAX_LEN;
        const physical = dv.getUint16(e + 6, true) * 2 ** 32 + dv.getUint32(e + 8, true);
        entries.push({ kind: 'leaf', level, logical, length: unwritten ? raw - EXT_INIT_MAX_LEN : raw, physical, unwritten });
      } else {
        const child = dv.getUint16(e + 8, true) * 2 ** 32 + dv.getUint32(e + 4, true);
        entries.push({ kind: 'index', level, logical, block: child });
        visit(vol.readMetaBlock(child, 'extent', { ino: inode.ino }).slice(), 0, child, level + 1);
      }
    }
  };
  visit(inode.bytes, I_BLOCK_OFFSET, 0, 0);
  return { depth: nodes[0]!.depth, entries, nodes };
}

/**
 * debugfs's BLOCKS list (ext2fs_block_iterate3 order): direct blocks, then each
 * indirect block before the blocks it maps; runs of consecutive blocks merged,
 * never across an indirect block. `total` counts data and indirect blocks.
 */
function blockMapList(vol: Volume, inode: Inode): NonNullable<InodeDescription['blockMap']> {
  const entries: BlockMapEntry[] = [];
  let total = 0;
  let cur: { kind: 'data'; logical: number; length: number; physical: number } | null = null;
  const apb = vol.blockSize / 4;
  let budget = vol.geo.blocksCount;
  const flush = () => { if (cur) { entries.push(cur); cur = null; } };
  const data = (logical: number, physical: number) => {
    total++;
    if (cur && cur.logical + cur.length === logical && cur.physical + cur.length === physical) { cur.length++; return; }
    flush();
    cur = { kind: 'data', logical, length: 1, physical };
  };
  const names = ['', 'IND', 'DIND', 'TIND'] as const;
  const walk = (ptr: number, level: 1 | 2 | 3, base: number) => {
    if (--budget < 0) corrupt('indirect', 'block map has more blocks than the volume holds', { ino: inode.ino });
    flush();
    total++;
    entries.push({ kind: names[level] as 'IND' | 'DIND' | 'TIND', physical: ptr });
    const buf = vol.readMetaBlock(ptr, 'indirect', { ino: inode.ino }).slice();
    const dv = viewOf(buf);
    const per = apb ** (level - 1);
    for (let i = 0; i < apb; i++) {
      const p = dv.getUint32(i * 4, true);
      if (p === 0) continue;
      if (level === 1) data(base + i, p);
      else walk(p, (level - 1) as 1 | 2, base + i * per);
    }
  };
  for (let i = 0; i < 12; i++) {
    const p = inode.iBlockWord(i);
    if (p !== 0) data(i, p);
  }
  const single = apb;
  const double = apb * apb;
  const roots: [number, 1 | 2 | 3, number][] = [[12, 1, 12], [13, 2, 12 + single], [14, 3, 12 + single + double]];
  for (const [slot, level, base] of roots) {
    const p = inode.iBlockWord(slot);
    if (p !== 0) walk(p, level, base);
  }
  flush();
  return { entries, total };
}

// ---------------------------------------------------------------- MMP

/** The multi-mount protection block (Documentation/filesystems/ext4/mmp.rst). */
export interface MmpDescription {
  block: number;
  magic: number;
  sequence: number;
  /** Seconds since the epoch of the last update. */
  time: number;
  nodeName: string;
  deviceName: string;
  checkInterval: number;
  checksum: number;
}

/** The MMP block, or null without the mmp feature. */
export function describeMmp(vol: Volume): MmpDescription | null {
  if (!vol.has('incompat', INCOMPAT.mmp)) return null;
  const nr = vol.sb.s_mmp_block;
  const b = vol.readMetaBlock(nr, 'superblock', { block: nr });
  const dv = viewOf(b);
  return {
    block: nr,
    magic: dv.getUint32(0, true),
    sequence: dv.getUint32(4, true),
    time: dv.getUint32(8, true) + dv.getUint32(12, true) * 2 ** 32,
    nodeName: cString(b.subarray(0x10, 0x50)),
    deviceName: cString(b.subarray(0x50, 0x70)),
    checkInterval: dv.getUint16(0x70, true),
    checksum: dv.getUint32(0x3fc, true),
  };
}
