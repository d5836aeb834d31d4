// Random operation sequences through the Filesystem API (src/ext2/fs.ts) on
// every committed image flavour, against the in-memory model of
// test/helpers/model.ts: create/mknod, mkdir, symlink, write, truncate, punch,
// fallocate, link, unlink, rmdir, rename (plain, NOREPLACE, EXCHANGE,
// WHITEOUT), setxattr/removexattr, chmod/chown, immutable/append flags.
//
// The model starts as the image's own tree (our reader's view; lost+found left
// alone). Every call's result must be what the model says (the same errno in
// the kernel's order of checks). After each sequence: the live tree equals the
// model; close; `e2fsck -fn` clean; reopened read-only, the tree equals the
// model; on kernel-mountable images the loop-mounted tree equals the model and
// its timestamps (ns, crtime) equal ours.
//
// CI: PROP_RUNS (default 3) sequences of up to PROP_OPS (default 30) operations
// per flavour. PROP_RUNS=300 is a long run; PROP_SEED (+ PROP_PATH) replays one;
// PROP_IMAGES=a,b limits the flavours; PROP_SHRINK=1 shrinks a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Filesystem, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT } from '../../src/ext2/fs.js';
import { InodeFlags } from '../../src/ext2/layout/inode.js';
import { errnoName } from '../../src/util/errno.js';
import { freshCopy, listImages, type ManifestEntry } from '../helpers/images.js';
import { e2fsck, hasTool } from '../helpers/tools.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';
import {
  diffSnapshots, FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE, fsResolve, IFMT_OF, joinPath, Model, type MNode,
  nameBytes, pattern, snapshotFs, snapshotKernel, type Kind, type Snapshot,
} from '../helpers/model.js';

const RUNS = Number(process.env.PROP_RUNS ?? 3);
const OPS = Number(process.env.PROP_OPS ?? 30);
const SEED = process.env.PROP_SEED === undefined ? undefined : Number(process.env.PROP_SEED);
const PATH = process.env.PROP_PATH;
const ONLY = process.env.PROP_IMAGES?.split(',');
const TOOLS = hasTool('e2fsck');
const KERNEL = canLoopMount() && hasTool('getfattr');
const MAX_FILE = 3 << 20;

const skip = (p: string): boolean => p === 'lost+found';

const NAMES = [
  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'file.txt', 'dir', '.hidden', 'with space', 'n'.repeat(100),
  'm'.repeat(200), 'L'.repeat(255), 'T'.repeat(256),
];
const XNAMES = ['user.a', 'user.bb', 'user.' + 'x'.repeat(40), 'trusted.t', 'security.s', 'user.big'];

type Op =
  | { op: 'create'; dir: number; name: number; kind: number; mode: number; owner: number; dev: number }
  | { op: 'mkdir'; dir: number; name: number; mode: number; owner: number }
  | { op: 'symlink'; dir: number; name: number; len: number; seed: number }
  | { op: 'write'; file: number; where: number; at: number; len: number; seed: number }
  | { op: 'truncate'; file: number; where: number; at: number }
  | { op: 'falloc'; file: number; mode: number; where: number; at: number; len: number }
  | { op: 'link'; src: number; dir: number; name: number; existing: boolean }
  | { op: 'unlink'; path: number; rm: boolean }
  | { op: 'rename'; src: number; dir: number; name: number; existing: boolean; flags: number }
  | { op: 'setxattr'; path: number; name: number; len: number; seed: number; flags: number }
  | { op: 'removexattr'; path: number; name: number }
  | { op: 'chmod'; path: number; mode: number; owner: number; chown: boolean }
  | { op: 'flags'; path: number; flags: number };

const sel = fc.nat(1 << 20);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('create' as const), dir: sel, name: sel, kind: fc.nat(9), mode: fc.nat(0o7777), owner: fc.nat(3), dev: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mkdir' as const), dir: sel, name: sel, mode: fc.nat(0o7777), owner: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('symlink' as const), dir: sel, name: sel, len: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 1023 })), seed: fc.nat(255) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), file: sel, where: fc.nat(4), at: sel, len: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 70000 })), seed: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), file: sel, where: fc.nat(4), at: sel }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('falloc' as const), file: sel, mode: fc.constantFrom(FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE, 0, FALLOC_KEEP_SIZE, FALLOC_ZERO_RANGE, FALLOC_ZERO_RANGE | FALLOC_KEEP_SIZE), where: fc.nat(4), at: sel, len: fc.integer({ min: 1, max: 200000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('link' as const), src: sel, dir: sel, name: sel, existing: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('unlink' as const), path: sel, rm: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('rename' as const), src: sel, dir: sel, name: sel, existing: fc.boolean(), flags: fc.constantFrom(0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT, RENAME_NOREPLACE | RENAME_WHITEOUT) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('setxattr' as const), path: sel, name: sel, len: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 120 })), seed: fc.nat(255), flags: fc.constantFrom(0, 0, 1, 2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removexattr' as const), path: sel, name: sel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('chmod' as const), path: sel, mode: fc.nat(0o7777), owner: fc.nat(3), chown: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flags' as const), path: sel, flags: fc.constantFrom(0, 0, InodeFlags.IMMUTABLE, InodeFlags.APPEND) }) },
);

