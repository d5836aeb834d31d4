// Journal recovery, pass for pass as fs/jbd2/recovery.c does it (and e2fsck's
// copy of it): PASS_SCAN finds the end of the log (verifying descriptor, revoke
// and commit checksums), PASS_REVOKE collects revoke records, PASS_REPLAY
// decides which log block ends up in each filesystem block. Nothing here writes:
// the result is a plan (filesystem block -> newest log copy) that open.ts
// applies to the image or lays over it in memory.
//
// Where the kernel's recovery stops, ours stops: the first block without the
// magic or with another sequence ends the log; a commit whose checksum fails
// ends it before that transaction (and, without async_commit, the kernel then
// refuses the mount: j_failed_commit); a stale checksum failure (older commit
// time) ends it quietly. Fast-commit blocks are not replayed (see fastCommitNote).
import { BlockType, JBD2_MAGIC, readHeader, tidGeq, tidGt } from './layout/header.js';
import { BLOCK_TAIL_SIZE, TAG_FLAGS_OFFSET, TAG_UUID_SIZE, TagFlag } from './layout/tags.js';
import { REVOKE_HEADER_SIZE, revokeRecordSize } from './layout/revoke.js';
import { COMMIT_CHKSUM_OFFSET, JBD2_CRC32_CHKSUM, JBD2_CRC32_CHKSUM_SIZE } from './layout/commit.js';
import { HEADER_SIZE } from './layout/header.js';
import {
  commitBlockChecksum, commitBlockChecksumPartial, crc32Be, dataBlockChecksum, verifyBlockTail,
} from './checksums.js';
import type { JournalInfo } from './info.js';
import { CorruptionError } from '../errors.js';

/** Where the newest copy of a filesystem block is in the log. */
export interface LogCopy {
  log: number;
  escape: boolean;
  sequence: number;
}

export interface RecoveryResult {
  startTransaction: number;
  /** First transaction not replayed (info->end_transaction). */
  endTransaction: number;
  /** Filesystem block -> newest unrevoked copy, in the order replay meets them. */
  plan: Map<number, LogCopy>;
  /** Blocks written during replay, counting overwrites (info->nr_replays). */
  replays: number;
  revokes: number;
  revokeHits: number;
  /** Set when the kernel would refuse the mount after this replay (j_failed_commit). */
  failedCommit: number;
  /** Problems after which the kernel's recovery returns an error (it replays what it can first). */
  softErrors: string[];
  /** A note about fast-commit blocks we do not replay, or ''. */
  fastCommitNote: string;
}

const enum Pass { Scan, Revoke, Replay }

/** Reads journal block `l` (throws a CorruptionError when it cannot). */
export type ReadLog = (l: number) => Uint8Array;

class RecoveryError extends CorruptionError {}

function fail(detail: string): never {
  throw new RecoveryError('journal', detail);
}

interface State {
  start: number;
  end: number;
  endSet: boolean;
  failedCommit: number;
  plan: Map<number, LogCopy>;
  revoked: Map<number, number>;
  replays: number;
  revokes: number;
  revokeHits: number;
  softErrors: string[];
}

/** Run the three passes over a journal whose superblock says s_start != 0. */
export function recoverJournal(info: JournalInfo, read: ReadLog): RecoveryResult {
  const st: State = {
    start: info.sequence, end: 0, endSet: false, failedCommit: 0, plan: new Map(), revoked: new Map(),
    replays: 0, revokes: 0, revokeHits: 0, softErrors: [],
  };
  onePass(info, read, st, Pass.Scan);
  onePass(info, read, st, Pass.Revoke);
  onePass(info, read, st, Pass.Replay);
  return {
    startTransaction: st.start,
    endTransaction: st.end,
    plan: st.plan,
    replays: st.replays,
    revokes: st.revokes,
    revokeHits: st.revokeHits,
    failedCommit: st.failedCommit,
    softErrors: st.softErrors,
    fastCommitNote: fastCommitNote(info, read, st.end),
  };
}

function wrap(info: JournalInfo, l: number): number {
  return l >= info.last ? l - (info.last - info.first) : l;
}

