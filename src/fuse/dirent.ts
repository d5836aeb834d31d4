// READDIR / READDIRPLUS record packing: whole fuse_dirent / fuse_direntplus
// records, each padded to 8 bytes, into a caller-sized region; a record that
// does not fit is refused (add() returns false) and nothing partial is written.
// `off` in each record is the cookie of the NEXT entry.
// include/uapi/linux/fuse.h (FUSE_DIRENT_ALIGN); protocol note §2.1.
import { viewOf } from '../util/struct.js';
import { FuseDirent, FUSE_NAME_OFFSET, FUSE_NAME_OFFSET_DIRENTPLUS, FuseEntryOut, direntAlign } from './abi-structs.js';
import { dtypeOfMode } from './abi-consts.js';
import type { DirentPlusSink, DirentSink, EntryOut } from './ops.js';
import { newEntryOut, resetEntryOut } from './outs.js';
import { packEntry, packZeroEntry, writeU64 } from './pack.js';

const OFF_INO = FuseDirent.field('ino')!.offset;
const OFF_OFF = FuseDirent.field('off')!.offset;
const OFF_NAMELEN = FuseDirent.field('namelen')!.offset;
const OFF_TYPE = FuseDirent.field('type')!.offset;

export class DirentBuffer implements DirentSink {
  readonly dv: DataView;
  /** Bytes used so far. */
  pos = 0;
  /** Records added. */
  count = 0;
  /** True once an add() was refused. */
  full = false;
  private limit = 0;
  private readonly scratch: EntryOut = newEntryOut();
  private entryTimeout = 0;
  private attrTimeout = 0;

  /** `region` is where records go (e.g. the reply payload area). */
  constructor(readonly region: Buffer) {
    this.dv = viewOf(region);
  }

  /** Start a reply of at most `size` bytes (clamped to the region). */
  reset(size: number, entryTimeout = 0, attrTimeout = 0): this {
    this.limit = Math.min(size, this.region.length);
    this.pos = 0;
    this.count = 0;
    this.full = false;
    this.entryTimeout = entryTimeout;
    this.attrTimeout = attrTimeout;
    return this;
  }

  /** The packed records. */
  bytes(): Buffer {
    return this.region.subarray(0, this.pos);
  }

  private writeDirent(o: number, name: Uint8Array | string, nameLen: number, ino: number, dtype: number,
    nextOffset: number): void {
    const dv = this.dv;
    writeU64(dv, o + OFF_INO, ino);
    writeU64(dv, o + OFF_OFF, nextOffset);
    dv.setUint32(o + OFF_NAMELEN, nameLen, true);
    dv.setUint32(o + OFF_TYPE, dtype, true);
    const n = o + FUSE_NAME_OFFSET;
    if (typeof name === 'string') this.region.write(name, n, nameLen, 'utf8');
    else this.region.set(name, n);
  }

  add(name: Uint8Array | string, ino: number, dtype: number, nextOffset: number): boolean {
    const nameLen = typeof name === 'string' ? Buffer.byteLength(name, 'utf8') : name.length;
    const rec = direntAlign(FUSE_NAME_OFFSET + nameLen);
    if (nameLen === 0 || this.pos + rec > this.limit) {
      this.full = true;
      return false;
    }
    const o = this.pos;
    this.writeDirent(o, name, nameLen, ino, dtype, nextOffset);
    this.region.fill(0, o + FUSE_NAME_OFFSET + nameLen, o + rec);
    this.pos += rec;
    this.count++;
    return true;
  }

  nextEntry(): EntryOut {
    return resetEntryOut(this.scratch, this.entryTimeout, this.attrTimeout);
  }

  addPlus(name: Uint8Array | string, entry: EntryOut, nextOffset: number): boolean {
    const nameLen = typeof name === 'string' ? Buffer.byteLength(name, 'utf8') : name.length;
    const rec = direntAlign(FUSE_NAME_OFFSET_DIRENTPLUS + nameLen);
    if (nameLen === 0 || this.pos + rec > this.limit) {
      this.full = true;
      return false;
    }
    const o = this.pos;
    if (entry.nodeid === 0) packZeroEntry(this.region, o);
    else packEntry(this.dv, o, entry);
    this.writeDirent(o + FuseEntryOut.size, name, nameLen, entry.attr.ino, dtypeOfMode(entry.attr.mode), nextOffset);
    this.region.fill(0, o + FUSE_NAME_OFFSET_DIRENTPLUS + nameLen, o + rec);
    this.pos += rec;
    this.count++;
    return true;
  }
}

/** The DirentPlusSink view of a DirentBuffer (add = addPlus). */
export class DirentPlusView implements DirentPlusSink {
  constructor(private readonly b: DirentBuffer) {}
  nextEntry(): EntryOut {
    return this.b.nextEntry();
  }
  add(name: Uint8Array | string, entry: EntryOut, nextOffset: number): boolean {
    return this.b.addPlus(name, entry, nextOffset);
  }
}
