// Extended-attribute handlers: GETXATTR, LISTXATTR (size probe with size 0 ->
// fuse_getxattr_out; ERANGE when the value is larger than asked), SETXATTR
// (8- or 16-byte fuse_setxattr_in), REMOVEXATTR. Never ENOSYS: the kernel
// would disable the operation for the whole mount (protocol note §2.4).
import { Errno } from '../util/errno.js';
import type { Dispatcher } from './dispatch.js';
import type { Handler } from './handlers-node.js';

/** ENOSYS from a filesystem must not reach the kernel for xattr ops. */
function xattrErrno(d: Dispatcher, rc: number): number {
  const e = d.errnoOf(rc);
  return e === Errno.ENOSYS ? Errno.EOPNOTSUPP : e;
}

function valueReply(d: Dispatcher, e: number, size: number): void {
  if (e !== 0) return d.reply.error(e);
  const n = d.dataOut.size();
  if (size === 0) return d.reply.xattrSize(n);
  if (n > size) return d.reply.error(Errno.ERANGE);
  d.reply.data(d.dataOut.bytes());
}

export const getxattr: Handler = (d, r) => {
  const size = d.args.getxattr.size;
  if (!d.ops.getxattr) return d.reply.error(Errno.ENODATA);
  const out = d.dataOut.reset(d.reply.payload);
  valueReply(d, xattrErrno(d, d.ops.getxattr(r, r.name0(), out)), size);
};

export const listxattr: Handler = (d, r) => {
  const size = d.args.getxattr.size;
  const out = d.dataOut.reset(d.reply.payload);
  if (!d.ops.listxattr) return valueReply(d, 0, size);
  valueReply(d, xattrErrno(d, d.ops.listxattr(r, out)), size);
};

export const setxattr: Handler = (d, r) => {
  if (!d.ops.setxattr) return d.reply.error(Errno.EOPNOTSUPP);
  const a = d.args.setxattr;
  const extFlags = d.setxattrExt ? a.setxattr_flags : 0;
  const e = xattrErrno(d, d.ops.setxattr(r, r.name0(), r.data(), a.flags, extFlags));
  if (e !== 0) d.reply.error(e);
  else d.reply.ok();
};

export const removexattr: Handler = (d, r) => {
  if (!d.ops.removexattr) return d.reply.error(Errno.ENODATA);
  const e = xattrErrno(d, d.ops.removexattr(r, r.name0()));
  if (e !== 0) d.reply.error(e);
  else d.reply.ok();
};
