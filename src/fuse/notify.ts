// Kernel notifications (fuse_out_header with unique 0 and error = code):
// INVAL_ENTRY, INVAL_INODE, DELETE. Calls made while a request is being
// handled are queued and sent only after that request's reply (the kernel may
// hold the very lock the notification needs: protocol note §2.3, deadlock rule).
// include/uapi/linux/fuse.h (fuse_notify_*); protocol note §1.4.
import { viewOf } from '../util/struct.js';
import { NotifyCode, OUT_HEADER_SIZE, FUSE_EXPIRE_ONLY } from './abi-consts.js';
import { FuseNotifyDeleteOut, FuseNotifyInvalEntryOut, FuseNotifyInvalInodeOut } from './abi-structs.js';
import type { Notifier } from './ops.js';
import type { FuseWriter } from './reply.js';
import { writeS64, writeU64 } from './pack.js';

function nameBytes(name: Uint8Array | string): Uint8Array {
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : Uint8Array.from(name);
}

export class NotifyQueue implements Notifier {
  private readonly pending: Uint8Array[] = [];
  /** True while a request is being handled. */
  inRequest = false;
  /** Negotiated protocol minor (0 before INIT: nothing is sent). */
  minor = 0;

  constructor(private readonly writer: FuseWriter) {}

  private message(code: number, payloadLen: number): { msg: Buffer; dv: DataView } {
    const msg = Buffer.alloc(OUT_HEADER_SIZE + payloadLen);
    const dv = viewOf(msg);
    dv.setUint32(0, msg.length, true);
    dv.setInt32(4, code, true);
    return { msg, dv };
  }

  private submit(msg: Uint8Array): void {
    if (this.inRequest) this.pending.push(msg);
    else this.writer.write(msg, msg.length);
  }

  invalEntry(parent: number, name: Uint8Array | string, expireOnly = false): void {
    if (this.minor < 12) return;
    const n = nameBytes(name);
    const { msg, dv } = this.message(NotifyCode.INVAL_ENTRY, FuseNotifyInvalEntryOut.size + n.length + 1);
    const o = OUT_HEADER_SIZE;
    writeU64(dv, o, parent);
    dv.setUint32(o + 8, n.length, true);
    dv.setUint32(o + 12, expireOnly && this.minor >= 38 ? FUSE_EXPIRE_ONLY : 0, true);
    msg.set(n, o + FuseNotifyInvalEntryOut.size);
    this.submit(msg);
  }

  invalInode(nodeid: number, off = 0, len = 0): void {
    if (this.minor < 12) return;
    const { msg, dv } = this.message(NotifyCode.INVAL_INODE, FuseNotifyInvalInodeOut.size);
    const o = OUT_HEADER_SIZE;
    writeU64(dv, o, nodeid);
    writeS64(dv, o + 8, off);
    writeS64(dv, o + 16, len);
    this.submit(msg);
  }

  delete(parent: number, child: number, name: Uint8Array | string): void {
    if (this.minor < 18) return;
    const n = nameBytes(name);
    const { msg, dv } = this.message(NotifyCode.DELETE, FuseNotifyDeleteOut.size + n.length + 1);
    const o = OUT_HEADER_SIZE;
    writeU64(dv, o, parent);
    writeU64(dv, o + 8, child);
    dv.setUint32(o + 16, n.length, true);
    msg.set(n, o + FuseNotifyDeleteOut.size);
    this.submit(msg);
  }

  /** Send what was queued during the request just answered. */
  flush(): void {
    this.inRequest = false;
    while (this.pending.length > 0) {
      const msg = this.pending.shift()!;
      this.writer.write(msg, msg.length);
    }
  }

  get queued(): number {
    return this.pending.length;
  }
}
