// Metadata transactions (the shape of jbd2 handles: Documentation/filesystems/ext4/journal.rst).
//
// Every operation that changes metadata runs inside one handle:
//   const h = vol.txn.begin(); ... h.getWrite(block) ... h.dirty(block) ...; vol.txn.end(h)
// Blocks obtained for writing are pinned dirty in the block cache and collected by
// the running transaction. commit() makes them durable:
// - without a journal: data is already on the device; flush, the metadata blocks
//   in block order, in place, the superblock and descriptors, flush;
// - with a journal (journal/writer.ts): the dirty blocks plus the superblock's
//   block and the dirty descriptor blocks go into one jbd2 transaction; they stay
//   pinned in the cache until a checkpoint writes them home.
// Without `durable` (close of a written file, the timer) the barriers are left
// out: the image file holds the transaction, which survives the death of this
// process but not of the machine.
// The running transaction grows until a commit point (fsync, syncfs, a flush of
// a written file, the bridge's timer, unmount) or until it holds more than a
// quarter of the journal, checked when the outermost handle ends.
//
// Revokes (jbd2_journal_revoke): a metadata block freed while the log holds a
// copy of it (h.forget), or overwritten with file data (cache.writeRun, watched
// here), gets a revoke record in the running transaction, so replay never
// writes the old copy over what the block holds now. Journaling the block again
// in the same transaction cancels the revoke (jbd2_journal_cancel_revoke).
//
// Blocks freed by the running transaction are not reused before it commits (the
// kernel keeps them out of the allocator the same way, ext4_mb_free_metadata),
// so a block the committed state still uses — an extent, indirect or directory
// block, or the data of a file whose unlink is not committed yet — is never
// overwritten before the transaction that frees it is in the log. Should an
// allocation find no other space, they are reused at once.
//
// A transaction too large for the whole log (one enormous handle) is written in
// place after a full checkpoint, with a warning: not atomic.
import type { BlockCache } from '../cache/block-cache.js';
import type { Logger } from '../util/log.js';
import type { JournalBlock, JournalWriter } from './journal/writer.js';
import type { Allocator } from './alloc.js';

export interface CommitHooks {
  /** Called at commit before blocks are written: refresh derived state (checksums, superblock). */
  beforeCommit(): void;
  /** Write the in-memory superblock and descriptor blocks (they live outside the cache). */
  writeFixedMetadata(): void;
  /** With a journal: the superblock's block and the dirty descriptor blocks, as whole-block copies, to journal. */
  fixedMetadataBlocks?(): JournalBlock[];
  log?: Logger;
}

export class Handle {
  /** Blocks this handle made dirty (for debugging and future journal credits). */
  readonly blocks = new Set<number>();
  constructor(private readonly mgr: TxnManager) {}

  /** The cached block, ready to be changed; call dirty() after changing it. */
  getWrite(nr: number): Uint8Array {
    return this.mgr.cache.get(nr);
  }

  /** Record that `data` (from getWrite/getNew) now holds the new contents of block nr. */
  dirty(nr: number, data: Uint8Array): void {
    this.mgr.cache.markDirty(nr, data);
    this.blocks.add(nr);
    this.mgr.noteDirty(nr);
  }

  /** A zero-filled buffer for a freshly allocated metadata block (not read from disk). */
  getNew(nr: number): Uint8Array {
    const b = new Uint8Array(this.mgr.cache.blockSize);
    this.mgr.cache.markDirty(nr, b);
    this.mgr.cache.replace(nr, b);
    this.blocks.add(nr);
    this.mgr.noteDirty(nr);
    return b;
  }

  /** A metadata block was freed: drop any pending write of it (jbd2_journal_forget), revoke its logged copies. */
  forget(nr: number): void {
    this.mgr.cache.discard(nr);
    this.blocks.delete(nr);
    this.mgr.noteForget(nr);
  }

  /** Superblock or descriptors changed (they are written at commit). */
  dirtyFixed(): void {
    this.mgr.fixedDirty = true;
    this.mgr.pending = true;
  }
}

