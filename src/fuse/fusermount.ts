// Mounting through fusermount3 (non-root, or on request): fusermount3 opens
// /dev/fuse, mounts, and hands the fd back over a socketpair with SCM_RIGHTS
// (1 byte of data + one cmsg), found through the _FUSE_COMMFD environment
// variable. Node cannot receive SCM_RIGHTS itself, so socketpair(2) and
// recvmsg(2) are called through koffi, an optional dependency loaded only here.
// shared/notes/fuse-kernel-protocol.md §3b; libfuse lib/mount.c receive_fd.
import { spawn } from 'node:child_process';
import { checkMountpoint } from './mountpoint.js';
import { mountOptionString, type MountOptions, type Mounted } from './mount.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;

interface Libc {
  socketpair(domain: number, type: number, protocol: number, sv: Int32Array): number;
  recvmsg(fd: number, msg: object, flags: number): number;
  close(fd: number): number;
}

let libc: Libc | null = null;

async function loadLibc(): Promise<Libc> {
  if (libc) return libc;
  let koffi: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    const name = 'koffi';
    const m = (await import(name)) as { default?: unknown };
    koffi = m.default ?? m;
  } catch {
    throw new Error('mounting without root goes through fusermount3 and needs the optional package koffi '
      + '(npm install koffi) to receive the /dev/fuse fd; or run as root');
  }
  const lib = koffi.load('libc.so.6');
  koffi.struct('fuse4fs_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  koffi.struct('fuse4fs_msghdr', {
    msg_name: 'void *', msg_namelen: 'uint32', msg_iov: 'fuse4fs_iovec *', msg_iovlen: 'size_t',
    msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int',
  });
  libc = {
    socketpair: lib.func('int socketpair(int, int, int, _Out_ int *sv)'),
    recvmsg: lib.func('long recvmsg(int, _Inout_ fuse4fs_msghdr *msg, int)'),
    close: lib.func('int close(int)'),
  };
  return libc;
}

/** Receive one fd sent with SCM_RIGHTS on `sock`; -1 on EOF (fusermount3 failed). */
function receiveFd(c: Libc, sock: number): number {
  const data = Buffer.alloc(1);
  const control = Buffer.alloc(64);
  const msg = {
    msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: 1 }], msg_iovlen: 1,
    msg_control: control, msg_controllen: control.length, msg_flags: 0,
  };
  let n = -1;
  for (let tries = 0; n < 0 && tries < 100; tries++) n = c.recvmsg(sock, msg, 0); // EINTR: retry
  if (n <= 0) return -1;
  // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + int fd
  if (control.readBigUInt64LE(0) < 20n || control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
    return -1;
  }
  return control.readInt32LE(16);
}

export async function mountFusermount(mountpoint: string, o: MountOptions): Promise<Mounted> {
  const bad = checkMountpoint(mountpoint, o.nonempty);
  if (bad) throw new Error(bad);
  const c = await loadLibc();
  const sv = new Int32Array(2);
  if (c.socketpair(AF_UNIX, SOCK_STREAM, 0, sv) !== 0) throw new Error('socketpair failed');
  const opts = `${mountOptionString(o, false)},fsname=${o.source ?? 'fuse4fs-ts'},subtype=fuse4fs-ts`;
  const child = spawn('fusermount3', ['-o', opts, '--', mountpoint], {
    stdio: ['ignore', 'ignore', 'pipe', sv[1]!],
    env: { ...process.env, _FUSE_COMMFD: '3' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => { stderr += s; });
  const exited = new Promise<number>((res) => {
    child.on('error', () => res(127));
    child.on('close', (code) => res(code ?? 1));
  });
  // The child holds its copy now; ours must go so a failing fusermount3 gives EOF.
  c.close(sv[1]!);
  // Blocks briefly: fusermount3 answers within milliseconds or exits.
  const fd = child.pid === undefined ? -1 : receiveFd(c, sv[0]!);
  c.close(sv[0]!);
  const code = await exited;
  if (fd < 0) throw new Error(`fusermount3 failed (exit ${code}): ${stderr.trim() || 'no fd received'}`);
  return { fd, mountpoint };
}
