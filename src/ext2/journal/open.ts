// Journal recovery at open (the kernel's ext4_load_journal + jbd2_journal_load,
// e2fsck's e2fsck_run_ext3_journal). Volume.open calls recoverAtOpen before it
// reads anything else, so the superblock and group descriptors it then reads
// are the replayed ones.
//
// Read-write: every check runs before the first write; then the replayed blocks
// go home, a flush, the journal superblock is marked empty (s_start = 0,
// s_sequence = the first transaction not replayed + 1, as e2fsck leaves it), a
// flush, and needs_recovery is cleared in the (replayed) superblock. Orphans are
// the filesystem layer's business afterwards (fs.ts).
// Read-only (opts.readOnly, or a read-only device): the replayed blocks are laid
// over the device in memory (OverlayDevice), the superblock's copy without
// needs_recovery; the image is never written.
// Where the kernel's recovery would report an error or refuse the mount after
// replaying (bad data-block checksum, a corrupt commit mid-log), a read-write
// open refuses with the image untouched; a read-only one replays what the
// kernel would and warns.
import type { BlockDevice } from '../../io/block-device.js';
import type { Logger } from '../../util/log.js';
import { Errno } from '../../util/errno.js';
import { CorruptionError, UnsupportedError } from '../errors.js';
import { COMPAT, INCOMPAT, RO_COMPAT } from '../layout/features.js';
import { EXT2_MAGIC, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock } from '../layout/superblock.js';
import { superblockChecksum } from '../checksums.js';
import type { Volume } from '../volume.js';
import { JBD2_MAGIC } from './layout/header.js';
import { JournalSuperblock } from './layout/superblock.js';
import { journalSuperblockChecksum } from './checksums.js';
import { parseJournalSuperblock } from './info.js';
import { recoverJournal, type RecoveryResult } from './recover.js';
import { JournalFile } from './file.js';
import { OverlayDevice } from './overlay-device.js';

export interface RecoverOptions {
  readOnly?: boolean;
  noRecovery?: boolean;
  log: Logger;
}

/** What the last recovery did (for tests and `inspect`). */
export interface RecoveryReport {
  replayed: boolean;
  inMemory: boolean;
  startTransaction: number;
  endTransaction: number;
  blocks: number;
  revokes: number;
  revokeHits: number;
  warnings: string[];
}

let lastReport: RecoveryReport | null = null;
/** The report of the most recent recoverAtOpen that found a journal needing recovery. */
export function lastRecoveryReport(): RecoveryReport | null {
  return lastReport;
}

const EXT2_ERROR_FS = 0x2;

/**
 * Replay the journal of the filesystem on `dev` if it needs recovery. `probe`
 * opens a read-only volume on a device without recovery (to map the journal
 * inode). Returns the device the volume should use: `dev` itself, or an overlay.
 */
