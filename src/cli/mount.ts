// `fuse4fs-ts mount IMAGE MOUNTPOINT [-o opts] [-f] [--log FILE]` and
// `fuse4fs-ts umount MOUNTPOINT`. Options follow mount(8)/fuse2fs. Without -f
// the command detaches once the mount is live (like fuse2fs): the parent
// starts a copy of itself in the foreground, waits for its "mounted" message
// over an IPC channel, and exits.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { startServer } from '../fuse/server.js';
import { unmountFuse } from '../fuse/mount.js';
import { checkMountpoint, isMountPoint } from '../fuse/mountpoint.js';
import type { ImageServerArg } from '../bridge/fs-module.js';
import { CliError, EXIT } from './common.js';

export interface MountCliOptions {
  o?: string[];
  foreground?: boolean;
  log?: string;
}

export interface ParsedMountOptions {
  readOnly: boolean;
  allowOther: boolean;
  defaultPermissions: boolean;
  uid?: number;
  gid?: number;
  fakeroot: boolean;
  offset: number;
  noRecovery: boolean;
  /** Unset: the superblock's s_errors decides, as for the kernel. */
  errors?: 'continue' | 'remount-ro' | 'panic';
  writebackCache: boolean;
  cacheBytes?: number;
  debug: boolean;
  acl: boolean;
  nonempty: boolean;
  commitSeconds: number;
  entryTimeout: number;
  attrTimeout: number;
}

function sizeArg(name: string, v: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v);
  if (!m) throw new CliError(`-o ${name}=${v}: not a size (e.g. 64M)`, EXIT.usage);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

function intArg(name: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new CliError(`-o ${name}: needs a number`, EXIT.usage);
  return Number(v);
}

/** Parse the comma-separated -o lists (repeatable). Unknown options are a usage error. */
export function parseMountOptions(list: string[] = []): ParsedMountOptions {
  const o: ParsedMountOptions = {
    readOnly: false, allowOther: false, defaultPermissions: true, fakeroot: false, offset: 0, noRecovery: false,
    writebackCache: false, debug: false, acl: false, nonempty: false, commitSeconds: 5,
    entryTimeout: 60, attrTimeout: 60,
  };
  for (const item of list.flatMap((s) => s.split(',')).filter((s) => s.length > 0)) {
    const eq = item.indexOf('=');
    const k = eq < 0 ? item : item.slice(0, eq);
    const v = eq < 0 ? undefined : item.slice(eq + 1);
    switch (k) {
      case 'ro': o.readOnly = true; break;
      case 'rw': o.readOnly = false; break;
      case 'allow_other': o.allowOther = true; break;
      case 'default_permissions': o.defaultPermissions = true; break;
      case 'uid': o.uid = intArg(k, v); break;
      case 'gid': o.gid = intArg(k, v); break;
      case 'fakeroot': o.fakeroot = true; break;
      case 'offset': o.offset = intArg(k, v); break;
      case 'norecovery': case 'noload': o.noRecovery = true; break;
      case 'errors':
        if (v !== 'continue' && v !== 'remount-ro' && v !== 'panic') throw new CliError(`-o errors=${v}: use continue, remount-ro or panic`, EXIT.usage);
        o.errors = v;
        break;
      case 'writeback_cache': o.writebackCache = true; break;
      case 'cache_size': if (v === undefined) throw new CliError('-o cache_size: needs a size', EXIT.usage); o.cacheBytes = sizeArg(k, v); break;
      case 'debug': o.debug = true; break;
      case 'acl': o.acl = true; break;
      case 'noacl': o.acl = false; break;
      case 'nonempty': o.nonempty = true; break;
      case 'commit': o.commitSeconds = intArg(k, v); break;
      case 'entry_timeout': o.entryTimeout = intArg(k, v); break;
      case 'attr_timeout': o.attrTimeout = intArg(k, v); break;
      case 'suid': case 'nosuid': case 'dev': case 'nodev': case 'atime': case 'noatime': case 'relatime': break;
      default: throw new CliError(`unknown mount option: ${item}`, EXIT.usage);
    }
  }
  return o;
}

const DAEMON_ENV = 'FUSE4FS_DAEMON_CHILD';

function fsModuleUrl(): string {
  const here = import.meta.url;
  return new URL(`../bridge/fs-module.${here.endsWith('.ts') ? 'ts' : 'js'}`, here).href;
}

