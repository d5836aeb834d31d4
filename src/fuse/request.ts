// Request parsing from the one reused read buffer: fuse_in_header, the fixed
// argument struct, NUL-terminated names and trailing data, all checked
// against the byte count read() returned (never trusting a length field).
// shared/notes/fuse-kernel-protocol.md §1.1, §1.3.
//
// parse() returns 0, an errno to answer with, or PARSE_DROP when the bytes
// are too short to even carry a `unique` to reply to.
import { Errno } from '../util/errno.js';
import { viewOf } from '../util/struct.js';
import { FUSE_COMPAT_SETXATTR_IN_SIZE, IN_HEADER_SIZE, Opcode } from './abi-consts.js';
import { FuseIoctlIn, FuseSetxattrIn, FuseWriteIn, FuseBatchForgetIn } from './abi-args.js';
import { opcodeInfo, type OpcodeInfo } from './opcodes.js';
import type { RequestContext } from './ops.js';

export const PARSE_DROP = -1;
const WRITE_SIZE_OFF = IN_HEADER_SIZE + FuseWriteIn.field('size')!.offset;
const IOCTL_IN_SIZE_OFF = IN_HEADER_SIZE + FuseIoctlIn.field('in_size')!.offset;
const BATCH_COUNT_OFF = IN_HEADER_SIZE + FuseBatchForgetIn.field('count')!.offset;
const TWO32 = 0x1_0000_0000;
const SLASH = 0x2f;

/** Reads a little-endian u64 as a number; NaN if above 2^53. */
export function readU64(dv: DataView, off: number): number {
  const hi = dv.getUint32(off + 4, true);
  if (hi >= 0x20_0000) return NaN;
  return hi * TWO32 + dv.getUint32(off, true);
}

/** Reads a little-endian s64 as a number (|v| < 2^53 assumed; clamps otherwise). */
export function readS64(dv: DataView, off: number): number {
  return Number(dv.getBigInt64(off, true));
}

export class Request implements RequestContext {
  readonly buf: Buffer;
  readonly dv: DataView;
  /** Bytes read. */
  length = 0;
  opcode = 0;
  unique = 0;
  uniqueLo = 0;
  uniqueHi = 0;
  nodeid = 0;
  uid = 0;
  gid = 0;
  pid = 0;
  info: OpcodeInfo | undefined = undefined;
  /** The fixed struct lives at [IN_HEADER_SIZE, IN_HEADER_SIZE + argSize). */
  argSize = 0;
  /** End of the arguments (before any total_extlen extensions). */
  argEnd = 0;
  name0Off = 0;
  name0Len = 0;
  name1Off = 0;
  name1Len = 0;
  dataOff = 0;
  dataLen = 0;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
    this.dv = viewOf(this.buf);
  }

  /** Offset of the fixed argument struct. */
  get argOffset(): number {
    return IN_HEADER_SIZE;
  }

  name0(): Uint8Array {
    return this.buf.subarray(this.name0Off, this.name0Off + this.name0Len);
  }

  name1(): Uint8Array {
    return this.buf.subarray(this.name1Off, this.name1Off + this.name1Len);
  }

  data(): Uint8Array {
    return this.buf.subarray(this.dataOff, this.dataOff + this.dataLen);
  }

  /**
   * Parse `n` bytes at the start of buf. `setxattrExt`: FUSE_SETXATTR_EXT was
   * negotiated (16-byte fuse_setxattr_in). Unknown opcodes return ENOSYS with
   * the header parsed.
   */
  parse(n: number, setxattrExt: boolean): number {
    this.length = n;
    this.info = undefined;
    this.dataLen = 0;
    this.name0Len = this.name1Len = 0;
    if (n < IN_HEADER_SIZE || n > this.buf.length) return PARSE_DROP;
    const dv = this.dv;
    const len = dv.getUint32(0, true);
    this.opcode = dv.getUint32(4, true);
    this.uniqueLo = dv.getUint32(8, true);
    this.uniqueHi = dv.getUint32(12, true);
    this.unique = this.uniqueHi * TWO32 + this.uniqueLo;
    this.uid = dv.getUint32(24, true);
    this.gid = dv.getUint32(28, true);
    this.pid = dv.getUint32(32, true);
    const nodeid = readU64(dv, 16);
    this.nodeid = Number.isNaN(nodeid) ? 0 : nodeid;
    if (len !== n || Number.isNaN(nodeid)) return Errno.EINVAL;
    const extBytes = dv.getUint16(36, true) * 8;
    const argEnd = n - extBytes;
    if (argEnd < IN_HEADER_SIZE) return Errno.EINVAL;
    this.argEnd = argEnd;

    const info = opcodeInfo(this.opcode);
    if (info === undefined) return Errno.ENOSYS;
    this.info = info;
    let argSize = info.inSize;
    if (this.opcode === Opcode.SETXATTR && setxattrExt) argSize = FuseSetxattrIn.size;
    else if (this.opcode === Opcode.SETXATTR) argSize = FUSE_COMPAT_SETXATTR_IN_SIZE;
    this.argSize = argSize;
    let pos = IN_HEADER_SIZE + argSize;
    if (pos > argEnd) return Errno.EINVAL;

    for (let i = 0; i < info.names; i++) {
      const nul = this.buf.indexOf(0, pos);
      if (nul < 0 || nul >= argEnd) return Errno.EINVAL;
      const nameLen = nul - pos;
      const kind = info.nameKinds[i];
      if (nameLen === 0) return Errno.EINVAL;
      if (kind === 'component') {
        // A path component: no '/'. ("." and ".." are legal for LOOKUP: export support.)
        const slash = this.buf.indexOf(SLASH, pos);
        if (slash >= 0 && slash < nul) return Errno.EINVAL;
      }
      if (i === 0) {
        this.name0Off = pos;
        this.name0Len = nameLen;
      } else {
        this.name1Off = pos;
        this.name1Len = nameLen;
      }
      pos = nul + 1;
    }

    this.dataOff = pos;
    const rest = argEnd - pos;
    switch (info.trailing) {
      case 'none':
        break;
      case 'write': {
        const size = dv.getUint32(WRITE_SIZE_OFF, true);
        if (size > rest) return Errno.EINVAL;
        this.dataLen = size;
        break;
      }
      case 'xattr-value': {
        const size = dv.getUint32(IN_HEADER_SIZE, true); // fuse_setxattr_in.size
        if (size > rest) return Errno.EINVAL;
        this.dataLen = size;
        break;
      }
      case 'ioctl-in': {
        const size = dv.getUint32(IOCTL_IN_SIZE_OFF, true);
        if (size > rest) return Errno.EINVAL;
        this.dataLen = size;
        break;
      }
      case 'forgets': {
        const count = dv.getUint32(BATCH_COUNT_OFF, true);
        if (count * 16 > rest) return Errno.EINVAL;
        this.dataLen = count * 16;
        break;
      }
    }
    return 0;
  }
}
