// The journal writer: jbd2 transactions into the internal journal, then
// checkpoints (Documentation/filesystems/ext4/journal.rst; fs/jbd2/commit.c,
// checkpoint.c, journal.c).
//
// A commit writes, in log order: revoke blocks, then descriptor blocks each
// followed by the blocks it tags (a block whose first 4 bytes are the jbd2
// magic is logged with them zeroed and the ESCAPE flag), an fdatasync (which
// also covers file data written straight to the device before: data=ordered),
// the commit block, an fdatasync. Checksums are the ones the journal's features
// ask for: v3 (crc32c, 32-bit tags), v2 (16-bit tags), v1 (crc32_be of the
// transaction in the commit block) or none.
//
// Committed blocks stay pinned in the block cache until a checkpoint writes
// them home (their home copies are stale until then); the checkpoint list maps
// each to its newest log copy. A checkpoint writes them home, flushes, moves the
// log tail in the journal superblock (s_start/s_sequence) and unpins them.
// It runs when the log is more than half full, when the pinned copies pass a
// memory cap, when a sync finds nothing to commit, and at unmount, which then
// marks the journal empty (s_start = 0) and clears needs_recovery.
//
// needs_recovery: set in the superblock (in place, flushed), then the journal
// superblock pointed at the log (flushed), before the first commit of a session,
// so a crash at any later moment leaves an image the kernel, e2fsck and we replay.
//
// Features at first use, as ext4 sets them at mount: revoke, 64bit when the
// filesystem is 64bit, checksum v3 when it has metadata_csum and the journal
// has no v2/v3 yet; other checksum settings (v1, v2, none) are kept.
import { Errno } from '../../util/errno.js';
import { UnsupportedError } from '../errors.js';
import { INCOMPAT, RO_COMPAT } from '../layout/features.js';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock } from '../layout/superblock.js';
import { superblockChecksum } from '../checksums.js';
import type { Volume } from '../volume.js';
import { BlockType, HEADER_SIZE, JBD2_MAGIC, writeHeader } from './layout/header.js';
import {
  JBD2_CRC32C_CHKSUM, JOURNAL_SUPERBLOCK_SIZE, JournalCompat, JournalIncompat, JournalSuperblock,
} from './layout/superblock.js';
import { BLOCK_TAIL_SIZE, BlockTag, BlockTag3, TAG_UUID_SIZE, TagFlag } from './layout/tags.js';

const TAG_BLOCKNR = BlockTag.field('t_blocknr')!.offset;
const TAG_CHECKSUM = BlockTag.field('t_checksum')!.offset;
const TAG_FLAGS = BlockTag.field('t_flags')!.offset;
const TAG_BLOCKNR_HIGH = BlockTag.field('t_blocknr_high')!.offset;
const TAG3_FLAGS = BlockTag3.field('t_flags')!.offset;
const TAG3_CHECKSUM = BlockTag3.field('t_checksum')!.offset;
import { REVOKE_HEADER_SIZE, RevokeHeader, revokeRecordSize } from './layout/revoke.js';
import { COMMIT_CHKSUM_OFFSET, CommitHeader, JBD2_CRC32_CHKSUM, JBD2_CRC32_CHKSUM_SIZE } from './layout/commit.js';
import {
  commitBlockChecksum, crc32Be, dataBlockChecksum, journalSuperblockChecksum, setBlockTail,
} from './checksums.js';
import { parseJournalSuperblock, type JournalInfo } from './info.js';
import { recoverJournal } from './recover.js';
import { JournalFile } from './file.js';

export interface JournalBlock {
  nr: number;
  data: Uint8Array;
}

/** What the running transaction did to blocks that have copies in the log. */
export interface TransactionChanges {
  /** Blocks to revoke (freed metadata, or old metadata now holding file data). */
  revokes: ReadonlySet<number>;
  /** Blocks whose logged copies this transaction makes obsolete (freed or overwritten). */
  dropped: ReadonlySet<number>;
  /** Of those, the ones overwritten with file data: a checkpoint must not write them. */
  overwritten: ReadonlySet<number>;
}

const NO_CHANGES: TransactionChanges = { revokes: new Set(), dropped: new Set(), overwritten: new Set() };