export async function runMount(image: string, mountpoint: string, opts: MountCliOptions): Promise<number> {
  const o = parseMountOptions(opts.o);
  const img = resolve(image);
  if (!existsSync(img)) throw new CliError(`cannot open ${image}: no such file`, EXIT.image);
  try {
    accessSync(img, o.readOnly ? constants.R_OK : constants.R_OK | constants.W_OK);
  } catch {
    throw new CliError(`cannot open ${image} ${o.readOnly ? 'for reading' : 'for writing (use -o ro)'}`, EXIT.image);
  }
  if (statSync(img).isDirectory()) throw new CliError(`${image} is a directory, not an image`, EXIT.image);
  const mnt = resolve(mountpoint);
  const bad = checkMountpoint(mnt, o.nonempty);
  if (bad) throw new CliError(bad, EXIT.failure);

  if (!opts.foreground && process.env[DAEMON_ENV] !== '1') return detach();

  const arg: ImageServerArg = {
    image: img, readOnly: o.readOnly, offset: o.offset, noRecovery: o.noRecovery, cacheBytes: o.cacheBytes,
    logFile: opts.log, logLevel: o.debug ? 'debug' : 'warn',
    bridge: { commitIntervalMs: o.commitSeconds * 1000, uid: o.uid, gid: o.gid, fakeroot: o.fakeroot, errors: o.errors },
  };
  const log = (l: string) => { try { writeSync(2, l + '\n'); } catch { /* stderr closed after detaching */ } };
  let handle;
  try {
    handle = await startServer({
      mountpoint: mnt, fsModule: fsModuleUrl(), fsArg: arg,
      session: { entryTimeout: o.entryTimeout, attrTimeout: o.attrTimeout, writebackCache: o.writebackCache, posixAcl: o.acl, debug: o.debug },
      mount: { source: img, allowOther: o.allowOther, readOnly: o.readOnly, nonempty: o.nonempty, defaultPermissions: o.defaultPermissions },
      log,
    });
  } catch (e) {
    throw new CliError((e as Error).message.replace(/^filesystem failed to start: /, ''), EXIT.image);
  }
  process.send?.({ type: 'mounted' });
  process.channel?.unref();
  // Idle commits: the worker commits on a timer only when a request arrives; a
  // cheap statfs every commit interval makes one arrive (STATFS is never cached).
  const { statfs } = await import('node:fs');
  const timer = setInterval(() => statfs(mnt, () => {}), Math.max(1000, o.commitSeconds * 1000));
  timer.unref();
  const code = await handle.done;
  clearInterval(timer);
  return code;
}

/** Start ourselves in the foreground as a session leader and wait for "mounted". */
function detach(): Promise<number> {
  return new Promise((resolveP) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, [DAEMON_ENV]: '1' },
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => { stderr += s; });
    child.on('message', (m: { type?: string }) => {
      if (m?.type === 'mounted') {
        child.stderr!.destroy();
        child.disconnect();
        child.unref();
        resolveP(EXIT.ok);
      }
    });
    child.on('exit', (code) => {
      const line = stderr.trim().split('\n').filter(Boolean).pop() ?? `server exited with ${code}`;
      process.stderr.write(line.startsWith('fuse4fs-ts:') ? line + '\n' : `fuse4fs-ts: ${line}\n`);
      resolveP(code || EXIT.failure);
    });
  });
}

export async function runUmount(mountpoint: string, opts: { lazy?: boolean }): Promise<number> {
  const mnt = resolve(mountpoint);
  if (!isMountPoint(mnt)) {
    let dead = false;
    try { statSync(mnt); } catch (e) { dead = (e as NodeJS.ErrnoException).code === 'ENOTCONN'; }
    if (!dead) throw new CliError(`${mountpoint} is not mounted`, EXIT.failure);
  }
  try {
    await unmountFuse(mnt, { lazy: opts.lazy });
  } catch (e) {
    // A server killed with SIGKILL leaves a dead mount: a lazy unmount clears it.
    if (!opts.lazy) {
      try { await unmountFuse(mnt, { lazy: true }); return EXIT.ok; } catch { /* fall through */ }
    }
    throw new CliError((e as Error).message, EXIT.failure);
  }
  return EXIT.ok;
}
