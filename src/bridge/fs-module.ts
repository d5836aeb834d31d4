// The module the FUSE worker loads (src/fuse/worker.ts): opens the image inside
// the worker thread, which then owns both the volume and /dev/fuse.
import { Filesystem } from '../ext2/fs.js';
import { makeLogger, type LogLevel } from '../util/log.js';
import { appendFileSync, writeSync } from 'node:fs';
import { Ext2Ops, type BridgeOptions } from './ext2-ops.js';

export interface ImageServerArg {
  image: string;
  readOnly: boolean;
  offset?: number;
  noRecovery?: boolean;
  cacheBytes?: number;
  logFile?: string;
  logLevel?: LogLevel;
  bridge?: Omit<BridgeOptions, 'log'>;
}

export function createFilesystem(arg: ImageServerArg): Ext2Ops {
  const write = arg.logFile
    ? (l: string) => appendFileSync(arg.logFile!, l + '\n')
    : (l: string) => { try { writeSync(2, l + '\n'); } catch { /* stderr gone */ } };
  const log = makeLogger(write, arg.logLevel ?? 'warn');
  const fs = Filesystem.open(arg.image, {
    readOnly: arg.readOnly, offset: arg.offset, noRecovery: arg.noRecovery, cacheBytes: arg.cacheBytes, log,
  });
  for (const r of fs.vol.readOnlyReasons) log.warn(`mounted read-only: ${r}`);
  return new Ext2Ops(fs, { ...arg.bridge, log });
}