interface LogCopy {
  log: number;
  escape: boolean;
}

/** Checkpoint when the pinned committed blocks pass this many bytes. */
const PINNED_BYTES_CAP = 64 * 1024 * 1024;

export class JournalWriter {
  private info: JournalInfo;
  private readonly jsb: Uint8Array;
  /** Next log block to write. */
  private head: number;
  /** Log blocks in use from the tail (oldest uncheckpointed transaction) to head. */
  private used = 0;
  private nextSeq: number;
  /** s_start != 0 on disk and needs_recovery set: this session has written the log. */
  private live = false;
  /** Committed blocks not yet written home: filesystem block -> newest log copy. */
  private readonly checkpointList = new Map<number, LogCopy>();
  commits = 0;
  checkpoints = 0;

  private constructor(private readonly vol: Volume, private readonly file: JournalFile) {
    this.jsb = file.read(0);
    this.info = parseJournalSuperblock(this.jsb, vol.blockSize, file.length);
    if (this.info.start !== 0) {
      // Transactions in the log but needs_recovery clear: the kernel wipes them
      // (jbd2_journal_skip_recovery). Start after the last one it would have found.
      const r = recoverJournal(this.info, (l) => file.read(l));
      vol.log.warn(`journal holds transactions ${r.startTransaction}..${r.endTransaction - 1} but needs_recovery is clear: ignoring them, as the kernel does`);
      this.nextSeq = (r.endTransaction + 1) >>> 0;
    } else {
      this.nextSeq = (this.info.sequence + 1) >>> 0;
    }
    this.head = this.info.first;
    this.setFeatures(); // in memory; written with the first commit
  }

  /** Open the internal journal of a read-write volume (refuses a damaged one). */
  static open(vol: Volume): JournalWriter {
    return new JournalWriter(vol, JournalFile.fromVolume(vol));
  }

  /** Log blocks usable by transactions. */
  get capacity(): number { return this.info.last - this.info.first; }
  /** Log blocks free now. */
  get free(): number { return this.capacity - this.used - 1; }
  /** A running transaction with more blocks than this is committed at the end of its handle. */
  get maxTransaction(): number { return Math.max(16, Math.floor(this.capacity / 4)); }
  /** Does the live log hold a copy of block nr (so freeing or overwriting it needs a revoke)? */
  holds(nr: number): boolean { return this.checkpointList.has(nr); }
  /** Uncheckpointed blocks. */
  get pendingCheckpoint(): number { return this.checkpointList.size; }
  get journalInfo(): Readonly<JournalInfo> { return this.info; }
  get isLive(): boolean { return this.live; }

  private get tagsPerDescriptor(): number {
    const space = this.info.blockSize - HEADER_SIZE - (this.info.csum >= 2 ? BLOCK_TAIL_SIZE : 0);
    return 1 + Math.floor((space - this.info.tagBytes - TAG_UUID_SIZE) / this.info.tagBytes);
  }

  private get revokesPerBlock(): number {
    const space = this.info.blockSize - REVOKE_HEADER_SIZE - (this.info.csum >= 2 ? BLOCK_TAIL_SIZE : 0);
    return Math.floor(space / revokeRecordSize(this.info.is64));
  }

  /** Log blocks a transaction of `blocks` blocks and `revokes` revoke records takes. */
  blocksNeeded(blocks: number, revokes: number): number {
    return Math.ceil(revokes / this.revokesPerBlock) + Math.ceil(blocks / this.tagsPerDescriptor) + blocks + 1;
  }

  private wrap(l: number): number {
    return l >= this.info.last ? l - (this.info.last - this.info.first) : l;
  }

  // ---- the journal superblock and needs_recovery ----------------------------------

  private writeJournalSuperblock(start: number, sequence: number): void {
    const sb = new JournalSuperblock(this.jsb, 0);
    sb.s_start = start;
    sb.s_sequence = sequence;
    if (this.info.csum >= 2) sb.s_checksum = journalSuperblockChecksum(this.jsb.subarray(0, JOURNAL_SUPERBLOCK_SIZE));
    this.file.write(0, this.jsb);
  }

