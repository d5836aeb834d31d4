// Reply packing into one preallocated buffer and sending with exactly one
// write(2)/writev(2) per reply (fuse_dev_do_write rejects split replies).
// shared/notes/fuse-kernel-protocol.md §1.1, §1.7.
//
// A failing reply write is never thrown: ENOENT (the request was interrupted
// or the connection aborted) and ENODEV (unmounted) are ignored, anything
// else is logged once per occurrence.
import { writeSync, writevSync } from 'node:fs';
import { errnoName } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { OUT_HEADER_SIZE } from './abi-consts.js';
import {
  ATTR_OUT_ATTR_OFFSET, FuseAttrOut, FuseEntryOut, FuseGetxattrOut, FuseIoctlOut, FuseKstatfs, FuseLkOut,
  FuseOpenOut, FuseStatxOut, STATX_OUT_STAT_OFFSET,
} from './abi-structs.js';
import type { AttrOut, EntryOut, LockOut, OpenOut, StatfsOut, StatxOut } from './ops.js';
import { packAttr, packEntry, packStatx, writeTimeout, writeU64 } from './pack.js';

export type Logger = (line: string) => void;

/** Where replies go: the /dev/fuse fd, or a capture in tests. */
export interface FuseWriter {
  /** Send buf[0..len) as one write. */
  write(buf: Uint8Array, len: number): void;
  /** Send the parts as one writev. */
  writev(parts: readonly Uint8Array[]): void;
}

/** Writes to /dev/fuse; swallows ENOENT/ENODEV, logs other failures. */
export class FdWriter implements FuseWriter {
  constructor(readonly fd: number, private readonly log: Logger = (l) => console.error(l)) {}
  write(buf: Uint8Array, len: number): void {
    try {
      writeSync(this.fd, buf, 0, len);
    } catch (e) {
      this.failed(e, buf);
    }
  }
  writev(parts: readonly Uint8Array[]): void {
    try {
      writevSync(this.fd, parts as Uint8Array[]);
    } catch (e) {
      this.failed(e, parts[0]!);
    }
  }
  private failed(e: unknown, head: Uint8Array): void {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV') return;
    const dv = viewOf(head);
    this.log(`fuse: reply write failed (${code ?? String(e)}): len=${dv.getUint32(0, true)} `
      + `error=${dv.getInt32(4, true)} unique=${dv.getUint32(8, true)}`);
  }
}

const OFF_LK_START = FuseLkOut.field('start')!.offset;
const OFF_LK_END = FuseLkOut.field('end')!.offset;
const OFF_LK_TYPE = FuseLkOut.field('type')!.offset;
const OFF_LK_PID = FuseLkOut.field('pid')!.offset;
const OFF_IOCTL_RESULT = FuseIoctlOut.field('result')!.offset;

/** One reply at a time: begin(unique), then exactly one of the send methods. */
export class Reply {
  readonly buf: Buffer;
  readonly dv: DataView;
  /** Payload area: buf[16 ..]. */
  readonly payload: Buffer;
  private readonly head: Buffer;
  private readonly iov: Uint8Array[];
  private uniqueLo = 0;
  private uniqueHi = 0;
  /** Set once the current request has been answered. */
  replied = false;

  constructor(private readonly writer: FuseWriter, payloadCapacity: number) {
    this.buf = Buffer.alloc(OUT_HEADER_SIZE + payloadCapacity);
    this.dv = viewOf(this.buf);
    this.payload = this.buf.subarray(OUT_HEADER_SIZE);
    this.head = this.buf.subarray(0, OUT_HEADER_SIZE);
    this.iov = [this.head, this.head];
  }

  get capacity(): number {
    return this.payload.length;
  }

  begin(uniqueLo: number, uniqueHi: number): void {
    this.uniqueLo = uniqueLo;
    this.uniqueHi = uniqueHi;
    this.replied = false;
  }

  private header(len: number, error: number): void {
    const dv = this.dv;
    dv.setUint32(0, len, true);
    dv.setInt32(4, error, true);
    dv.setUint32(8, this.uniqueLo, true);
    dv.setUint32(12, this.uniqueHi, true);
    this.replied = true;
  }

  /** Header-only error reply; errno is positive. */
  error(errno: number): void {
    this.header(OUT_HEADER_SIZE, -errno);
    this.writer.write(this.buf, OUT_HEADER_SIZE);
  }

  /** Header-only success reply. */
  ok(): void {
    this.header(OUT_HEADER_SIZE, 0);
    this.writer.write(this.buf, OUT_HEADER_SIZE);
  }

  /** Success with `len` payload bytes already written at buf[16..]. */
  send(len: number): void {
    this.header(OUT_HEADER_SIZE + len, 0);
    this.writer.write(this.buf, OUT_HEADER_SIZE + len);
  }

