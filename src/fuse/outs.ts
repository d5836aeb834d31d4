// The reusable result objects of ops.ts, created once per session and reset
// before each call (DESIGN.md habit 4: no allocation per request).
import type { Attr, AttrOut, DataOut, EntryOut, IoctlOut, LockOut, NumOut, OpenOut, SetattrIn, StatfsOut, StatxOut } from './ops.js';

export function newAttr(): Attr {
  return {
    ino: 0, size: 0, blocks: 0, atime: 0, atimeNsec: 0, mtime: 0, mtimeNsec: 0, ctime: 0, ctimeNsec: 0,
    mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0,
  };
}

export function resetAttr(a: Attr): void {
  a.ino = a.size = a.blocks = a.atime = a.atimeNsec = a.mtime = a.mtimeNsec = a.ctime = a.ctimeNsec = 0;
  a.mode = a.nlink = a.uid = a.gid = a.rdev = a.blksize = a.flags = 0;
}

export function newEntryOut(): EntryOut {
  return { nodeid: 0, generation: 0, entryTimeout: 0, attrTimeout: 0, attr: newAttr() };
}

export function resetEntryOut(e: EntryOut, entryTimeout: number, attrTimeout: number): EntryOut {
  e.nodeid = e.generation = 0;
  e.entryTimeout = entryTimeout;
  e.attrTimeout = attrTimeout;
  resetAttr(e.attr);
  return e;
}

export function newAttrOut(): AttrOut {
  return { attrTimeout: 0, attr: newAttr() };
}

export function newOpenOut(): OpenOut {
  return { fh: 0, openFlags: 0, backingId: 0 };
}

export function resetOpenOut(o: OpenOut): OpenOut {
  o.fh = o.openFlags = o.backingId = 0;
  return o;
}

export class DataOutImpl implements DataOut {
  dest: Uint8Array;
  length = 0;
  data: Uint8Array | null = null;
  constructor(dest: Uint8Array) {
    this.dest = dest;
  }
  reset(dest: Uint8Array): this {
    this.dest = dest;
    this.length = 0;
    this.data = null;
    return this;
  }
  /** The produced bytes (data, or dest[0..length)), clamped to what is valid. */
  bytes(): Uint8Array {
    if (this.data !== null) return this.data;
    const n = this.length > 0 ? Math.min(this.length, this.dest.length) : 0;
    return this.dest.subarray(0, n);
  }
  /** Number of produced bytes. */
  size(): number {
    if (this.data !== null) return this.data.length;
    return this.length > 0 ? Math.min(this.length, this.dest.length) : 0;
  }
}

export class IoctlOutImpl extends DataOutImpl implements IoctlOut {
  result = 0;
  override reset(dest: Uint8Array): this {
    super.reset(dest);
    this.result = 0;
    return this;
  }
}

export function newNumOut(): NumOut {
  return { value: 0 };
}

export function newStatfsOut(): StatfsOut {
  return { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 0, namelen: 0, frsize: 0 };
}

export function resetStatfsOut(s: StatfsOut): StatfsOut {
  s.blocks = s.bfree = s.bavail = s.files = s.ffree = s.bsize = s.namelen = s.frsize = 0;
  return s;
}

export function newStatxOut(): StatxOut {
  return {
    attrTimeout: 0, flags: 0, mask: 0, blksize: 0, attributes: 0, attributesMask: 0, nlink: 0, uid: 0, gid: 0,
    mode: 0, ino: 0, size: 0, blocks: 0, atime: 0, atimeNsec: 0, btime: 0, btimeNsec: 0, ctime: 0, ctimeNsec: 0,
    mtime: 0, mtimeNsec: 0, rdevMajor: 0, rdevMinor: 0, devMajor: 0, devMinor: 0,
  };
}

export function resetStatxOut(s: StatxOut, attrTimeout: number): StatxOut {
  const r = s as unknown as Record<string, number>;
  for (const k in r) r[k] = 0;
  s.attrTimeout = attrTimeout;
  return s;
}

export function newSetattrIn(): SetattrIn {
  return {
    valid: 0, fh: 0, size: 0, mode: 0, uid: 0, gid: 0, atime: 0, atimeNsec: 0, mtime: 0, mtimeNsec: 0,
    ctime: 0, ctimeNsec: 0,
  };
}

export function newLockOut(): LockOut {
  return { start: 0n, end: 0n, type: 0, pid: 0 };
}