  /** The features ext4 sets at mount (see the header); re-reads the info from the result. */
  private setFeatures(): void {
    if (this.info.version !== 2) return;
    const sb = new JournalSuperblock(this.jsb, 0);
    let compat = sb.s_feature_compat;
    let incompat = sb.s_feature_incompat | JournalIncompat.revoke;
    if (this.vol.has('incompat', INCOMPAT['64bit'])) incompat |= JournalIncompat['64bit'];
    if (this.vol.has('roCompat', RO_COMPAT.metadata_csum) && this.info.csum < 2) {
      compat &= ~JournalCompat.checksum;
      incompat |= JournalIncompat.csum_v3;
    }
    sb.s_feature_compat = compat;
    sb.s_feature_incompat = incompat >>> 0;
    if (incompat & (JournalIncompat.csum_v2 | JournalIncompat.csum_v3)) {
      sb.s_checksum_type = JBD2_CRC32C_CHKSUM;
      sb.s_checksum = journalSuperblockChecksum(this.jsb.subarray(0, JOURNAL_SUPERBLOCK_SIZE));
    }
    this.info = parseJournalSuperblock(this.jsb, this.vol.blockSize, this.file.length);
  }

  /** Set or clear needs_recovery: in memory, and on disk changing only that bit of the home superblock. */
  private setNeedsRecovery(on: boolean, homeCopy: Uint8Array | null): void {
    const vol = this.vol;
    const flip = (sbBytes: Uint8Array) => {
      const sb = new Superblock(sbBytes, 0);
      sb.s_feature_incompat = on ? sb.s_feature_incompat | INCOMPAT.needs_recovery : sb.s_feature_incompat & ~INCOMPAT.needs_recovery;
      if (vol.hasMetadataCsum) sb.s_checksum = superblockChecksum(sbBytes);
    };
    flip(vol.sbBytes);
    const disk = homeCopy ?? new Uint8Array(SUPERBLOCK_SIZE);
    if (homeCopy === null) vol.dev.read(disk, SUPERBLOCK_OFFSET);
    flip(disk);
    vol.dev.write(disk, SUPERBLOCK_OFFSET);
  }

  /** The volume this journal belongs to. */
  get volume(): Volume { return this.vol; }

  /** Before a commit collects its blocks: make the log live (superblock flag included). */
  prepare(): void {
    if (!this.live) this.activate();
  }

  /** Before the first commit: features, the log start in the journal superblock, needs_recovery. */
  private activate(): void {
    // The flag first: a crash between the two leaves "needs_recovery, empty journal"
    // (cleared quietly at the next open), never "a live log without the flag", which
    // the kernel would wipe and e2fsck would answer with a forced full check.
    this.setNeedsRecovery(true, null);
    this.vol.dev.flush();
    this.writeJournalSuperblock(this.head, this.nextSeq);
    this.vol.dev.flush();
    this.live = true;
  }

  // ---- commit ---------------------------------------------------------------------------

