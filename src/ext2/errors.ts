// Typed errors of the ext2 layer (DESIGN.md habit 3).
//
// Expected outcomes (ENOENT, EEXIST, ...) are returned as errno numbers on the
// hot path. Damage found in the image is thrown as a CorruptionError carrying
// the structure and its location; the bridge maps it to EUCLEAN in one place,
// the CLI prints `message` as one line.
import { Errno } from '../util/errno.js';

export type CorruptionKind =
  | 'superblock'
  | 'group-descriptor'
  | 'bitmap'
  | 'inode'
  | 'extent'
  | 'indirect'
  | 'dirent'
  | 'htree'
  | 'inline-data'
  | 'symlink'
  | 'xattr'
  | 'journal'
  | 'orphan'
  | 'checksum';

export interface CorruptionContext {
  ino?: number;
  block?: number;
  group?: number;
  offset?: number;
}

export class CorruptionError extends Error {
  readonly errno = Errno.EUCLEAN;
  constructor(
    readonly kind: CorruptionKind,
    readonly detail: string,
    readonly context: CorruptionContext = {},
  ) {
    super(`corrupt ${kind}${formatContext(context)}: ${detail}`);
    this.name = 'CorruptionError';
  }
}

function formatContext(c: CorruptionContext): string {
  const parts: string[] = [];
  if (c.ino !== undefined) parts.push(`inode ${c.ino}`);
  if (c.block !== undefined) parts.push(`block ${c.block}`);
  if (c.group !== undefined) parts.push(`group ${c.group}`);
  if (c.offset !== undefined) parts.push(`offset ${c.offset}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** The image cannot be opened as asked (not ext2/3/4, unknown incompat feature, ...). */
export class UnsupportedError extends Error {
  readonly errno: number;
  constructor(message: string, errno: number = Errno.EOPNOTSUPP) {
    super(message);
    this.name = 'UnsupportedError';
    this.errno = errno;
  }
}

export function corrupt(kind: CorruptionKind, detail: string, context?: CorruptionContext): never {
  throw new CorruptionError(kind, detail, context);
}