export function recoverAtOpen(dev: BlockDevice, opts: RecoverOptions, probe: (d: BlockDevice) => Volume): BlockDevice {
  if (dev.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) return dev;
  const sbBytes = new Uint8Array(SUPERBLOCK_SIZE);
  dev.read(sbBytes, SUPERBLOCK_OFFSET);
  const sb = new Superblock(sbBytes, 0);
  if (sb.s_magic !== EXT2_MAGIC) return dev;
  if (!(sb.s_feature_incompat & INCOMPAT.needs_recovery) || opts.noRecovery) return dev;
  if (sb.s_feature_incompat & INCOMPAT.journal_dev) return dev;
  if (!(sb.s_feature_compat & COMPAT.has_journal)) {
    throw new UnsupportedError('needs_recovery is set but the filesystem has no journal: run e2fsck -fy on the image', Errno.EINVAL);
  }
  if (sb.s_journal_inum === 0) {
    throw new UnsupportedError('the journal needs recovery but it is on an external device, which is not supported', Errno.EOPNOTSUPP);
  }
  const writable = !opts.readOnly && !dev.readOnly;
  const vol = probe(dev);
  const bs = vol.blockSize;
  const file = JournalFile.fromVolume(vol);
  const jsbBytes = file.read(0);
  const info = parseJournalSuperblock(jsbBytes, bs, file.length);
  const sbBlock = Math.floor(SUPERBLOCK_OFFSET / bs);
  const sbOffset = SUPERBLOCK_OFFSET % bs;
  const hasCsum = (sb.s_feature_ro_compat & RO_COMPAT.metadata_csum) !== 0;
  const warnings: string[] = [];
  if (info.errno !== 0) warnings.push(`the journal records error ${info.errno} from a previous mount: the filesystem is marked with errors (run e2fsck)`);

  let result: RecoveryResult | null = null;
  if (info.start !== 0) {
    try {
      result = recoverJournal(info, (l) => file.read(l));
    } catch (e) {
      if (e instanceof CorruptionError) {
        throw new CorruptionError('journal', `${e.detail}; nothing was replayed and the image is untouched (run e2fsck -fy, or open with norecovery to read it as it is)`, e.context);
      }
      throw e;
    }
    const problems = [...result.softErrors];
    if (result.failedCommit) {
      problems.push(`journal transaction ${result.failedCommit} is corrupt (commit block checksum): replay stops before it and the kernel refuses to mount`);
    }
    for (const nr of result.plan.keys()) {
      if (nr >= vol.geo.blocksCount) problems.push(`the journal logs block ${nr}, beyond the end of the filesystem (${vol.geo.blocksCount} blocks)`);
    }
    const sbCopy = result.plan.get(sbBlock);
    if (sbCopy !== undefined) {
      const b = file.read(sbCopy.log);
      if (new Superblock(b, sbOffset).s_magic !== EXT2_MAGIC) problems.push('the superblock logged in the journal has no ext2 magic');
    }
    if (problems.length > 0) {
      if (writable) {
        throw new CorruptionError('journal', `${problems.join('; ')}; the image is untouched (run e2fsck -fy, or open read-only or with norecovery)`);
      }
      warnings.push(...problems);
    }
    if (result.fastCommitNote) warnings.push(result.fastCommitNote);
  }
  for (const w of warnings) opts.log.warn(w);
  lastReport = {
    replayed: result !== null,
    inMemory: !writable,
    startTransaction: result?.startTransaction ?? info.sequence,
    endTransaction: result?.endTransaction ?? info.sequence,
    blocks: result?.plan.size ?? 0,
    revokes: result?.revokes ?? 0,
    revokeHits: result?.revokeHits ?? 0,
    warnings,
  };

  const logCopy = (log: number, escape: boolean): Uint8Array => {
    const b = file.read(log);
    if (escape) new DataView(b.buffer).setUint32(0, JBD2_MAGIC, false);
    return b;
  };
  const clearFlag = (bytes: Uint8Array): void => {
    const s = new Superblock(bytes, 0);
    s.s_feature_incompat = s.s_feature_incompat & ~INCOMPAT.needs_recovery;
    if (info.errno !== 0) s.s_state = s.s_state | EXT2_ERROR_FS;
    if (hasCsum) s.s_checksum = superblockChecksum(bytes);
  };

  if (!writable) {
    const overlay = new Map<number, Uint8Array>();
    if (result) for (const [nr, copy] of result.plan) {
      if (nr < vol.geo.blocksCount) overlay.set(nr, logCopy(copy.log, copy.escape));
    }
    let block = overlay.get(sbBlock);
    if (block === undefined) {
      block = new Uint8Array(bs);
      dev.read(block, sbBlock * bs);
      overlay.set(sbBlock, block);
    }
    clearFlag(block.subarray(sbOffset, sbOffset + SUPERBLOCK_SIZE));
    if (result) opts.log.info(`journal replayed in memory: transactions ${result.startTransaction}..${result.endTransaction - 1}, ${overlay.size} blocks`);
    return new OverlayDevice(dev, bs, overlay);
  }

  if (result) {
    const order = [...result.plan.keys()].sort((a, b) => a - b);
    for (const nr of order) {
      const copy = result.plan.get(nr)!;
      dev.write(logCopy(copy.log, copy.escape), nr * bs);
    }
    dev.flush();
    const j = new JournalSuperblock(jsbBytes, 0);
    j.s_sequence = (result.endTransaction + 1) >>> 0;
    j.s_start = 0;
    if (info.errno !== 0) j.s_errno = 0;
    if (info.csum >= 2) j.s_checksum = journalSuperblockChecksum(jsbBytes);
    file.write(0, jsbBytes);
    dev.flush();
    opts.log.info(`journal replayed: transactions ${result.startTransaction}..${result.endTransaction - 1}, ${order.length} blocks`);
  } else {
    // An empty log: jbd2 starts the next transaction at s_sequence + 1, and e2fsck
    // writes that back (j_tail_sequence); do the same so the images agree.
    const j = new JournalSuperblock(jsbBytes, 0);
    j.s_sequence = (info.sequence + 1) >>> 0;
    if (info.errno !== 0) j.s_errno = 0;
    if (info.csum >= 2) j.s_checksum = journalSuperblockChecksum(jsbBytes);
    file.write(0, jsbBytes);
    dev.flush();
  }
  const fresh = new Uint8Array(SUPERBLOCK_SIZE);
  dev.read(fresh, SUPERBLOCK_OFFSET);
  clearFlag(fresh);
  dev.write(fresh, SUPERBLOCK_OFFSET);
  dev.flush();
  return dev;
}