  /**
   * Commit one transaction: `blocks` (their current contents; copied here) and
   * what it did to logged blocks; `durable` adds the fdatasyncs around the commit block. Returns false, writing nothing, when the
   * transaction cannot fit in the log even when empty (the caller writes it in
   * place after checkpoint()).
   */
  commit(blocks: readonly JournalBlock[], changes: TransactionChanges = NO_CHANGES, durable = true): boolean {
    const revokes = [...changes.revokes].sort((a, b) => a - b);
    const need = this.blocksNeeded(blocks.length, revokes.length);
    if (need > this.capacity - 1) return false;
    if (!this.live) this.activate();
    if (need > this.free) this.checkpoint(changes);

    const info = this.info;
    const bs = info.blockSize;
    const seq = this.nextSeq;
    const csum23 = info.csum >= 2;
    const buf = new Uint8Array((need - 1) * bs);
    let at = 0; // block index in buf
    // revoke blocks
    const recLen = revokeRecordSize(info.is64);
    for (let i = 0; i < revokes.length;) {
      const b = buf.subarray(at * bs, (at + 1) * bs);
      writeHeader(b, BlockType.revoke, seq);
      const dv = new DataView(b.buffer, b.byteOffset, bs);
      let off = REVOKE_HEADER_SIZE;
      const end = bs - (csum23 ? BLOCK_TAIL_SIZE : 0);
      for (; i < revokes.length && off + recLen <= end; i++, off += recLen) {
        const r = revokes[i]!;
        if (recLen === 8) {
          dv.setUint32(off, Math.floor(r / 0x1_0000_0000), false);
          dv.setUint32(off + 4, r >>> 0, false);
        } else {
          dv.setUint32(off, r, false);
        }
      }
      new RevokeHeader(b, 0).r_count = off;
      if (csum23) setBlockTail(info.csumSeed, b);
      at++;
    }
    const crcFrom = at;
    // descriptors and data blocks
    const perDesc = this.tagsPerDescriptor;
    const logPos: number[] = new Array<number>(blocks.length);
    const escaped: boolean[] = new Array<boolean>(blocks.length);
    for (let i = 0; i < blocks.length;) {
      const descAt = at++;
      const desc = buf.subarray(descAt * bs, (descAt + 1) * bs);
      writeHeader(desc, BlockType.descriptor, seq);
      const ddv = new DataView(desc.buffer, desc.byteOffset, bs);
      let p = HEADER_SIZE;
      const n = Math.min(perDesc, blocks.length - i);
      for (let k = 0; k < n; k++, i++) {
        const { nr, data } = blocks[i]!;
        if (data.length !== bs) throw new Error(`journal commit: block ${nr} has ${data.length} bytes`);
        const copy = buf.subarray(at * bs, (at + 1) * bs);
        copy.set(data);
        let flags = 0;
        if (copy[0] === 0xc0 && copy[1] === 0x3b && copy[2] === 0x39 && copy[3] === 0x98) {
          copy.fill(0, 0, 4);
          flags |= TagFlag.escape;
        }
        if (k > 0) flags |= TagFlag.sameUuid;
        if (k === n - 1) flags |= TagFlag.lastTag;
        const hi = Math.floor(nr / 0x1_0000_0000);
        if (hi !== 0 && !info.is64) throw new UnsupportedError(`block ${nr} needs a 64bit journal`, Errno.EFBIG);
        // Tag fields through a DataView: a short tag (8 or 10 bytes) is shorter than the
        // 12-byte journal_block_tag_t struct, so the struct could run past the block.
        ddv.setUint32(p + TAG_BLOCKNR, nr >>> 0, false);
        if (info.csum === 3) {
          ddv.setUint32(p + TAG3_FLAGS, flags, false);
          ddv.setUint32(p + TAG_BLOCKNR_HIGH, hi, false);
          ddv.setUint32(p + TAG3_CHECKSUM, dataBlockChecksum(info.csumSeed, seq, copy), false);
        } else {
          ddv.setUint16(p + TAG_FLAGS, flags, false);
          if (info.csum === 2) ddv.setUint16(p + TAG_CHECKSUM, dataBlockChecksum(info.csumSeed, seq, copy) & 0xffff, false);
          if (info.is64) ddv.setUint32(p + TAG_BLOCKNR_HIGH, hi, false);
        }
        p += info.tagBytes;
        if (k === 0) {
          desc.set(info.uuid, p);
          p += TAG_UUID_SIZE;
        }
        logPos[i] = at;
        escaped[i] = (flags & TagFlag.escape) !== 0;
        at++;
      }
      if (csum23) setBlockTail(info.csumSeed, desc);
    }

    // commit block
    const commit = new Uint8Array(bs);
    writeHeader(commit, BlockType.commit, seq);
    const ch = new CommitHeader(commit, 0);
    const nowMs = Date.now();
    ch.h_commit_sec = Math.floor(nowMs / 1000);
    ch.h_commit_nsec = (nowMs % 1000) * 1_000_000;
    if (info.csum === 1) {
      ch.h_chksum_type = JBD2_CRC32_CHKSUM;
      ch.h_chksum_size = JBD2_CRC32_CHKSUM_SIZE;
      new DataView(commit.buffer).setUint32(COMMIT_CHKSUM_OFFSET, crc32Be(0xffffffff, buf.subarray(crcFrom * bs)), false);
    } else if (csum23) {
      new DataView(commit.buffer).setUint32(COMMIT_CHKSUM_OFFSET, commitBlockChecksum(info.csumSeed, commit), false);
    }

    // write: the log blocks (wrapping at j_last), flush, the commit block, flush
    const start = this.head;
    this.writeLog(start, buf);
    if (durable) this.vol.dev.flush();
    this.file.write(this.wrap(start + need - 1), commit);
    if (durable) this.vol.dev.flush();

    // The committed contents stay pinned in the cache (clean) until the checkpoint:
    // their home copies are stale, and the checkpoint writes these.
    const cache = this.vol.cache;
    for (const nr of changes.dropped) this.checkpointList.delete(nr);
    for (let i = 0; i < blocks.length; i++) {
      const { nr, data } = blocks[i]!;
      this.checkpointList.set(nr, { log: this.wrap(start + logPos[i]!), escape: escaped[i]! });
      cache.discard(nr);
      cache.setOverlay(nr, data);
    }
    this.head = this.wrap(start + need);
    this.used += need;
    this.nextSeq = (seq + 1) >>> 0;
    this.commits++;
    return true;
  }