export class TxnManager {
  pending = false;
  /**
   * Set by an error policy (errors=remount-ro): the running transaction may hold
   * half an operation, so nothing is committed any more, as jbd2 does after an abort.
   */
  aborted = false;
  fixedDirty = false;
  private open = 0;
  commits = 0;
  /** Commits were written without barriers since the last durable one. */
  private unflushed = false;
  private journal: JournalWriter | null = null;
  /** Blocks dirtied by the running transaction. */
  private readonly running = new Set<number>();
  private readonly revokes = new Set<number>();
  private readonly dropped = new Set<number>();
  private readonly overwritten = new Set<number>();
  /** Blocks freed by the running transaction (not to be reused before it commits). */
  private freedRanges: { start: number; length: number }[] = [];
  /** Of those, the ones the allocator handed out again: held allocated, freed at commit. */
  private quarantine: { start: number; length: number }[] = [];
  private freeForCommit: ((h: Handle, start: number, length: number) => void) | null = null;

  constructor(readonly cache: BlockCache, private readonly hooks: CommitHooks) {}

  /** Journal every commit from now on (a read-write volume with has_journal). */
  attachJournal(j: JournalWriter): void {
    if (!this.hooks.fixedMetadataBlocks) throw new Error('attachJournal: the volume gives no fixedMetadataBlocks hook');
    this.journal = j;
    const alloc = j.volume.alloc;
    this.freeForCommit = alloc.freeBlocks.bind(alloc);
    this.guardFrees(alloc);
    // File data goes straight to the device (file-write.ts -> cache.writeRun): watch it
    // for blocks whose old metadata copies are still in the log.
    const cache = this.cache;
    const writeRun = cache.writeRun.bind(cache);
    cache.writeRun = (nr: number, data: Uint8Array): void => {
      this.noteDataWrite(nr, Math.floor(data.length / cache.blockSize));
      writeRun(nr, data);
    };
  }

  get journalWriter(): JournalWriter | null { return this.journal; }

  /**
   * Blocks freed by the running transaction stay out of reach of the allocator
   * until it commits (see the header). The free itself happens at once (bitmaps
   * and counts, as the kernel's counters do); when the allocator hands out such
   * a block, it is held back ("quarantined": kept allocated, freed again at the
   * commit) and the allocation retried.
   */
  private guardFrees(alloc: Allocator): void {
    const free = alloc.freeBlocks.bind(alloc);
    const allocate = alloc.allocBlocks.bind(alloc);
    alloc.freeBlocks = (h: Handle, start: number, length: number): void => {
      free(h, start, length);
      if (length <= 0) return;
      const last = this.freedRanges[this.freedRanges.length - 1];
      if (last !== undefined && last.start + last.length === start) last.length += length;
      else this.freedRanges.push({ start, length });
    };
    /** First block of [s, e) freed by the running transaction, or -1. */
    const firstFreed = (s: number, e: number): number => {
      let best = -1;
      for (const r of this.freedRanges) {
        const lo = Math.max(s, r.start);
        if (lo < Math.min(e, r.start + r.length) && (best < 0 || lo < best)) best = lo;
      }
      return best;
    };
    const isFreed = (b: number): boolean => firstFreed(b, b + 1) === b;
    alloc.allocBlocks = (h: Handle, goal: number, want: number, reserved?: boolean) => {
      for (;;) {
        const r = allocate(h, goal, want, reserved);
        if (typeof r === 'number') {
          if (this.quarantine.length === 0) return r;
          // no space but in blocks this transaction freed: let them be reused now
          this.hooks.log?.debug('no free block left but the ones freed by the running transaction: reusing them before it commits');
          this.releaseQuarantine(h, free);
          this.freedRanges = [];
          return allocate(h, goal, want, reserved);
        }
        const end = r.start + r.length;
        const c = firstFreed(r.start, end);
        if (c < 0) return r;
        if (c > r.start) {
          free(h, c, end - c); // never used: straight back
          return { start: r.start, length: c - r.start };
        }
        let q = c;
        while (q < end && isFreed(q)) q++;
        this.quarantine.push({ start: c, length: q - c });
        if (q < end) free(h, q, end - q);
      }
    };
  }

  private releaseQuarantine(h: Handle, free: (h: Handle, start: number, length: number) => void): void {
    const q = this.quarantine;
    this.quarantine = [];
    for (const r of q) free(h, r.start, r.length);
  }

  begin(): Handle {
    this.open++;
    return new Handle(this);
  }

