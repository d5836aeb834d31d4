// Volume geometry derived from the superblock, validated at the parse boundary:
// Documentation/filesystems/ext4/overview.rst ("Blocks", "Block Groups",
// "Flexible Block Groups", "Meta Block Groups") and super.rst.
import { joinU64 } from '../util/struct.js';
import { corrupt } from './errors.js';
import { EXT2_MAGIC, Superblock } from './layout/superblock.js';
import { COMPAT, INCOMPAT, RO_COMPAT } from './layout/features.js';

export interface Geometry {
  blockSize: number;
  log2BlockSize: number;
  clusterSize: number;
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodesCount: number;
  inodeSize: number;
  firstIno: number;
  groupCount: number;
  descSize: number;
  descPerBlock: number;
  /** Blocks of the primary group descriptor table (without meta_bg). */
  gdtBlocks: number;
  inodeTableBlocks: number;
  revLevel: number;
  compat: number;
  incompat: number;
  roCompat: number;
  groupsPerFlex: number;
  firstMetaBg: number;
  reservedGdtBlocks: number;
}

export function has(g: { compat: number; incompat: number; roCompat: number }, kind: 'compat' | 'incompat' | 'roCompat', bit: number): boolean {
  return (g[kind] & bit) !== 0;
}

/** Parse and check the superblock's geometry against the device size (in bytes). */
export function readGeometry(sb: InstanceType<typeof Superblock>, deviceBytes: number): Geometry {
  const bad = (detail: string): never => corrupt('superblock', detail, { block: 0 });
  if (sb.s_magic !== EXT2_MAGIC) bad(`bad magic 0x${sb.s_magic.toString(16)} (not an ext2/ext3/ext4 filesystem)`);
  const revLevel = sb.s_rev_level;
  if (revLevel > 1) bad(`unknown revision level ${revLevel}`);
  if (sb.s_log_block_size > 6) bad(`block size 2^(10+${sb.s_log_block_size}) is above 64 KiB`);
  const log2BlockSize = 10 + sb.s_log_block_size;
  const blockSize = 1 << log2BlockSize;
  const compat = sb.s_feature_compat >>> 0;
  const incompat = revLevel === 0 ? 0 : sb.s_feature_incompat >>> 0;
  const roCompat = revLevel === 0 ? 0 : sb.s_feature_ro_compat >>> 0;
  const is64 = (incompat & INCOMPAT['64bit']) !== 0;
  const bigalloc = (roCompat & RO_COMPAT.bigalloc) !== 0;
  if (sb.s_log_cluster_size > 16 + 6) bad(`cluster size log ${sb.s_log_cluster_size} out of range`);
  const clusterSize = bigalloc ? 1 << (10 + sb.s_log_cluster_size) : blockSize;

  let blocksCount: number;
  try {
    blocksCount = joinU64(sb.s_blocks_count_lo, is64 ? sb.s_blocks_count_hi : 0);
  } catch {
    return bad('block count above 2^53');
  }
  const firstDataBlock = sb.s_first_data_block;
  if (blocksCount === 0) bad('block count is zero');
  if (blockSize === 1024 ? firstDataBlock !== 1 : firstDataBlock !== 0) {
    // The kernel accepts 0 for 1 KiB blocks too in theory; e2fsck insists on this rule.
    if (!(blockSize === 1024 && firstDataBlock === 0)) bad(`first data block ${firstDataBlock} is wrong for ${blockSize}-byte blocks`);
  }
  if (firstDataBlock >= blocksCount) bad(`first data block ${firstDataBlock} >= block count ${blocksCount}`);
  if (blocksCount * blockSize > deviceBytes) {
    bad(`block count ${blocksCount} × ${blockSize} exceeds the device size ${deviceBytes} (truncated image?)`);
  }

  const blocksPerGroup = sb.s_blocks_per_group;
  const inodesPerGroup = sb.s_inodes_per_group;
  if (blocksPerGroup === 0 || (!bigalloc && blocksPerGroup > blockSize * 8) || blocksPerGroup % 8 !== 0) {
    bad(`blocks per group ${blocksPerGroup} out of range`);
  }
  if (bigalloc && sb.s_clusters_per_group > blockSize * 8) bad(`clusters per group ${sb.s_clusters_per_group} out of range`);
  if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8 || inodesPerGroup % 8 !== 0) {
    bad(`inodes per group ${inodesPerGroup} out of range`);
  }
  const inodeSize = revLevel === 0 ? 128 : sb.s_inode_size;
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) bad(`inode size ${inodeSize} invalid`);
  const firstIno = revLevel === 0 ? 11 : sb.s_first_ino;
  if (firstIno < 11 || firstIno > sb.s_inodes_count) bad(`first inode ${firstIno} out of range`);

  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  const inodesCount = sb.s_inodes_count;
  if (inodesCount !== groupCount * inodesPerGroup) {
    bad(`inode count ${inodesCount} != ${groupCount} groups × ${inodesPerGroup} inodes per group`);
  }
  let descSize = 32;
  if (is64) {
    descSize = sb.s_desc_size;
    if (descSize < 64 || descSize > 1024 || (descSize & (descSize - 1)) !== 0) bad(`descriptor size ${descSize} invalid`);
  }
  const descPerBlock = blockSize / descSize;
  const gdtBlocks = Math.ceil(groupCount / descPerBlock);
  const inodeTableBlocks = Math.ceil((inodesPerGroup * inodeSize) / blockSize);
  const flex = (incompat & INCOMPAT.flex_bg) !== 0;
  if (flex && sb.s_log_groups_per_flex > 31) bad(`log groups per flex ${sb.s_log_groups_per_flex} out of range`);
  const groupsPerFlex = flex ? 2 ** sb.s_log_groups_per_flex : 1;
  const firstMetaBg = (incompat & INCOMPAT.meta_bg) !== 0 ? sb.s_first_meta_bg : Number.MAX_SAFE_INTEGER;
  if ((incompat & INCOMPAT.meta_bg) !== 0 && firstMetaBg > gdtBlocks) bad(`first meta_bg ${firstMetaBg} beyond ${gdtBlocks} descriptor blocks`);
  const reservedGdtBlocks = (compat & COMPAT.resize_inode) !== 0 ? sb.s_reserved_gdt_blocks : 0;
  if (reservedGdtBlocks > blockSize / 4) bad(`reserved GDT blocks ${reservedGdtBlocks} out of range`);

  return {
    blockSize, log2BlockSize, clusterSize, blocksCount, firstDataBlock, blocksPerGroup, inodesPerGroup,
    inodesCount, inodeSize, firstIno, groupCount, descSize, descPerBlock, gdtBlocks, inodeTableBlocks,
    revLevel, compat, incompat, roCompat, groupsPerFlex, firstMetaBg, reservedGdtBlocks,
  };
}

