// The handler table, indexed by opcode (INIT is handled by dispatch.ts).
// Which opcodes exist and how they are parsed is in opcodes.ts.
import { Opcode } from './abi-consts.js';
import * as F from './handlers-file.js';
import * as N from './handlers-node.js';
import type { Handler } from './handlers-node.js';
import * as X from './handlers-xattr.js';
import { OPCODES } from './opcodes.js';

export const HANDLERS: readonly (Handler | undefined)[] = (() => {
  const t: (Handler | undefined)[] = [];
  const set = (op: number, h: Handler) => { t[op] = h; };
  set(Opcode.LOOKUP, N.lookup);
  set(Opcode.FORGET, N.forget);
  set(Opcode.BATCH_FORGET, N.batchForget);
  set(Opcode.GETATTR, N.getattr);
  set(Opcode.SETATTR, N.setattr);
  set(Opcode.READLINK, N.readlink);
  set(Opcode.SYMLINK, N.symlink);
  set(Opcode.MKNOD, N.mknod);
  set(Opcode.MKDIR, N.mkdir);
  set(Opcode.UNLINK, N.unlink);
  set(Opcode.RMDIR, N.rmdir);
  set(Opcode.RENAME, N.rename);
  set(Opcode.RENAME2, N.rename2);
  set(Opcode.LINK, N.link);
  set(Opcode.STATFS, N.statfs);
  set(Opcode.ACCESS, N.access);
  set(Opcode.STATX, N.statx);
  set(Opcode.OPEN, F.open);
  set(Opcode.CREATE, F.create);
  set(Opcode.TMPFILE, F.tmpfile);
  set(Opcode.READ, F.read);
  set(Opcode.WRITE, F.write);
  set(Opcode.FLUSH, F.flush);
  set(Opcode.RELEASE, F.release);
  set(Opcode.FSYNC, F.fsync);
  set(Opcode.OPENDIR, F.opendir);
  set(Opcode.READDIR, F.readdir);
  set(Opcode.READDIRPLUS, F.readdirplus);
  set(Opcode.RELEASEDIR, F.releasedir);
  set(Opcode.FSYNCDIR, F.fsyncdir);
  set(Opcode.FALLOCATE, F.fallocate);
  set(Opcode.LSEEK, F.lseek);
  set(Opcode.COPY_FILE_RANGE, F.copyFileRange);
  set(Opcode.COPY_FILE_RANGE_64, F.copyFileRange64);
  set(Opcode.IOCTL, F.ioctl);
  set(Opcode.BMAP, F.bmap);
  set(Opcode.SYNCFS, F.syncfs);
  set(Opcode.GETLK, F.getlk);
  set(Opcode.SETLK, F.setlk);
  set(Opcode.SETLKW, F.setlkw);
  set(Opcode.POLL, F.poll);
  set(Opcode.INTERRUPT, F.interrupt);
  set(Opcode.DESTROY, F.destroy);
  set(Opcode.NOTIFY_REPLY, F.notifyReply);
  set(Opcode.GETXATTR, X.getxattr);
  set(Opcode.LISTXATTR, X.listxattr);
  set(Opcode.SETXATTR, X.setxattr);
  set(Opcode.REMOVEXATTR, X.removexattr);
  // Every opcode of the table except INIT has a handler.
  for (const info of OPCODES) {
    if (info && info.name !== 'INIT' && !t[info.opcode]) throw new Error(`no handler for ${info.name}`);
  }
  return t;
})();
