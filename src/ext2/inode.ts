// The in-memory inode: one object per on-disk inode (DESIGN.md "One inode object
// per on-disk inode"). It owns a copy of the on-disk bytes; typed accessors
// combine hi/lo halves in one place (Documentation/filesystems/ext4/inodes.rst).
import { joinU64, splitU64, viewOf } from '../util/struct.js';

/** Byte offset of i_block in the inode. */
export const I_BLOCK_OFFSET = 0x28;
import {
  decodeTime, encodeTime, EXTRA_END, GOOD_OLD_INODE_SIZE, InodeFlags, InodeRaw, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
  type Timestamp,
} from './layout/inode.js';

export type TimeField = 'atime' | 'mtime' | 'ctime' | 'crtime';

export class Inode {
  readonly raw: InodeRaw;
  /** Kernel lookup count (bridge), open handles (open-file cache): the table pins while > 0. */
  nlookup = 0;
  openCount = 0;
  /** On the orphan list (in memory mirror of the on-disk chain). */
  orphan = false;
  /** Changed in memory and not yet written to the inode table. */
  dirty = false;

  constructor(
    readonly ino: number,
    /** The on-disk inode bytes (the first inode_size of a buffer of at least 160), owned by this object. */
    readonly bytes: Uint8Array,
    readonly inodeSize: number,
    /** huge_file: i_blocks counts fs blocks when the HUGE_FILE flag is set. */
    private readonly hugeFile: boolean,
    private readonly blockSize: number,
  ) {
    if (bytes.length < InodeRaw.size) throw new RangeError(`inode buffer of ${bytes.length} bytes < ${InodeRaw.size}`);
    this.raw = new InodeRaw(bytes, 0);
  }

  /** Bytes of the large-inode part present (0 for 128-byte inodes). */
  get extraIsize(): number {
    return this.inodeSize > GOOD_OLD_INODE_SIZE ? this.raw.i_extra_isize : 0;
  }
  private hasExtra(end: number): boolean {
    return GOOD_OLD_INODE_SIZE + this.extraIsize >= end;
  }

  get mode(): number { return this.raw.i_mode; }
  set mode(v: number) { this.raw.i_mode = v; }
  get fileType(): number { return this.raw.i_mode & S_IFMT; }
  get isDir(): boolean { return this.fileType === S_IFDIR; }
  get isReg(): boolean { return this.fileType === S_IFREG; }
  get isSymlink(): boolean { return this.fileType === S_IFLNK; }

  get uid(): number { return this.raw.i_uid + this.raw.l_i_uid_high * 0x10000; }
  set uid(v: number) { this.raw.i_uid = v & 0xffff; this.raw.l_i_uid_high = (v >>> 16) & 0xffff; }
  get gid(): number { return this.raw.i_gid + this.raw.l_i_gid_high * 0x10000; }
  set gid(v: number) { this.raw.i_gid = v & 0xffff; this.raw.l_i_gid_high = (v >>> 16) & 0xffff; }

  /** i_size_lo + i_size_high (i_size_high is used for every file type on ext4). */
  get size(): number { return joinU64(this.raw.i_size_lo, this.raw.i_size_high); }
  set size(v: number) { const [lo, hi] = splitU64(v); this.raw.i_size_lo = lo; this.raw.i_size_high = hi; }

  get linksCount(): number { return this.raw.i_links_count; }
  set linksCount(v: number) { this.raw.i_links_count = v; }
  get flags(): number { return this.raw.i_flags; }
  set flags(v: number) { this.raw.i_flags = v; }
  hasFlag(f: number): boolean { return (this.raw.i_flags & f) !== 0; }
  get generation(): number { return this.raw.i_generation; }
  set generation(v: number) { this.raw.i_generation = v; }
  get dtime(): number { return this.raw.i_dtime; }
  set dtime(v: number) { this.raw.i_dtime = v; }

