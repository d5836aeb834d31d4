// Handlers for node and name operations: LOOKUP, FORGET, BATCH_FORGET,
// GETATTR, SETATTR, READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME,
// RENAME2, LINK, STATFS, ACCESS, STATX. Each answers exactly once.
// Protocol note §1.3 (opcode table), §2.2 (lookup counts), §2.4.
import { Errno } from '../util/errno.js';
import { FATTR, FUSE_GETATTR_FH } from './abi-consts.js';
import type { Dispatcher } from './dispatch.js';
import { resetAttr, resetEntryOut, resetStatfsOut, resetStatxOut } from './outs.js';
import { readS64, readU64, type Request } from './request.js';

export type Handler = (d: Dispatcher, r: Request) => void;

function entryReply(d: Dispatcher, rc: number): void {
  const e = d.errnoOf(rc);
  if (e !== 0) d.reply.error(e);
  else d.reply.entry(d.entry);
}

function plain(d: Dispatcher, rc: number): void {
  const e = d.errnoOf(rc);
  if (e !== 0) d.reply.error(e);
  else d.reply.ok();
}

function freshEntry(d: Dispatcher) {
  return resetEntryOut(d.entry, d.entryTimeout, d.attrTimeout);
}

export const lookup: Handler = (d, r) => {
  if (!d.ops.lookup) return d.reply.error(Errno.ENOSYS);
  entryReply(d, d.ops.lookup(r, r.name0(), freshEntry(d)));
};

export const forget: Handler = (d, r) => {
  d.ops.forget?.(r.nodeid, d.args.forget.nlookup);
};

export const batchForget: Handler = (d, r) => {
  const f = d.ops.forget;
  if (!f) return;
  const dv = r.dv;
  for (let o = r.dataOff, end = r.dataOff + r.dataLen; o < end; o += 16) {
    const nodeid = readU64(dv, o);
    const nlookup = readU64(dv, o + 8);
    if (Number.isNaN(nodeid) || Number.isNaN(nlookup)) {
      d.log(`fuse: BATCH_FORGET entry out of range at ${o}, skipped`);
      continue;
    }
    f.call(d.ops, nodeid, nlookup);
  }
};

export const getattr: Handler = (d, r) => {
  if (!d.ops.getattr) return d.reply.error(Errno.ENOSYS);
  const a = d.args.getattr;
  const fh = (a.getattr_flags & FUSE_GETATTR_FH) !== 0 ? a.fh : null;
  const out = d.attrOut;
  out.attrTimeout = d.attrTimeout;
  resetAttr(out.attr);
  const e = d.errnoOf(d.ops.getattr(r, fh, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.attr(out);
};

export const setattr: Handler = (d, r) => {
  if (!d.ops.setattr) return d.reply.error(Errno.ENOSYS);
  const a = d.args.setattr;
  const s = d.setattrIn;
  const o = r.argOffset;
  s.valid = a.valid;
  s.fh = (s.valid & FATTR.FH) !== 0 ? a.fh : 0;
  s.size = 0;
  if ((s.valid & FATTR.SIZE) !== 0) {
    s.size = readU64(r.dv, o + 16);
    if (Number.isNaN(s.size)) return d.reply.error(Errno.EFBIG);
  }
  s.mode = a.mode;
  s.uid = a.uid;
  s.gid = a.gid;
  s.atime = readS64(r.dv, o + 32);
  s.mtime = readS64(r.dv, o + 40);
  s.ctime = readS64(r.dv, o + 48);
  s.atimeNsec = a.atimensec;
  s.mtimeNsec = a.mtimensec;
  s.ctimeNsec = a.ctimensec;
  const out = d.attrOut;
  out.attrTimeout = d.attrTimeout;
  resetAttr(out.attr);
  const e = d.errnoOf(d.ops.setattr(r, s, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.attr(out);
};

export const readlink: Handler = (d, r) => {
  if (!d.ops.readlink) return d.reply.error(Errno.ENOSYS);
  const out = d.dataOut.reset(d.reply.payload);
  const e = d.errnoOf(d.ops.readlink(r, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.data(out.bytes());
};

export const symlink: Handler = (d, r) => {
  if (!d.ops.symlink) return d.reply.error(Errno.ENOSYS);
  entryReply(d, d.ops.symlink(r, r.name0(), r.name1(), freshEntry(d)));
};

export const mknod: Handler = (d, r) => {
  if (!d.ops.mknod) return d.reply.error(Errno.ENOSYS);
  const a = d.args.mknod;
  entryReply(d, d.ops.mknod(r, r.name0(), a.mode, a.rdev, a.umask, freshEntry(d)));
};

export const mkdir: Handler = (d, r) => {
  if (!d.ops.mkdir) return d.reply.error(Errno.ENOSYS);
  const a = d.args.mkdir;
  entryReply(d, d.ops.mkdir(r, r.name0(), a.mode, a.umask, freshEntry(d)));
};

export const unlink: Handler = (d, r) => {
  if (!d.ops.unlink) return d.reply.error(Errno.ENOSYS);
  plain(d, d.ops.unlink(r, r.name0()));
};

export const rmdir: Handler = (d, r) => {
  if (!d.ops.rmdir) return d.reply.error(Errno.ENOSYS);
  plain(d, d.ops.rmdir(r, r.name0()));
};

export const rename: Handler = (d, r) => {
  if (!d.ops.rename) return d.reply.error(Errno.ENOSYS);
  plain(d, d.ops.rename(r, r.name0(), d.args.rename.newdir, r.name1(), 0));
};

export const rename2: Handler = (d, r) => {
  // Not ENOSYS when missing: that would make the kernel refuse every flagged rename.
  if (!d.ops.rename) return d.reply.error(Errno.EINVAL);
  const a = d.args.rename2;
  plain(d, d.ops.rename(r, r.name0(), a.newdir, r.name1(), a.flags));
};

export const link: Handler = (d, r) => {
  if (!d.ops.link) return d.reply.error(Errno.ENOSYS);
  entryReply(d, d.ops.link(r, d.args.link.oldnodeid, r.name0(), freshEntry(d)));
};

export const statfs: Handler = (d, r) => {
  const out = resetStatfsOut(d.statfsOut);
  if (!d.ops.statfs) {
    // libfuse's default answer for a filesystem without statfs.
    out.namelen = 255;
    out.bsize = 512;
    return d.reply.statfs(out);
  }
  const e = d.errnoOf(d.ops.statfs(r, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.statfs(out);
};

export const access: Handler = (d, r) => {
  if (!d.ops.access) return d.reply.error(Errno.ENOSYS);
  plain(d, d.ops.access(r, d.args.access.mask));
};

export const statx: Handler = (d, r) => {
  if (!d.ops.statx) return d.reply.error(Errno.ENOSYS);
  const a = d.args.statx;
  const fh = (a.getattr_flags & FUSE_GETATTR_FH) !== 0 ? a.fh : null;
  const out = resetStatxOut(d.statxOut, d.attrTimeout);
  const e = d.errnoOf(d.ops.statx(r, fh, a.sx_flags, a.sx_mask, out));
  if (e !== 0) d.reply.error(e);
  else d.reply.statx(out);
};