function isPowerOf(n: number, base: number): boolean {
  if (n < 1) return false;
  while (n % base === 0) n /= base;
  return n === 1;
}

/** Does group `g` hold a superblock backup (and so a GDT copy, without meta_bg)? */
export function groupHasSuperblock(geo: Geometry, backupBgs: [number, number], g: number): boolean {
  if (g === 0) return true;
  if (geo.compat & COMPAT.sparse_super2) return g === backupBgs[0] || g === backupBgs[1];
  if (g <= 1 || !(geo.roCompat & RO_COMPAT.sparse_super)) return true;
  if (!(g & 1)) return false;
  return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
}

/** First block of group g. */
export function groupFirstBlock(geo: Geometry, g: number): number {
  return geo.firstDataBlock + g * geo.blocksPerGroup;
}

/** Number of blocks in group g (the last group may be short). */
export function groupBlockCount(geo: Geometry, g: number): number {
  if (g === geo.groupCount - 1) return geo.blocksCount - groupFirstBlock(geo, g);
  return geo.blocksPerGroup;
}

/** Block holding group descriptor block `i` of the primary table (meta_bg aware). */
export function descriptorBlock(geo: Geometry, backupBgs: [number, number], i: number): number {
  // The primary superblock sits at byte 1024: block 1 with 1 KiB blocks (even when
  // s_first_data_block is 0, as bigalloc makes it), else block 0. Its GDT follows.
  const sbBlock = geo.blockSize === 1024 ? 1 : 0;
  if (i < geo.firstMetaBg) return sbBlock + 1 + i;
  // meta_bg: descriptor block i lives in the first group of metagroup i.
  const g = i * geo.descPerBlock;
  const has = groupHasSuperblock(geo, backupBgs, g) ? 1 : 0;
  const first = groupFirstBlock(geo, g);
  return (first === 0 && geo.blockSize === 1024 ? 1 : first) + has;
}