  /** Block count in 512-byte units as stat(2) reports it (huge_file aware). */
  get blocks512(): number {
    const n = this.raw.i_blocks_lo + (this.hugeFile ? this.raw.l_i_blocks_high * 0x1_0000_0000 : 0);
    return this.hugeFile && this.hasFlag(InodeFlags.HUGE_FILE) ? n * (this.blockSize / 512) : n;
  }
  set blocks512(v: number) {
    const [lo, hi] = splitU64(v);
    if (hi > 0xffff || (!this.hugeFile && hi !== 0)) throw new RangeError(`i_blocks ${v} too large`);
    this.raw.i_blocks_lo = lo;
    if (this.hugeFile) this.raw.l_i_blocks_high = hi;
    this.raw.i_flags = this.raw.i_flags & ~InodeFlags.HUGE_FILE;
  }

  get fileAcl(): number { return joinU64(this.raw.i_file_acl_lo, this.raw.l_i_file_acl_high); }
  set fileAcl(v: number) { const [lo, hi] = splitU64(v); this.raw.i_file_acl_lo = lo; this.raw.l_i_file_acl_high = hi; }

  get version(): number {
    return this.raw.l_i_version + (this.hasExtra(EXTRA_END.i_version_hi) ? this.raw.i_version_hi * 0x1_0000_0000 : 0);
  }
  get projid(): number { return this.hasExtra(EXTRA_END.i_projid) ? this.raw.i_projid : 0; }

  /** Word i (0..14) of i_block. */
  iBlockWord(i: number): number { return viewOf(this.bytes).getUint32(I_BLOCK_OFFSET + i * 4, true); }
  setIBlockWord(i: number, v: number): void { viewOf(this.bytes).setUint32(I_BLOCK_OFFSET + i * 4, v >>> 0, true); }

  /** The 60 bytes of i_block (block map, extent root, inline data or fast symlink). */
  get iBlock(): Uint8Array { return this.raw.i_block; }

  /** Device number for char/block inodes (old and new encodings, as the kernel decodes). */
  get rdev(): { major: number; minor: number } {
    const b = this.raw.i_block;
    const w0 = b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
    if (w0 !== 0) return { major: (w0 >>> 8) & 0xff, minor: w0 & 0xff };
    const w1 = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
    // new_decode_dev: major = (dev & 0xfff00) >> 8, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
    return { major: (w1 & 0xfff00) >>> 8, minor: (w1 & 0xff) | ((w1 >>> 12) & 0xfff00) };
  }

  getTime(which: TimeField): Timestamp {
    const r = this.raw;
    switch (which) {
      case 'atime': return decodeTime(r.i_atime, this.hasExtra(EXTRA_END.i_atime_extra) ? r.i_atime_extra : undefined);
      case 'mtime': return decodeTime(r.i_mtime, this.hasExtra(EXTRA_END.i_mtime_extra) ? r.i_mtime_extra : undefined);
      case 'ctime': return decodeTime(r.i_ctime, this.hasExtra(EXTRA_END.i_ctime_extra) ? r.i_ctime_extra : undefined);
      case 'crtime':
        if (!this.hasExtra(EXTRA_END.i_crtime_extra)) return { sec: 0, nsec: 0 };
        return decodeTime(r.i_crtime, r.i_crtime_extra);
    }
  }

  /** Whether crtime is stored (large inodes with room for it). */
  get hasCrtime(): boolean { return this.hasExtra(EXTRA_END.i_crtime_extra); }

  setTime(which: TimeField, t: Timestamp): void {
    const { seconds, extra } = encodeTime(t);
    const r = this.raw;
    switch (which) {
      case 'atime': r.i_atime = seconds; if (this.hasExtra(EXTRA_END.i_atime_extra)) r.i_atime_extra = extra; break;
      case 'mtime': r.i_mtime = seconds; if (this.hasExtra(EXTRA_END.i_mtime_extra)) r.i_mtime_extra = extra; break;
      case 'ctime': r.i_ctime = seconds; if (this.hasExtra(EXTRA_END.i_ctime_extra)) r.i_ctime_extra = extra; break;
      case 'crtime':
        if (this.hasExtra(EXTRA_END.i_crtime_extra)) { r.i_crtime = seconds; r.i_crtime_extra = extra; }
        break;
    }
  }
}

