// The declarative opcode table: for each FUSE opcode, the fixed input struct
// that follows fuse_in_header, how many NUL-terminated names come after it,
// whether trailing data follows, whether the kernel expects a reply, and the
// protocol minor that introduced it. shared/notes/fuse-kernel-protocol.md §1.3.
import { Opcode, type OpcodeName } from './abi-consts.js';
import * as A from './abi-args.js';
import { FuseInitIn } from './abi-structs.js';

/** What follows the fixed struct and names. */
export type Trailing =
  | 'none'
  | 'write' // fuse_write_in.size bytes of payload
  | 'xattr-value' // fuse_setxattr_in.size bytes of value
  | 'ioctl-in' // fuse_ioctl_in.in_size bytes
  | 'forgets'; // fuse_batch_forget_in.count x fuse_forget_one

export interface OpcodeInfo {
  readonly opcode: number;
  readonly name: OpcodeName;
  /** Size of the fixed input struct (0 = none), and its struct name for docs. */
  readonly inSize: number;
  readonly inStruct: string | null;
  /** Number of NUL-terminated names after the struct. */
  readonly names: 0 | 1 | 2;
  /** Whether names are path components (validated: non-empty, no '/'). SYMLINK's 2nd is a target. */
  readonly nameKinds: readonly ('component' | 'target' | 'any')[];
  readonly trailing: Trailing;
  readonly noReply: boolean;
  readonly minMinor: number;
}

type Row = [
  name: OpcodeName,
  inStruct: { structName: string; size: number } | null,
  names: 0 | 1 | 2,
  nameKinds: readonly ('component' | 'target' | 'any')[],
  trailing: Trailing,
  noReply: boolean,
  minMinor: number,
];

const C = 'component' as const;
const ROWS: readonly Row[] = [
  ['LOOKUP', null, 1, [C], 'none', false, 0],
  ['FORGET', A.FuseForgetIn, 0, [], 'none', true, 0],
  ['GETATTR', A.FuseGetattrIn, 0, [], 'none', false, 9],
  ['SETATTR', A.FuseSetattrIn, 0, [], 'none', false, 1],
  ['READLINK', null, 0, [], 'none', false, 0],
  ['SYMLINK', null, 2, [C, 'target'], 'none', false, 1],
  ['MKNOD', A.FuseMknodIn, 1, [C], 'none', false, 12],
  ['MKDIR', A.FuseMkdirIn, 1, [C], 'none', false, 1],
  ['UNLINK', null, 1, [C], 'none', false, 1],
  ['RMDIR', null, 1, [C], 'none', false, 1],
  ['RENAME', A.FuseRenameIn, 2, [C, C], 'none', false, 1],
  ['LINK', A.FuseLinkIn, 1, [C], 'none', false, 1],
  ['OPEN', A.FuseOpenIn, 0, [], 'none', false, 1],
  ['READ', A.FuseReadIn, 0, [], 'none', false, 9],
  ['WRITE', A.FuseWriteIn, 0, [], 'write', false, 9],
  ['STATFS', null, 0, [], 'none', false, 0],
  ['RELEASE', A.FuseReleaseIn, 0, [], 'none', false, 1],
  ['FSYNC', A.FuseFsyncIn, 0, [], 'none', false, 1],
  // The struct size is 8, or 16 with FUSE_SETXATTR_EXT: the dispatcher picks.
  ['SETXATTR', A.FuseSetxattrInCompat, 1, ['any'], 'xattr-value', false, 1],
  ['GETXATTR', A.FuseGetxattrIn, 1, ['any'], 'none', false, 1],
  ['LISTXATTR', A.FuseGetxattrIn, 0, [], 'none', false, 1],
  ['REMOVEXATTR', null, 1, ['any'], 'none', false, 1],
  ['FLUSH', A.FuseFlushIn, 0, [], 'none', false, 1],
  // INIT is parsed specially (16 bytes before 7.36, 64 after).
  ['INIT', { structName: FuseInitIn.structName, size: 16 }, 0, [], 'none', false, 0],
  ['OPENDIR', A.FuseOpenIn, 0, [], 'none', false, 1],
  ['READDIR', A.FuseReadIn, 0, [], 'none', false, 1],
  ['RELEASEDIR', A.FuseReleaseIn, 0, [], 'none', false, 1],
  ['FSYNCDIR', A.FuseFsyncIn, 0, [], 'none', false, 2],
  ['GETLK', A.FuseLkIn, 0, [], 'none', false, 7],
  ['SETLK', A.FuseLkIn, 0, [], 'none', false, 7],
  ['SETLKW', A.FuseLkIn, 0, [], 'none', false, 7],
  ['ACCESS', A.FuseAccessIn, 0, [], 'none', false, 3],
  ['CREATE', A.FuseCreateIn, 1, [C], 'none', false, 12],
  // INTERRUPT is answered with ENOSYS once, see dispatch.ts.
  ['INTERRUPT', A.FuseInterruptIn, 0, [], 'none', false, 7],
  ['BMAP', A.FuseBmapIn, 0, [], 'none', false, 8],
  ['DESTROY', null, 0, [], 'none', false, 8],
  ['IOCTL', A.FuseIoctlIn, 0, [], 'ioctl-in', false, 11],
  ['POLL', A.FusePollIn, 0, [], 'none', false, 11],
  ['NOTIFY_REPLY', null, 0, [], 'none', true, 15],
  ['BATCH_FORGET', A.FuseBatchForgetIn, 0, [], 'forgets', true, 16],
  ['FALLOCATE', A.FuseFallocateIn, 0, [], 'none', false, 19],
  ['READDIRPLUS', A.FuseReadIn, 0, [], 'none', false, 21],
  ['RENAME2', A.FuseRename2In, 2, [C, C], 'none', false, 23],
  ['LSEEK', A.FuseLseekIn, 0, [], 'none', false, 24],
  ['COPY_FILE_RANGE', A.FuseCopyFileRangeIn, 0, [], 'none', false, 28],
  ['SYNCFS', A.FuseSyncfsIn, 0, [], 'none', false, 34],
  // The kernel sends the name "/" for TMPFILE.
  ['TMPFILE', A.FuseCreateIn, 1, ['any'], 'none', false, 37],
  ['STATX', A.FuseStatxIn, 0, [], 'none', false, 39],
  ['COPY_FILE_RANGE_64', A.FuseCopyFileRangeIn, 0, [], 'none', false, 45],
];

/** Indexed by opcode; undefined for unknown opcodes (answered ENOSYS). */
export const OPCODES: readonly (OpcodeInfo | undefined)[] = (() => {
  const table: (OpcodeInfo | undefined)[] = [];
  for (const [name, st, names, nameKinds, trailing, noReply, minMinor] of ROWS) {
    if (nameKinds.length !== names) throw new Error(`opcode table: ${name} names/nameKinds mismatch`);
    const opcode = Opcode[name];
    table[opcode] = {
      opcode, name, inSize: st ? st.size : 0, inStruct: st ? st.structName : null,
      names, nameKinds, trailing, noReply, minMinor,
    };
  }
  return table;
})();

export function opcodeInfo(opcode: number): OpcodeInfo | undefined {
  return opcode < OPCODES.length ? OPCODES[opcode] : undefined;
}

export function opcodeName(opcode: number): string {
  return opcodeInfo(opcode)?.name ?? `opcode ${opcode}`;
}