  private writeLog(start: number, data: Uint8Array): void {
    const bs = this.info.blockSize;
    const n = data.length / bs;
    const room = this.info.last - start;
    if (n <= room) {
      if (n > 0) this.file.write(start, data);
    } else {
      this.file.write(start, data.subarray(0, room * bs));
      this.file.write(this.info.first, data.subarray(room * bs));
    }
  }

  /** After a commit: checkpoint if the log is past half full or the pinned copies too big. */
  maybeCheckpoint(): void {
    if (this.used * 2 > this.capacity || this.checkpointList.size * this.info.blockSize > PINNED_BYTES_CAP) this.checkpoint();
  }

  /**
   * Write every committed block home, flush, then move the log tail to the head
   * in the journal superblock and unpin the blocks. `running` describes what the
   * uncommitted transaction did (only when a commit has to make room first):
   * blocks it freed are written from their log copy, blocks it overwrote with
   * data are not written.
   */
  checkpoint(running: TransactionChanges = NO_CHANGES): void {
    if (!this.live) return;
    const cache = this.vol.cache;
    const bs = this.info.blockSize;
    const list = [...this.checkpointList].sort((a, b) => a[0] - b[0]);
    const dev = this.vol.dev;
    // gather runs of adjacent home blocks into one write each
    let runStart = -1;
    let run: Uint8Array[] = [];
    const flushRun = () => {
      if (run.length === 0) return;
      const out = run.length === 1 ? run[0]! : concat(run, bs);
      dev.write(out, runStart * bs);
      run = [];
    };
    for (const [nr, copy] of list) {
      if (running.overwritten.has(nr)) continue;
      let data: Uint8Array;
      if (running.dropped.has(nr) || cache.isDirty(nr)) {
        data = this.file.read(copy.log);
        if (copy.escape) new DataView(data.buffer).setUint32(0, JBD2_MAGIC, false);
      } else {
        data = cache.get(nr);
      }
      if (run.length > 0 && nr === runStart + run.length && run.length < 256) {
        run.push(data);
      } else {
        flushRun();
        runStart = nr;
        run.push(data);
      }
    }
    flushRun();
    dev.flush();
    this.writeJournalSuperblock(this.head, this.nextSeq);
    dev.flush();
    for (const [nr] of list) {
      if (!cache.isDirty(nr) && !running.dropped.has(nr)) cache.invalidate(nr);
    }
    this.checkpointList.clear();
    this.used = 0;
    this.checkpoints++;
  }

  /** Unmount: checkpoint everything, mark the journal empty, clear needs_recovery. */
  close(): void {
    if (!this.live) return;
    this.checkpoint();
    this.writeJournalSuperblock(0, this.nextSeq);
    this.vol.dev.flush();
    this.setNeedsRecovery(false, this.vol.sbBytes.slice());
    this.vol.dev.flush();
    this.live = false;
  }
}

function concat(parts: Uint8Array[], bs: number): Uint8Array {
  const out = new Uint8Array(parts.length * bs);
  for (let i = 0; i < parts.length; i++) out.set(parts[i]!, i * bs);
  return out;
}
