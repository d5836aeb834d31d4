// The dispatcher: parse one request (request.ts), route it by the opcode table
// (opcodes.ts) to its handler, and guarantee exactly one reply per request
// (none for FORGET/BATCH_FORGET/NOTIFY_REPLY); anything thrown becomes EIO
// with one log line, or the thrown object's numeric `errno`. Notifications
// queued during a request go out after its reply.
// shared/notes/fuse-kernel-protocol.md §1.1–§1.3, §1.7; DESIGN.md "The FUSE session".
import { Errno, errnoName } from '../util/errno.js';
import { IN_HEADER_SIZE, InitFlags, Opcode } from './abi-consts.js';
import * as A from './abi-args.js';
import { DirentBuffer, DirentPlusView } from './dirent.js';
import { HANDLERS } from './handlers.js';
import type { ConnectionInfo, FuseOps } from './ops.js';
import { opcodeName } from './opcodes.js';
import {
  DataOutImpl, IoctlOutImpl, newAttrOut, newEntryOut, newLockOut, newNumOut, newOpenOut, newSetattrIn,
  newStatfsOut, newStatxOut,
} from './outs.js';
import { NotifyQueue } from './notify.js';
import { PARSE_DROP, Request } from './request.js';
import { Reply, type FuseWriter, type Logger } from './reply.js';
import { negotiateInit, requestBufferSize, type SessionOptions } from './session.js';

/** Struct views over the request buffer at the argument offset. */
function argViews(buf: Uint8Array) {
  const o = IN_HEADER_SIZE;
  return {
    forget: new A.FuseForgetIn(buf, o),
    getattr: new A.FuseGetattrIn(buf, o),
    setattr: new A.FuseSetattrIn(buf, o),
    mknod: new A.FuseMknodIn(buf, o),
    mkdir: new A.FuseMkdirIn(buf, o),
    rename: new A.FuseRenameIn(buf, o),
    rename2: new A.FuseRename2In(buf, o),
    link: new A.FuseLinkIn(buf, o),
    open: new A.FuseOpenIn(buf, o),
    create: new A.FuseCreateIn(buf, o),
    release: new A.FuseReleaseIn(buf, o),
    flush: new A.FuseFlushIn(buf, o),
    read: new A.FuseReadIn(buf, o),
    write: new A.FuseWriteIn(buf, o),
    fsync: new A.FuseFsyncIn(buf, o),
    setxattr: new A.FuseSetxattrIn(buf, o),
    getxattr: new A.FuseGetxattrIn(buf, o),
    access: new A.FuseAccessIn(buf, o),
    lk: new A.FuseLkIn(buf, o),
    bmap: new A.FuseBmapIn(buf, o),
    ioctl: new A.FuseIoctlIn(buf, o),
    fallocate: new A.FuseFallocateIn(buf, o),
    lseek: new A.FuseLseekIn(buf, o),
    copy: new A.FuseCopyFileRangeIn(buf, o),
    statx: new A.FuseStatxIn(buf, o),
  };
}
export type ArgViews = ReturnType<typeof argViews>;

export class Dispatcher {
  readonly req: Request;
  readonly reply: Reply;
  readonly notify: NotifyQueue;
  readonly args: ArgViews;
  readonly log: Logger;
  readonly entryTimeout: number;
  readonly attrTimeout: number;
  conn: ConnectionInfo | null = null;
  /** Set by DESTROY. */
  destroyed = false;
  setxattrExt = false;

  // Reused result objects (ops.ts).
  readonly entry = newEntryOut();
  readonly attrOut = newAttrOut();
  readonly openOut = newOpenOut();
  readonly numOut = newNumOut();
  readonly statfsOut = newStatfsOut();
  readonly statxOut = newStatxOut();
  readonly setattrIn = newSetattrIn();
  readonly lockOut = newLockOut();
  readonly dataOut: DataOutImpl;
  readonly ioctlOut: IoctlOutImpl;
  readonly dirents: DirentBuffer;
  readonly direntsPlus: DirentPlusView;
  private readDest: Uint8Array;

  constructor(readonly ops: FuseOps, writer: FuseWriter, readonly opts: SessionOptions = {}) {
    this.log = opts.log ?? ((l) => console.error(l));
    this.entryTimeout = opts.entryTimeout ?? 1;
    this.attrTimeout = opts.attrTimeout ?? 1;
    const size = requestBufferSize(opts);
    this.req = new Request(size);
    // Replies are at most max_read (= max_write) bytes of data plus headers.
    this.reply = new Reply(writer, size);
    this.notify = new NotifyQueue(writer);
    this.args = argViews(this.req.buf);
    this.dataOut = new DataOutImpl(this.reply.payload);
    this.ioctlOut = new IoctlOutImpl(this.reply.payload);
    this.dirents = new DirentBuffer(this.reply.payload);
    this.direntsPlus = new DirentPlusView(this.dirents);
    this.readDest = this.reply.payload.subarray(0, 0);
  }