const OWNERS: [number, number][] = [[0, 0], [1000, 1000], [65534, 100], [100000, 200000]];
const CREATE_KINDS: Kind[] = ['file', 'file', 'file', 'file', 'file', 'fifo', 'socket', 'chr', 'blk', 'chr'];
const DEVS = [{ major: 1, minor: 3 }, { major: 0, minor: 0 }, { major: 300, minor: 70000 }, { major: 4095, minor: 0xfffff }];

const pick = <T>(list: readonly T[], i: number): T | undefined => (list.length === 0 ? undefined : list[i % list.length]);
const encodeDev = (d: { major: number; minor: number }): number =>
  ((d.minor & 0xff) | (d.major << 8) | ((d.minor & ~0xff) << 12)) >>> 0;

/** A position in a file of `size` bytes: start, inside, at EOF, just past, far past. */
function position(where: number, at: number, size: number, bs: number): number {
  switch (where) {
    case 0: return 0;
    case 1: return at % (size + 1);
    case 2: return size;
    case 3: return size + (at % (3 * bs));
    default: return at % MAX_FILE;
  }
}

interface Ctx {
  fs: Filesystem;
  model: Model;
  bs: number;
  log: string[];
}

/** Run one operation on both sides; throws on any difference in the result. */
function step(c: Ctx, o: Op, i: number): void {
  const { fs, model } = c;
  const dirs = model.dirs();
  const entries = model.entries();
  const ino = (path: string): number => {
    const r = fsResolve(fs, path);
    if (r < 0) throw new Error(`step ${i}: our lookup of ${path || '/'} gave ${errnoName(r)} (model has it)`);
    return r;
  };
  const nameFor = (dir: MNode, n: number, existing: boolean): string => {
    const names = [...dir.entries!.keys()];
    return existing && names.length > 0 ? names[n % names.length]! : NAMES[n % NAMES.length]!;
  };
  const files = entries.filter((e) => e.node.kind === 'file' && !e.node.opaque);
  let want: number;
  let got: number;
  let desc: string;
  switch (o.op) {
    case 'create': {
      const d = pick(dirs, o.dir)!;
      const name = nameFor(d.node, o.name, false);
      const kind = CREATE_KINDS[o.kind]! as Exclude<Kind, 'symlink' | 'dir'>;
      const [uid, gid] = OWNERS[o.owner]!;
      const dev = DEVS[o.dev]!;
      desc = `mknod ${joinPath(d.path, name)} ${kind} 0${o.mode.toString(8)} ${uid}:${gid}`;
      want = model.mknod(d.node, name, kind, o.mode, uid, gid, dev);
      got = kind === 'file'
        ? fs.create(ino(d.path), nameBytes(name), o.mode, uid, gid)
        : fs.mknod(ino(d.path), nameBytes(name), IFMT_OF[kind] | o.mode, uid, gid, encodeDev(dev));
      break;
    }
    case 'mkdir': {
      const d = pick(dirs, o.dir)!;
      const name = nameFor(d.node, o.name, false);
      const [uid, gid] = OWNERS[o.owner]!;
      desc = `mkdir ${joinPath(d.path, name)} 0${o.mode.toString(8)}`;
      want = model.mknod(d.node, name, 'dir', o.mode, uid, gid);
      got = fs.mkdir(ino(d.path), nameBytes(name), o.mode, uid, gid);
      break;
    }
    case 'symlink': {
      const d = pick(dirs, o.dir)!;
      const name = nameFor(d.node, o.name, false);
      const target = pattern(Math.min(o.len, c.bs - 1), o.seed).map((b) => 0x21 + (b % 90));
      desc = `symlink ${joinPath(d.path, name)} (${target.length} B)`;
      want = model.symlink(d.node, name, target, 0, 0);
      got = fs.symlink(ino(d.path), nameBytes(name), target, 0, 0);
      break;
    }
    case 'write': {
      const f = pick(files, o.file);
      if (!f) return;
      let pos = position(o.where, o.at, f.node.size, c.bs);
      const len = Math.min(o.len, MAX_FILE);
      if (pos + len > MAX_FILE) pos = MAX_FILE - len;
      const data = pattern(len, o.seed);
      desc = `write ${f.path} @${pos} +${len} (size ${f.node.size})`;
      want = model.write(f.node, pos, data);
      got = fs.writeData(ino(f.path), pos, data);
      break;
    }
    case 'truncate': {
      const f = pick(files, o.file);
      if (!f) return;
      const size = position(o.where, o.at, f.node.size, c.bs);
      desc = `truncate ${f.path} ${f.node.size} -> ${size}`;
      want = model.truncate(f.node, size);
      got = fs.setattr(ino(f.path), { size });
      break;
    }
    case 'falloc': {
      const f = pick(files, o.file);
      if (!f) return;
      const pos = Math.min(position(o.where, o.at, f.node.size, c.bs), MAX_FILE - o.len);
      desc = `fallocate ${f.path} mode 0x${o.mode.toString(16)} @${pos} +${o.len} (size ${f.node.size})`;
      want = model.fallocate(f.node, o.mode, pos, o.len);
      got = fs.fallocate(ino(f.path), o.mode, pos, o.len);
      break;
    }
    case 'link': {
      const s = pick(entries.filter((e) => e.node.kind !== 'dir'), o.src);
      if (!s) return;
      const d = pick(dirs, o.dir)!;
      const name = nameFor(d.node, o.name, o.existing);
      desc = `link ${s.path} -> ${joinPath(d.path, name)}`;
      want = model.link(s.node, d.node, name);
      got = fs.link(ino(s.path), ino(d.path), nameBytes(name));
      break;
    }
    case 'unlink': {
      const e = pick(entries, o.path);
      if (!e) return;
      const dpath = e.path.slice(0, Math.max(0, e.path.length - e.name.length - 1));
      desc = `${o.rm ? 'rmdir' : 'unlink'} ${e.path} (${e.node.kind})`;
      want = o.rm ? model.rmdir(e.dir, e.name) : model.unlink(e.dir, e.name);
      got = o.rm ? fs.rmdir(ino(dpath), nameBytes(e.name)) : fs.unlink(ino(dpath), nameBytes(e.name));
      break;
    }
    case 'rename': {
      const e = pick(entries, o.src);
      if (!e) return;
      const dpath = e.path.slice(0, Math.max(0, e.path.length - e.name.length - 1));
      const d = pick(dirs, o.dir)!;
      const name = nameFor(d.node, o.name, o.existing);
      desc = `rename ${e.path} (${e.node.kind}) -> ${joinPath(d.path, name)} (${d.node.entries!.get(name)?.kind ?? 'new'}) flags ${o.flags}`;
      want = model.rename(e.dir, e.name, d.node, name, o.flags);
      got = fs.rename(ino(dpath), nameBytes(e.name), ino(d.path), nameBytes(name), o.flags);
      break;
    }
    case 'setxattr': {
      const all = [{ path: '', node: model.root }, ...entries.filter((e) => e.node.kind === 'file' || e.node.kind === 'dir')];
      const e = pick(all, o.path)!;
      const name = XNAMES[o.name % XNAMES.length]!;
      const len = name === 'user.big' ? (c.bs >= 4096 ? 1500 : 300) : o.len;
      const value = pattern(len, o.seed);
      desc = `setxattr ${e.path || '/'} ${name} ${len} B flags ${o.flags}`;
      want = model.setxattr(e.node, name, value, o.flags);
      got = fs.setxattr(ino(e.path), name, value, o.flags);
      break;
    }
    case 'removexattr': {
      const all = [{ path: '', node: model.root }, ...entries.filter((e) => e.node.kind === 'file' || e.node.kind === 'dir')];
      const e = pick(all, o.path)!;
      const names = [...new Set([...XNAMES, ...e.node.xattrs.keys()])];
      const name = names[o.name % names.length]!;
      desc = `removexattr ${e.path || '/'} ${name}`;
      want = model.removexattr(e.node, name);
      got = fs.removexattr(ino(e.path), name);
      break;
    }
    case 'chmod': {
      const all = [{ path: '', node: model.root }, ...entries];
      const e = pick(all, o.path)!;
      const [uid, gid] = OWNERS[o.owner]!;
      if (o.chown) {
        desc = `chown ${e.path || '/'} ${uid}:${gid}`;
        want = model.chown(e.node, uid, gid);
        got = fs.setattr(ino(e.path), { uid, gid });
      } else {
        desc = `chmod ${e.path || '/'} 0${o.mode.toString(8)}`;
        want = model.chmod(e.node, o.mode);
        got = fs.setattr(ino(e.path), { mode: o.mode });
      }
      break;
    }
    case 'flags': {
      const e = pick(entries.filter((x) => x.node.kind === 'file' || x.node.kind === 'dir'), o.path);
      if (!e) return;
      desc = `setflags ${e.path} 0x${o.flags.toString(16)}`;
      const i2 = ino(e.path);
      want = model.setFlags(e.node, o.flags);
      const mask = InodeFlags.IMMUTABLE | InodeFlags.APPEND;
      got = fs.setFlags(i2, ((fs.getFlags(i2) & ~mask) | o.flags) >>> 0);
      break;
    }
  }
  if (got > 0 && (o.op === 'create' || o.op === 'mkdir' || o.op === 'symlink')) got = 0;
  c.log.push(`${i}: ${desc} = ${want < 0 ? errnoName(want) : want}`);
  if (got !== want) {
    throw new Error(`step ${i}: ${desc}: model says ${want < 0 ? errnoName(want) : want}, we gave ${got < 0 ? errnoName(got) : got}\n${c.log.join('\n')}`);
  }
}