  /** Success with arbitrary bytes: in place if they are the payload area, else one writev. */
  data(bytes: Uint8Array): void {
    if (bytes.buffer === this.buf.buffer && bytes.byteOffset === this.payload.byteOffset) {
      this.send(bytes.length);
      return;
    }
    if (bytes.length === 0) {
      this.ok();
      return;
    }
    this.header(OUT_HEADER_SIZE + bytes.length, 0);
    this.iov[1] = bytes;
    this.writer.writev(this.iov);
    this.iov[1] = this.head;
  }

  entry(e: EntryOut): void {
    packEntry(this.dv, OUT_HEADER_SIZE, e);
    this.send(FuseEntryOut.size);
  }

  attr(a: AttrOut): void {
    const o = OUT_HEADER_SIZE;
    writeTimeout(this.dv, o, o + 8, a.attrTimeout);
    this.dv.setUint32(o + 12, 0, true);
    packAttr(this.dv, o + ATTR_OUT_ATTR_OFFSET, a.attr);
    this.send(FuseAttrOut.size);
  }

  private packOpen(o: number, x: OpenOut): void {
    writeU64(this.dv, o, x.fh);
    this.dv.setUint32(o + 8, x.openFlags, true);
    this.dv.setInt32(o + 12, x.backingId, true);
  }

  open(x: OpenOut): void {
    this.packOpen(OUT_HEADER_SIZE, x);
    this.send(FuseOpenOut.size);
  }

  /** CREATE / TMPFILE: fuse_entry_out + fuse_open_out. */
  create(e: EntryOut, x: OpenOut): void {
    packEntry(this.dv, OUT_HEADER_SIZE, e);
    this.packOpen(OUT_HEADER_SIZE + FuseEntryOut.size, x);
    this.send(FuseEntryOut.size + FuseOpenOut.size);
  }

  /** fuse_write_out (WRITE, COPY_FILE_RANGE). */
  written(size: number): void {
    this.dv.setUint32(OUT_HEADER_SIZE, size, true);
    this.dv.setUint32(OUT_HEADER_SIZE + 4, 0, true);
    this.send(8);
  }

  /** A single u64 payload: fuse_lseek_out, fuse_bmap_out, fuse_copy_file_range_out. */
  u64(v: number): void {
    writeU64(this.dv, OUT_HEADER_SIZE, v);
    this.send(8);
  }

  statfs(s: StatfsOut): void {
    const o = OUT_HEADER_SIZE;
    const dv = this.dv;
    writeU64(dv, o, s.blocks);
    writeU64(dv, o + 8, s.bfree);
    writeU64(dv, o + 16, s.bavail);
    writeU64(dv, o + 24, s.files);
    writeU64(dv, o + 32, s.ffree);
    dv.setUint32(o + 40, s.bsize, true);
    dv.setUint32(o + 44, s.namelen, true);
    dv.setUint32(o + 48, s.frsize, true);
    this.payload.fill(0, 52, FuseKstatfs.size);
    this.send(FuseKstatfs.size);
  }

  /** fuse_getxattr_out: the answer to a size probe. */
  xattrSize(size: number): void {
    this.dv.setUint32(OUT_HEADER_SIZE, size, true);
    this.dv.setUint32(OUT_HEADER_SIZE + 4, 0, true);
    this.send(FuseGetxattrOut.size);
  }

  statx(s: StatxOut): void {
    const o = OUT_HEADER_SIZE;
    this.payload.fill(0, 0, FuseStatxOut.size);
    writeTimeout(this.dv, o, o + 8, s.attrTimeout);
    this.dv.setUint32(o + 12, s.flags, true);
    packStatx(this.dv, o + STATX_OUT_STAT_OFFSET, s);
    this.send(FuseStatxOut.size);
  }

  lk(l: LockOut): void {
    const o = OUT_HEADER_SIZE;
    this.dv.setBigUint64(o + OFF_LK_START, BigInt.asUintN(64, l.start), true);
    this.dv.setBigUint64(o + OFF_LK_END, BigInt.asUintN(64, l.end), true);
    this.dv.setUint32(o + OFF_LK_TYPE, l.type, true);
    this.dv.setUint32(o + OFF_LK_PID, l.pid, true);
    this.send(FuseLkOut.size);
  }

  /** fuse_ioctl_out + out data (already at payload[16..] when `inPlace`, else copied). */
  ioctl(result: number, out: Uint8Array): void {
    const o = OUT_HEADER_SIZE;
    this.payload.fill(0, 0, FuseIoctlOut.size);
    this.dv.setInt32(o + OFF_IOCTL_RESULT, result, true);
    const dataOff = FuseIoctlOut.size;
    if (!(out.buffer === this.buf.buffer && out.byteOffset === this.payload.byteOffset + dataOff)) {
      this.payload.set(out.subarray(0, this.payload.length - dataOff), dataOff);
    }
    this.send(dataOff + out.length);
  }
}

/** For log lines. */
export function describeErrno(errno: number): string {
  return `${errnoName(errno)} (${errno})`;
}
