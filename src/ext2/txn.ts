// Metadata transactions (the shape of jbd2 handles: Documentation/filesystems/ext4/journal.rst).
//
// Every operation that changes metadata runs inside one handle:
//   const h = vol.txn.begin(); ... h.getWrite(block) ... h.dirty(block) ...; vol.txn.end(h)
// Blocks obtained for writing are pinned dirty in the block cache and collected by
// the running transaction. commit() makes them durable. Without a journal a commit
// writes data first (already on the device), then the metadata blocks in block
// order, in place, with a flush before and after. The journal (a later issue) will
// replace commitInPlace with descriptor + blocks + commit record, then checkpoint.
import type { BlockCache } from '../cache/block-cache.js';

export interface CommitHooks {
  /** Called at commit before blocks are written: refresh derived state (checksums, superblock). */
  beforeCommit(): void;
  /** Write the in-memory superblock and descriptor blocks (they live outside the cache). */
  writeFixedMetadata(): void;
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
    this.mgr.pending = true;
  }

  /** A zero-filled buffer for a freshly allocated metadata block (not read from disk). */
  getNew(nr: number): Uint8Array {
    const b = new Uint8Array(this.mgr.cache.blockSize);
    this.mgr.cache.markDirty(nr, b);
    this.mgr.cache.replace(nr, b);
    this.blocks.add(nr);
    this.mgr.pending = true;
    return b;
  }

  /** A metadata block was freed: drop any pending write of it (jbd2_journal_forget). */
  forget(nr: number): void {
    this.mgr.cache.discard(nr);
    this.blocks.delete(nr);
  }

  /** Superblock or descriptors changed (they are written at commit). */
  dirtyFixed(): void {
    this.mgr.fixedDirty = true;
    this.mgr.pending = true;
  }
}

export class TxnManager {
  pending = false;
  fixedDirty = false;
  private open = 0;
  commits = 0;
  /** Commits were written without barriers since the last durable one. */
  private unflushed = false;

  constructor(readonly cache: BlockCache, private readonly hooks: CommitHooks) {}

  begin(): Handle {
    this.open++;
    return new Handle(this);
  }

  end(_h: Handle): void {
    this.open--;
  }

  get hasPending(): boolean {
    return this.pending;
  }

  /**
   * Write everything changed so far to the image. Must not run inside a handle.
   * `durable` (the default) adds the barriers (fdatasync before and after) that
   * make it survive a power loss: fsync, syncfs and unmount ask for that. Without
   * them (close of a written file, the timer) the image file holds the changes,
   * which survives the death of this process but not of the machine.
   */
  commit(opts: { durable?: boolean } = {}): void {
    if (this.open !== 0) throw new Error(`commit with ${this.open} open handle(s)`);
    const durable = opts.durable ?? true;
    if (!this.pending) {
      if (durable && this.unflushed) { this.cache.dev.flush(); this.unflushed = false; }
      return;
    }
    this.hooks.beforeCommit();
    const dev = this.cache.dev;
    if (durable) dev.flush(); // data blocks first (data=ordered)
    this.cache.writeBack();
    this.hooks.writeFixedMetadata();
    if (durable) dev.flush();
    this.unflushed = !durable;
    this.pending = false;
    this.fixedDirty = false;
    this.commits++;
  }
}