/** One sequence on a fresh copy of the image, then every check of the header comment. */
async function runSequence(entry: ManifestEntry, ops: Op[]): Promise<void> {
  const image = freshCopy(entry.name);
  const extents = entry.features.includes('extent');
  const fs = Filesystem.open(image, { readOnly: false, log: quiet });
  let model: Model;
  const c: Ctx = { fs, model: undefined as unknown as Model, bs: entry.blockSize, log: [] };
  try {
    model = Model.fromFs(fs, 2, { extents }, { skip });
    c.model = model;
    for (let i = 0; i < ops.length; i++) {
      try {
        step(c, ops[i]!, i);
      } catch (e) {
        if (e instanceof Error && !e.message.startsWith('step ')) {
          e.message = `step ${i} (${JSON.stringify(ops[i])}) threw: ${e.message}\n${c.log.join('\n')}\n${e.stack}`;
        }
        throw e;
      }
    }
    const live = diffSnapshots(model.snapshot(), snapshotFs(fs, 2, { skip }), 'model', 'live');
    assert.deepEqual(live, [], `live tree differs from the model:\n${live.join('\n')}\n${c.log.join('\n')}`);
  } finally {
    fs.close();
  }
  const r = e2fsck(image);
  assert.equal(r.code, 0, `e2fsck -fn after:\n${c.log.join('\n')}\n${r.output}`);
  const ro = Filesystem.open(image, { readOnly: true, log: quiet });
  const crtime = entry.inodeSize > 128;
  let ours;
  try {
    ours = snapshotFs(ro, 2, { skip, times: KERNEL && entry.kernelMountable, crtime });
  } finally {
    ro.close();
  }
  const want = model.snapshot();
  const reread = diffSnapshots(want, withoutTimes(ours), 'model', 'reopened');
  assert.deepEqual(reread, [], `reopened tree differs from the model:\n${reread.join('\n')}\n${c.log.join('\n')}`);
  if (KERNEL && entry.kernelMountable) {
    const options = entry.kernelMountOptions.split(',').filter((o) => o !== 'ro' && o !== '');
    const k = await withLoopMount(image, (dir) => snapshotKernel(dir, { skip, times: true, crtime }), { options });
    const vsModel = diffSnapshots(want, withoutTimes(k), 'model', 'kernel');
    assert.deepEqual(vsModel, [], `the kernel's tree differs from the model:\n${vsModel.join('\n')}\n${c.log.join('\n')}`);
    const vsOurs = diffSnapshots(ours, k, 'ours', 'kernel');
    assert.deepEqual(vsOurs, [], `the kernel's attributes differ from ours:\n${vsOurs.join('\n')}`);
  }
}

function withoutTimes(s: Snapshot): Snapshot {
  return new Map([...s].map(([p, f]) => [p, { ...f, times: undefined }]));
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

let totalSequences = 0;
let totalOps = 0;
for (const entry of listImages()) {
  if (ONLY && !ONLY.includes(entry.name)) continue;
  test(`fs model: ${entry.name}`, { skip: !TOOLS && 'e2fsck not installed' }, async () => {
    let last: unknown;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: OPS, size: 'max' }), async (ops) => {
          totalSequences++;
          totalOps += ops.length;
          try {
            await runSequence(entry, ops);
          } catch (e) {
            last = e;
            throw e;
          }
        }),
        { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }), endOnFailure: process.env.PROP_SHRINK !== '1' },
      );
    } catch (e) {
      // fast-check's report (seed, path, counterexample) and then what failed
      throw new Error(`${(e as Error).message}\n--- failure:\n${last instanceof Error ? last.message : String(last)}`);
    }
  });
}

test('fs model: totals', () => {
  // eslint-disable-next-line no-console
  console.log(`fs-model: ${totalSequences} sequences, ${totalOps} operations`);
});