  end(_h: Handle): void {
    this.open--;
    if (this.open === 0 && this.journal !== null && this.running.size >= this.journal.maxTransaction) this.commit();
  }

  get hasPending(): boolean {
    return this.pending;
  }

  /** Blocks dirtied by the running transaction. */
  get runningBlocks(): number {
    return this.running.size;
  }

  noteDirty(nr: number): void {
    this.running.add(nr);
    this.revokes.delete(nr);
    this.pending = true;
  }

  noteForget(nr: number): void {
    this.running.delete(nr);
    if (this.journal?.holds(nr)) {
      this.revokes.add(nr);
      this.dropped.add(nr);
      this.pending = true;
    }
  }

  private noteDataWrite(nr: number, count: number): void {
    const j = this.journal;
    if (j === null || j.pendingCheckpoint === 0) return;
    for (let b = nr; b < nr + count; b++) {
      if (!j.holds(b) || this.cache.isDirty(b)) continue;
      this.revokes.add(b);
      this.dropped.add(b);
      this.overwritten.add(b);
      this.cache.discard(b); // its pinned committed copy is obsolete; writeRun puts the data home
      this.pending = true;
    }
  }

  /**
   * Write everything changed so far to the image. Must not run inside a handle.
   * `durable` (the default) adds the barriers (fdatasync before and after; with a
   * journal, before and after the commit block) that make it survive a power
   * loss: fsync, syncfs and unmount ask for that. Without them (close of a
   * written file, the timer) the image file holds the changes, which survives
   * the death of this process but not of the machine.
   */
  commit(opts: { durable?: boolean } = {}): void {
    if (this.aborted) return;
    if (this.open !== 0) throw new Error(`commit with ${this.open} open handle(s)`);
    const durable = opts.durable ?? true;
    if (!this.pending) {
      if (durable && this.unflushed) {
        this.cache.dev.flush();
        this.unflushed = false;
      } else if (durable && this.journal !== null && this.journal.pendingCheckpoint > 0) {
        // A sync that finds nothing new to make durable: a cheap moment to write the log home.
        this.journal.checkpoint();
      }
      return;
    }
    if (this.quarantine.length > 0) {
      const h = new Handle(this);
      this.open++;
      try { this.releaseQuarantine(h, this.freeForCommit!); } finally { this.open--; }
    }
    this.freedRanges = [];
    this.hooks.beforeCommit();
    if (this.journal !== null) this.commitJournaled(this.journal, durable);
    else this.commitInPlace(durable);
    this.unflushed = !durable;
    this.pending = false;
    this.fixedDirty = false;
    this.commits++;
  }

  private commitInPlace(durable: boolean): void {
    const dev = this.cache.dev;
    if (durable) dev.flush(); // data blocks first (data=ordered)
    this.cache.writeBack();
    this.hooks.writeFixedMetadata();
    if (durable) dev.flush();
  }

  private commitJournaled(j: JournalWriter, durable: boolean): void {
    const cache = this.cache;
    j.prepare(); // needs_recovery into the superblock before it is collected
    const nrs = cache.dirtyBlocks();
    const blocks: JournalBlock[] = nrs.map((nr) => ({ nr, data: cache.get(nr) }));
    const fixed = this.hooks.fixedMetadataBlocks!();
    const all = blocks.concat(fixed);
    const changes = { revokes: this.revokes, dropped: this.dropped, overwritten: this.overwritten };
    if (j.commit(all, changes, durable)) {
      j.maybeCheckpoint();
    } else {
      // Larger than the whole log: write it in place after emptying the log (not atomic).
      this.hooks.log?.warn(`a transaction of ${all.length} blocks does not fit in the journal: writing it in place, not atomically`);
      j.checkpoint(changes);
      const dev = cache.dev;
      cache.writeBack();
      for (const b of fixed) {
        dev.write(b.data, b.nr * cache.blockSize);
        cache.invalidate(b.nr);
      }
      dev.flush();
    }
    this.running.clear();
    this.revokes.clear();
    this.dropped.clear();
    this.overwritten.clear();
  }

  /** Unmount: commit, write the log home, mark the journal empty and clear needs_recovery. */
  close(): void {
    this.commit();
    this.journal?.close();
  }
}