/** count_tags(): tags in a descriptor block. */
export function countTags(info: JournalInfo, b: Uint8Array): number {
  const size = info.blockSize - (info.csum >= 2 ? BLOCK_TAIL_SIZE : 0);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  let p = HEADER_SIZE;
  let n = 0;
  while (p + info.tagBytes <= size) {
    const flags = dv.getUint16(p + TAG_FLAGS_OFFSET, false);
    n++;
    p += info.tagBytes;
    if (!(flags & TagFlag.sameUuid)) p += TAG_UUID_SIZE;
    if (flags & TagFlag.lastTag) break;
  }
  return n;
}

function be64AsNumber(dv: DataView, off: number): number {
  return dv.getUint32(off, false) * 0x1_0000_0000 + dv.getUint32(off + 4, false);
}

function onePass(info: JournalInfo, read: ReadLog, st: State, pass: Pass): void {
  let nextId = info.sequence;
  let nextLog = info.start;
  let crc = 0xffffffff;
  let needCheckCommitTime = false;
  let lastCommitTime = 0;
  const csum23 = info.csum >= 2;

  const readBlock = (l: number): Uint8Array => {
    if (l >= info.maxLen) fail(`log block ${l} is past the end of the journal (${info.maxLen} blocks): corrupted journal superblock`);
    return read(l);
  };

  loop: for (;;) {
    if (pass !== Pass.Scan && tidGeq(nextId, st.end)) break;
    const b = readBlock(nextLog);
    const here = nextLog;
    nextLog = wrap(info, nextLog + 1);
    const h = readHeader(b);
    if (h.magic !== JBD2_MAGIC) break;
    if (h.sequence !== nextId) break;
    const dv = new DataView(b.buffer, b.byteOffset, b.length);

    switch (h.type) {
      case BlockType.descriptor: {
        if (csum23 && !verifyBlockTail(info.csumSeed, b)) {
          if (pass !== Pass.Scan) fail(`invalid checksum of descriptor block ${here} in transaction ${nextId}`);
          needCheckCommitTime = true;
        }
        if (pass !== Pass.Replay) {
          if (pass === Pass.Scan && info.csum === 1 && !st.endSet) {
            const n = countTags(info, b);
            crc = crc32Be(crc, b);
            for (let i = 0; i < n; i++) {
              const io = nextLog;
              nextLog = wrap(info, nextLog + 1);
              let ob: Uint8Array;
              try { ob = readBlock(io); } catch { continue loop; }
              crc = crc32Be(crc, ob);
            }
            continue loop;
          }
          nextLog = wrap(info, nextLog + countTags(info, b));
          continue loop;
        }
        // PASS_REPLAY: decide each tagged block.
        const limit = info.blockSize - (csum23 ? BLOCK_TAIL_SIZE : 0);
        let p = HEADER_SIZE;
        while (p + info.tagBytes <= limit) {
          const flags = dv.getUint16(p + TAG_FLAGS_OFFSET, false);
          const io = nextLog;
          nextLog = wrap(info, nextLog + 1);
          let ob: Uint8Array | null = null;
          try { ob = readBlock(io); } catch (e) {
            st.softErrors.push(`cannot read log block ${io}: ${(e as Error).message}`);
          }
          if (ob !== null) {
            const lo = dv.getUint32(p, false);
            const hi = info.is64 ? dv.getUint32(p + 8, false) : 0;
            const blocknr = hi * 0x1_0000_0000 + lo;
            const rseq = st.revoked.get(blocknr);
            if (rseq !== undefined && !tidGt(nextId, rseq)) {
              st.revokeHits++;
            } else if (csum23 && !tagChecksumOk(info, dv, p, ob, nextId)) {
              st.softErrors.push(`invalid checksum of data block ${blocknr} in log block ${io} (transaction ${nextId})`);
            } else {
              st.plan.delete(blocknr); // keep Map order = the order of the last write
              st.plan.set(blocknr, { log: io, escape: (flags & TagFlag.escape) !== 0, sequence: nextId });
              st.replays++;
            }
          }
          p += info.tagBytes;
          if (!(flags & TagFlag.sameUuid)) p += TAG_UUID_SIZE;
          if (flags & TagFlag.lastTag) break;
        }
        continue loop;
      }

      case BlockType.commit: {
        if (pass !== Pass.Scan) { nextId = (nextId + 1) >>> 0; continue loop; }
        const commitTime = be64AsNumber(dv, 0x30);
        if (needCheckCommitTime) {
          if (commitTime >= lastCommitTime) fail(`invalid checksum found in transaction ${nextId}`);
          break loop; // stale blocks of an older journal: end recovery here, successfully
        }
        let ok: boolean;
        if (info.csum === 1) {
          const found = dv.getUint32(COMMIT_CHKSUM_OFFSET, false);
          if (st.endSet) { st.failedCommit = st.end; continue loop; }
          const type = b[0xc]!;
          const size = b[0xd]!;
          ok = (crc === found && type === JBD2_CRC32_CHKSUM && size === JBD2_CRC32_CHKSUM_SIZE) ||
            (type === 0 && size === 0 && found === 0);
          if (ok) crc = 0xffffffff;
        } else if (csum23) {
          const found = dv.getUint32(COMMIT_CHKSUM_OFFSET, false);
          ok = found === commitBlockChecksum(info.csumSeed, b) || found === commitBlockChecksumPartial(info.csumSeed, b);
        } else {
          ok = true;
        }
        if (!ok) {
          if (commitTime < lastCommitTime) break loop; // stale: ignore the mismatch, end here
          st.end = nextId;
          st.endSet = true;
          if (!info.asyncCommit) { st.failedCommit = nextId; continue loop; }
        }
        lastCommitTime = commitTime;
        nextId = (nextId + 1) >>> 0;
        continue loop;
      }

      case BlockType.revoke: {
        if (pass !== Pass.Revoke && pass !== Pass.Scan) continue loop;
        if (pass === Pass.Scan && csum23 && !verifyBlockTail(info.csumSeed, b)) needCheckCommitTime = true;
        scanRevokeRecords(info, b, dv, pass, nextId, st);
        continue loop;
      }

      default:
        break loop;
    }
  }

  if (pass === Pass.Scan) {
    if (!st.endSet) { st.end = nextId; st.endSet = true; }
  } else if (st.end !== nextId) {
    st.softErrors.push(`recovery pass ${pass} ended at transaction ${nextId}, expected ${st.end}`);
  }
}

