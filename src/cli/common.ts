// What every command shares: the exit-code convention, opening an image with
// one-line errors, resolving PATH or <INO> arguments, and writing to stdout
// synchronously (EPIPE ends the program quietly, EAGAIN on a non-blocking pipe
// waits).
import { writeSync } from 'node:fs';
import { CorruptionError, UnsupportedError } from '../ext2/errors.js';
import { resolvePath } from '../ext2/namei.js';
import { Volume } from '../ext2/volume.js';
import { Errno, errnoName } from '../util/errno.js';
import { makeLogger } from '../util/log.js';

/**
 * Exit codes (also in `--help`):
 *   0  success
 *   1  the command failed: no such path, not a directory, damage met while
 *      reading, a file that could not be written (extract)
 *   2  usage error: unknown command or option, missing or malformed argument
 *   8  the image cannot be used at all: missing or unreadable file, not
 *      ext2/3/4, unsupported feature, damaged superblock or group descriptors
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, image: 8 } as const;

/** An error the CLI reports as one line (`fuse4fs-ts: message`) with its exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.failure) {
    super(message);
    this.name = 'CliError';
  }
}

/** stdout went away (EPIPE): stop quietly with success, as `cat | head` expects. */
export class StdoutClosed extends Error {
  constructor() {
    super('stdout closed');
    this.name = 'StdoutClosed';
  }
}

export interface ImageOptions {
  offset?: string;
  ignoreChecksums?: boolean;
  norecovery?: boolean;
}

/** Options every image-reading command accepts (commander flags → OpenOptions). */
export function imageFlags(cmd: { option(flags: string, desc: string): unknown }, norecovery = true): void {
  cmd.option('--offset <bytes>', 'byte offset of the filesystem inside the image file');
  cmd.option('--ignore-checksums', 'report checksum mismatches as warnings instead of failing');
  if (norecovery) cmd.option('--norecovery', 'read an image whose journal needs recovery as it is (without replaying it)');
}

const warnLogger = makeLogger((l) => { try { writeSync(2, `${l}\n`); } catch { /* stderr gone */ } }, 'warn');

/** Open an image read-only; any failure becomes a CliError with exit code 8. */
export function openImage(path: string, opts: ImageOptions, forceNoRecovery = false): Volume {
  let offset = 0;
  if (opts.offset !== undefined) {
    if (!/^\d+$/.test(opts.offset)) throw new CliError(`--offset: not a byte count: ${opts.offset}`, EXIT.usage);
    offset = Number(opts.offset);
  }
  try {
    return Volume.open(path, {
      readOnly: true,
      offset,
      noRecovery: forceNoRecovery || opts.norecovery === true,
      checksums: opts.ignoreChecksums ? 'warn' : 'error',
      log: warnLogger,
    });
  } catch (e) {
    if (e instanceof UnsupportedError || e instanceof CorruptionError) {
      const msg = e.message.startsWith('cannot open') ? e.message : `${path}: ${e.message}`;
      throw new CliError(msg, EXIT.image);
    }
    if (isErrno(e)) throw new CliError(`cannot open ${path}: ${describeErrno(e)}`, EXIT.image);
    throw e;
  }
}

export function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string';
}

/** "No such file or directory" style text for a Node system error. */
export function describeErrno(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9]+: (.*?),/.exec(e.message);
  return m ? m[1]! : e.code ?? e.message;
}

const ERRNO_TEXT: Record<number, string> = {
  [Errno.ENOENT]: 'no such file or directory',
  [Errno.ENOTDIR]: 'not a directory',
  [Errno.ELOOP]: 'too many levels of symbolic links',
  [Errno.ENAMETOOLONG]: 'file name too long',
  [Errno.EISDIR]: 'is a directory',
  [Errno.EINVAL]: 'invalid argument',
};

export function errnoText(errno: number): string {
  return ERRNO_TEXT[Math.abs(errno)] ?? errnoName(errno);
}

/** A TARGET argument: `<12>` or `12` is an inode number, anything else a path. */
export function parseTarget(arg: string): { ino: number } | { path: string } {
  const m = /^<(\d+)>$/.exec(arg) ?? /^(\d+)$/.exec(arg);
  if (m) return { ino: Number(m[1]) };
  return { path: arg };
}

/** Resolve a path in the image to an inode number, or throw a one-line CliError. */
export function resolveOrFail(vol: Volume, path: string, followLast: boolean): number {
  const ino = resolvePath(vol, path, followLast);
  if (ino < 0) throw new CliError(`${path}: ${errnoText(ino)}`);
  return ino;
}

/** Check an inode number against the volume. */
export function checkIno(vol: Volume, ino: number): number {
  if (!Number.isSafeInteger(ino) || ino < 1 || ino > vol.geo.inodesCount) {
    throw new CliError(`inode number ${ino} out of range 1..${vol.geo.inodesCount}`);
  }
  return ino;
}

// ---------------------------------------------------------------- stdout

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Write all of `data` to fd 1 synchronously. Throws StdoutClosed on EPIPE. */
export function writeOut(data: string | Uint8Array, fd = 1): void {
  let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') { Atomics.wait(sleepCell, 0, 0, 2); continue; }
      if (code === 'EPIPE') throw new StdoutClosed();
      throw e;
    }
  }
  buf = new Uint8Array(0);
}

/** Buffered line output for text views (flushes in 64 KiB pieces). */
export class Out {
  private parts: string[] = [];
  private size = 0;
  line(s = ''): void { this.text(`${s}\n`); }
  text(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 65536) this.flush();
  }
  /** Raw bytes (names as stored). */
  bytes(b: Uint8Array): void {
    this.flush();
    writeOut(b);
  }
  flush(): void {
    if (this.parts.length === 0) return;
    const s = this.parts.join('');
    this.parts = [];
    this.size = 0;
    writeOut(s);
  }
}

export function printJson(value: unknown): void {
  writeOut(`${JSON.stringify(value, null, 2)}\n`);
}

// ---------------------------------------------------------------- names

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const utf8Lossy = new TextDecoder('utf-8');

/** A name for JSON: the string, plus its bytes in hex when they are not valid UTF-8. */
export function jsonName(b: Uint8Array): { name: string; nameHex?: string } {
  try {
    return { name: utf8Fatal.decode(b) };
  } catch {
    return { name: utf8Lossy.decode(b), nameHex: Buffer.from(b).toString('hex') };
  }
}

export function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
