// The orphan list: Documentation/filesystems/ext4/special_inodes.rst and
// super.rst (s_last_orphan), the kernel's fs/ext4/orphan.c.
//
// Inodes whose last name went while they are still open (and O_TMPFILE inodes)
// are chained from s_last_orphan through i_dtime, so a crash leaves them
// findable. An in-memory doubly linked mirror makes removal from the middle O(1).
// At open (read-write), a chain left behind is processed as the kernel does:
// unlinked inodes are freed, linked ones truncated to i_size.
import { corrupt } from './errors.js';
import type { Inode } from './inode.js';
import type { Handle } from './txn.js';
import type { Volume } from './volume.js';

export class OrphanList {
  /** ino -> previous ino in the chain (0 = head). */
  private prev = new Map<number, number>();
  /** ino -> next ino (the on-disk i_dtime). */
  private next = new Map<number, number>();

  constructor(private readonly vol: Volume) {}

  get head(): number { return this.vol.sb.s_last_orphan; }
  has(ino: number): boolean { return this.next.has(ino); }
  get size(): number { return this.next.size; }

  /** Put an inode at the head of the chain (ext4_orphan_add). */
  add(h: Handle, inode: Inode): void {
    if (this.next.has(inode.ino)) return;
    const oldHead = this.head;
    inode.dtime = oldHead;
    inode.orphan = true;
    this.vol.writeInode(h, inode);
    this.vol.sb.s_last_orphan = inode.ino;
    h.dirtyFixed();
    this.next.set(inode.ino, oldHead);
    this.prev.set(inode.ino, 0);
    if (oldHead !== 0) this.prev.set(oldHead, inode.ino);
  }

  /** Take an inode off the chain (ext4_orphan_del). The caller writes the inode. */
  remove(h: Handle, inode: Inode): void {
    const nxt = this.next.get(inode.ino);
    if (nxt === undefined) return;
    const prv = this.prev.get(inode.ino) ?? 0;
    if (prv === 0) {
      this.vol.sb.s_last_orphan = nxt;
      h.dirtyFixed();
    } else {
      const p = this.vol.inodes.get(prv);
      p.dtime = nxt;
      this.vol.writeInode(h, p);
      this.next.set(prv, nxt);
    }
    if (nxt !== 0) this.prev.set(nxt, prv);
    this.next.delete(inode.ino);
    this.prev.delete(inode.ino);
    inode.dtime = 0;
    inode.orphan = false;
  }

  /** The chain as stored on disk (bounded: a loop or a bad number is damage). */
  readChain(): number[] {
    const out: number[] = [];
    const seen = new Set<number>();
    let ino = this.head;
    while (ino !== 0) {
      if (ino < 1 || ino > this.vol.geo.inodesCount) corrupt('orphan', `orphan chain points at inode ${ino}`, { ino });
      if (seen.has(ino)) corrupt('orphan', `orphan chain loops at inode ${ino}`, { ino });
      seen.add(ino);
      out.push(ino);
      ino = this.vol.inodes.get(ino).dtime;
    }
    return out;
  }
}
