// Raw-byte helpers for protocol tests: build fuse_in_header + arguments, feed
// them to a Dispatcher with a capturing writer, and decode reply headers.
import { Dispatcher } from '../../src/fuse/dispatch.js';
import { InitFlags, Opcode } from '../../src/fuse/abi-consts.js';
import type { FuseWriter } from '../../src/fuse/reply.js';
import type { FuseOps } from '../../src/fuse/ops.js';
import type { SessionOptions } from '../../src/fuse/session.js';

export class CaptureWriter implements FuseWriter {
  readonly writes: Buffer[] = [];
  /** Number of write/writev calls (one per reply is the rule). */
  calls = 0;
  write(buf: Uint8Array, len: number): void {
    this.calls++;
    this.writes.push(Buffer.from(buf.subarray(0, len)));
  }
  writev(parts: readonly Uint8Array[]): void {
    this.calls++;
    this.writes.push(Buffer.concat(parts.map((p) => Buffer.from(p))));
  }
  take(): Buffer[] {
    return this.writes.splice(0);
  }
}

export interface ReqOpts {
  nodeid?: number;
  unique?: number;
  uid?: number;
  gid?: number;
  pid?: number;
  /** Override the header's len field. */
  len?: number;
}

let nextUnique = 100;

/** fuse_in_header + body. */
export function request(opcode: number, body: Uint8Array | Buffer = Buffer.alloc(0), o: ReqOpts = {}): Buffer {
  const b = Buffer.alloc(40 + body.length);
  b.writeUInt32LE(o.len ?? b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(BigInt(o.unique ?? (nextUnique += 2)), 8);
  b.writeBigUInt64LE(BigInt(o.nodeid ?? 1), 16);
  b.writeUInt32LE(o.uid ?? 0, 24);
  b.writeUInt32LE(o.gid ?? 0, 28);
  b.writeUInt32LE(o.pid ?? 1234, 32);
  Buffer.from(body).copy(b, 40);
  return b;
}

export function cstr(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}

/** A fuse_init_in as 6.18 sends it (7.45, flags 0x73fffffb, flags2 0x5fd). */
export function initIn(minor = 45, flags = 0x73fffffb, flags2 = 0x5fd, size = 64): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(7, 0);
  b.writeUInt32LE(minor, 4);
  b.writeUInt32LE(131072, 8);
  b.writeUInt32LE(flags >>> 0, 12);
  if (size >= 20) b.writeUInt32LE(flags2, 16);
  return b;
}

export interface OutHeader {
  len: number;
  error: number;
  unique: bigint;
  payload: Buffer;
}

export function parseReply(b: Buffer): OutHeader {
  return { len: b.readUInt32LE(0), error: b.readInt32LE(4), unique: b.readBigUInt64LE(8), payload: b.subarray(16) };
}

export class Harness {
  readonly w = new CaptureWriter();
  readonly d: Dispatcher;
  readonly logs: string[] = [];
  constructor(readonly ops: FuseOps, opts: SessionOptions = {}) {
    this.d = new Dispatcher(ops, this.w, { ...opts, log: (l) => this.logs.push(l) });
  }
  /** Feed raw bytes; returns the replies written (0 or 1 expected). */
  feed(req: Buffer): OutHeader[] {
    req.copy(this.d.buffer, 0);
    this.d.handle(req.length);
    return this.w.take().map(parseReply);
  }
  /** Feed and expect exactly one reply. */
  one(req: Buffer): OutHeader {
    const r = this.feed(req);
    if (r.length !== 1) throw new Error(`expected one reply, got ${r.length}`);
    return r[0]!;
  }
  init(minor = 45, flags = 0x73fffffb, flags2 = 0x5fd): OutHeader {
    return this.one(request(Opcode.INIT, initIn(minor, flags, flags2), { nodeid: 0 }));
  }
}

export { InitFlags, Opcode };
