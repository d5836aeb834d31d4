// The journal as a file of blocks: logical journal block -> filesystem block,
// through the journal inode's extents or indirect blocks (the kernel's
// jbd2_journal_bmap). Built once when a journal is opened; the journal inode
// itself never changes while we use it. External journal devices are refused
// by volume.ts before we get here.
import type { BlockDevice } from '../../io/block-device.js';
import { CorruptionError, corrupt } from '../errors.js';
import { walkRuns } from '../file.js';
import type { Volume } from '../volume.js';

export class JournalFile {
  private constructor(
    readonly dev: BlockDevice,
    readonly blockSize: number,
    /** Physical block of each logical block (0 = hole). */
    private readonly phys: Float64Array,
    readonly ino: number,
  ) {}

  /** Logical blocks in the journal file (i_size / block size). */
  get length(): number { return this.phys.length; }

  /** Map the internal journal of `vol` (s_journal_inum). */
  static fromVolume(vol: Volume): JournalFile {
    const ino = vol.sb.s_journal_inum;
    const ctx = { ino };
    if (ino === 0) corrupt('journal', 'has_journal is set but s_journal_inum is 0');
    let inode;
    try {
      inode = vol.inodes.get(ino);
    } catch (e) {
      if (e instanceof CorruptionError) corrupt('journal', `cannot read the journal inode: ${e.message}`, ctx);
      throw e;
    }
    if (!inode.isReg) corrupt('journal', 'the journal inode is not a regular file', ctx);
    if (inode.linksCount === 0) corrupt('journal', 'the journal inode is deleted', ctx);
    const bs = vol.blockSize;
    const count = Math.floor(inode.size / bs);
    if (count < 2) corrupt('journal', `journal inode too small (${inode.size} bytes)`, ctx);
    const phys = new Float64Array(count);
    try {
      walkRuns(vol, inode, (r) => {
        if (r.physical === 0) return;
        for (let i = 0; i < r.length; i++) {
          const l = r.logical + i;
          if (l >= count) break;
          const p = r.physical + i;
          if (!vol.validBlock(p)) corrupt('journal', `journal block ${l} maps to ${p}, outside the volume`, ctx);
          phys[l] = p;
        }
      });
    } catch (e) {
      if (e instanceof CorruptionError && e.kind !== 'journal') corrupt('journal', `cannot map the journal inode: ${e.message}`, ctx);
      throw e;
    }
    return new JournalFile(vol.dev, bs, phys, ino);
  }

  /** Filesystem block of journal block `l` (a hole is damage: jbd2 "bad block at offset"). */
  physical(l: number): number {
    const p = this.phys[l];
    if (p === undefined || p === 0) corrupt('journal', `journal block ${l} is not mapped`, { ino: this.ino });
    return p;
  }

  /** Read journal block `l` into a new buffer (or `dst`). */
  read(l: number, dst: Uint8Array = new Uint8Array(this.blockSize)): Uint8Array {
    this.dev.read(dst, this.physical(l) * this.blockSize);
    return dst;
  }

  /** Write `data` (whole blocks) at journal blocks l, l+1, ... (no wrap), one write per contiguous run. */
  write(l: number, data: Uint8Array): void {
    const bs = this.blockSize;
    const n = data.length / bs;
    let i = 0;
    while (i < n) {
      const p0 = this.physical(l + i);
      let run = 1;
      while (i + run < n && this.physical(l + i + run) === p0 + run) run++;
      this.dev.write(data.subarray(i * bs, (i + run) * bs), p0 * bs);
      i += run;
    }
  }
}
