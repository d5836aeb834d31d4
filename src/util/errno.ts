// Linux errno values (asm-generic/errno-base.h, errno.h). Expected outcomes on the
// hot path are returned as these numbers (negative in FUSE replies), never thrown.
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  ENOTSUP: 95,
  ECONNABORTED: 103,
  ESTALE: 116,
  EUCLEAN: 117,
  EDQUOT: 122,
} as const;

export type ErrnoName = keyof typeof Errno;

const names = new Map<number, string>();
for (const [k, v] of Object.entries(Errno)) if (!names.has(v)) names.set(v, k);

/** Symbolic name of an errno value, e.g. 2 -> "ENOENT". */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `errno ${errno}`;
}