  /** The buffer the channel reads requests into. */
  get buffer(): Buffer {
    return this.req.buf;
  }

  /** A view of the reply payload of exactly `size` bytes (cached per size). */
  payloadView(size: number): Uint8Array {
    if (size > this.reply.capacity) size = this.reply.capacity;
    if (this.readDest.length !== size) this.readDest = this.reply.payload.subarray(0, size);
    return this.readDest;
  }

  /** Handle the request in buffer[0..n). Never throws. */
  handle(n: number): void {
    const r = this.req;
    const err = r.parse(n, this.setxattrExt);
    if (err === PARSE_DROP) {
      this.log(`fuse: dropped a ${n}-byte request (shorter than fuse_in_header)`);
      return;
    }
    const info = r.info;
    this.reply.begin(r.uniqueLo, r.uniqueHi);
    if (err !== 0) {
      if (info?.noReply) {
        this.log(`fuse: malformed ${info.name} (${errnoName(err)}), dropped`);
        return;
      }
      if (err !== Errno.ENOSYS) this.log(`fuse: malformed ${opcodeName(r.opcode)} request: ${errnoName(err)}`);
      else if (this.opts.debug) this.log(`fuse: unknown opcode ${r.opcode}: ENOSYS`);
      this.reply.error(err);
      return;
    }
    if (this.conn === null && r.opcode !== Opcode.INIT) {
      this.reply.error(Errno.EIO);
      return;
    }
    if (this.conn !== null && info!.minMinor > this.conn.minor) {
      this.reply.error(Errno.ENOSYS);
      return;
    }
    this.notify.inRequest = true;
    try {
      if (r.opcode === Opcode.INIT) this.init();
      else HANDLERS[r.opcode]!(this, r);
      if (!info!.noReply && !this.reply.replied) {
        this.log(`fuse: BUG: ${info!.name} handler sent no reply; answering EIO`);
        this.reply.error(Errno.EIO);
      }
    } catch (e) {
      this.thrown(e);
    }
    if (this.opts.debug) this.log(`fuse: ${info!.name} unique=${r.unique} nodeid=${r.nodeid}`);
    this.notify.flush();
  }

  /** Map a method's return value to an errno (0 = success). */
  errnoOf(rc: unknown): number {
    if (rc === 0) return 0;
    if (typeof rc !== 'number' || !Number.isInteger(rc)) {
      this.log(`fuse: ${opcodeName(this.req.opcode)} returned ${String(rc)}, not an errno; answering EIO`);
      return Errno.EIO;
    }
    const e = rc < 0 ? -rc : rc;
    if (e >= 512) return Errno.EIO;
    return e;
  }

  private thrown(e: unknown): void {
    const r = this.req;
    const name = opcodeName(r.opcode);
    const errnoProp = (e as { errno?: unknown } | null)?.errno;
    let errno: number = Errno.EIO;
    if (typeof errnoProp === 'number' && Number.isInteger(errnoProp) && errnoProp !== 0 && Math.abs(errnoProp) < 512) {
      errno = Math.abs(errnoProp);
    } else if (e instanceof RangeError && /2\^53/.test(e.message)) {
      errno = Errno.EOVERFLOW; // a 64-bit request field beyond what a JS number holds exactly
    }
    const msg = e instanceof Error ? e.message : String(e);
    this.log(`fuse: ${name} (nodeid ${r.nodeid}) failed: ${msg} -> ${errnoName(errno)}`);
    if (r.info?.noReply || this.reply.replied) return;
    this.reply.error(errno);
  }

  private init(): void {
    const r = this.req;
    const argLen = r.argEnd - IN_HEADER_SIZE;
    const res = negotiateInit(r.buf.subarray(IN_HEADER_SIZE, r.argEnd), argLen, this.reply.payload, this.opts,
      this.ops);
    if (res.kind === 'error') {
      this.log(`fuse: INIT refused: ${errnoName(res.errno)}`);
      this.reply.error(res.errno);
      return;
    }
    if (res.kind === 'retry') {
      this.reply.send(res.replyLen);
      return;
    }
    this.conn = res.conn;
    this.setxattrExt = (res.conn.flags & InitFlags.SETXATTR_EXT) !== 0;
    this.notify.minor = res.conn.minor;
    this.ops.init?.(res.conn, this.notify);
    this.reply.send(res.replyLen);
  }
}