function tagChecksumOk(info: JournalInfo, dv: DataView, p: number, block: Uint8Array, seq: number): boolean {
  const c = dataBlockChecksum(info.csumSeed, seq, block);
  if (info.csum === 3) return dv.getUint32(p + 12, false) === c;
  return dv.getUint16(p + 4, false) === (c & 0xffff);
}

function scanRevokeRecords(info: JournalInfo, b: Uint8Array, dv: DataView, pass: Pass, seq: number, st: State): void {
  const rcount = dv.getUint32(12, false);
  const csumSize = info.csum >= 2 ? BLOCK_TAIL_SIZE : 0;
  if (rcount > info.blockSize - csumSize) fail(`revoke block of transaction ${seq} claims ${rcount} bytes`);
  const len = revokeRecordSize(info.is64);
  if (pass === Pass.Scan) {
    st.revokes += Math.max(0, Math.floor((rcount - REVOKE_HEADER_SIZE) / len));
    return;
  }
  for (let off = REVOKE_HEADER_SIZE; off + len <= rcount; off += len) {
    const blk = len === 4 ? dv.getUint32(off, false) : dv.getUint32(off, false) * 0x1_0000_0000 + dv.getUint32(off + 4, false);
    const prev = st.revoked.get(blk);
    if (prev === undefined || tidGt(seq, prev)) st.revoked.set(blk, seq);
  }
  void b;
}

/**
 * The kernel hands fast-commit blocks (after j_last) to ext4's replay callback;
 * we do not replay them. They only ever add to a state that the full commits
 * already made consistent, so ignoring them loses at most the operations they
 * describe (fsyncs after the last full commit), never consistency. Returns a
 * warning when the first fast-commit block looks like one for this log.
 */
function fastCommitNote(info: JournalInfo, read: ReadLog, endTransaction: number): string {
  if (info.fastCommitBlocks === 0) return '';
  let b: Uint8Array;
  try { b = read(info.last + 1 < info.maxLen ? info.last + 1 : info.last); } catch { return ''; }
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  // struct ext4_fc_tl { __le16 fc_tag; __le16 fc_len; } then for EXT4_FC_TAG_HEAD (9): features, tid (le32).
  const tag = dv.getUint16(0, true);
  const len = dv.getUint16(2, true);
  if (tag !== 9 || len < 8) return '';
  const tid = dv.getUint32(8, true);
  if (tid !== endTransaction && tid !== ((endTransaction - 1) >>> 0)) return '';
  return `the journal holds fast-commit blocks (transaction ${tid}) that are not replayed: operations fsync'ed after the last full commit may be missing (the filesystem stays consistent)`;
}
