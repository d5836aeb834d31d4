// Random setxattr/removexattr sequences on a few inodes of a fresh image copy,
// checked against a Map model after every step (our reader), and at the end,
// after commit and close, by `e2fsck -fn` (clean), by debugfs `ea_list` (names,
// sizes, values it prints) and by the kernel (getfattr on a loop mount).
// Images: ext4 (4 KiB, metadata_csum, 256-byte inodes), ext2-1k (128-byte
// inodes: everything in the block) and ext4-xattr (ea_inode, existing in-inode,
// block and EA-inode values). CI runs PROP_RUNS (default 20) sequences;
// `PROP_RUNS=1000` is the long run; PROP_SEED replays one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { Volume } from '../../src/ext2/volume.js';
import { resolvePath } from '../../src/ext2/namei.js';
import { Errno } from '../../src/util/errno.js';
import { xattrEntryLen, xattrValueLen } from '../../src/ext2/layout/xattr.js';
import { XATTR_CREATE, XATTR_REPLACE, getXattrValue, listXattrNames, removeXattr, setXattr } from '../../src/ext2/xattr-write.js';
import { freshCopy } from '../helpers/images.js';
import { debugfsCommands, e2fsck, hasTool } from '../helpers/tools.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';

const RUNS = Number(process.env.PROP_RUNS ?? 20);
const SEED = process.env.PROP_SEED === undefined ? undefined : Number(process.env.PROP_SEED);
const KERNEL = canLoopMount() && hasTool('getfattr');

interface Setup {
  image: string;
  paths: string[];
  names: string[];
}
const SETUPS: Setup[] = [
  { image: 'ext4', paths: ['/hello.txt', '/README.txt', '/dir'], names: [] },
  { image: 'ext2-1k', paths: ['/hello.txt', '/README.txt', '/dir'], names: [] },
  { image: 'ext4-xattr', paths: ['/xattr/inode-small', '/xattr/many', '/ea/two'], names: ['user.small', 'user.first', 'trusted.second', 'user.attr01', 'user.attr02'] },
];
const NAMES = ['user.a', 'user.bb', 'user.ccc', 'user.' + 'long-'.repeat(12), 'trusted.t', 'security.s', 'user.d', 'user.e', 'user.f', 'trusted.g'];

type Op =
  | { kind: 'set'; target: number; name: number; size: number; seed: number; flags: number }
  | { kind: 'remove'; target: number; name: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      target: fc.nat(2),
      name: fc.nat(7),
      size: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 25, max: 300 }), fc.integer({ min: 300, max: 1500 }), fc.integer({ min: 1500, max: 6000 })),
      seed: fc.nat(255),
      flags: fc.constantFrom(0, 0, XATTR_CREATE, XATTR_REPLACE),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), target: fc.nat(2), name: fc.nat(7) }) },
);

/** A value debugfs prints in hex (a quarter of the bytes are NUL, so never "printable enough"). */
function valueOf(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i % 4 === 0 ? 0 : (seed + i * 37) & 0xff));
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function view(vol: Volume, path: string): Map<string, string> {
  const inode = vol.inodes.get(resolvePath(vol, path));
  const out = new Map<string, string>();
  for (const n of listXattrNames(vol, inode)) {
    const v = getXattrValue(vol, inode, n);
    assert.ok(v instanceof Uint8Array, `${path} ${n}: ${String(v)}`);
    out.set(n, hex(v));
  }
  return out;
}
const sorted = (m: Map<string, string>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** debugfs ea_list: name → [size, hex value when printed]. */
function parseEaList(text: string): Map<string, [number, string | null]> {
  const out = new Map<string, [number, string | null]>();
  for (const line of text.split('\n')) {
    const m = /^ {2}(\S+) \((\d+)\)(?: = (.*))?$/.exec(line);
    if (!m) continue;
    const raw = m[3]?.trim();
    const quoted = raw === undefined ? null : /^"([^"\\]*)"$/.exec(raw);
    const v = raw === undefined ? null : quoted ? Buffer.from(quoted[1]!, 'latin1').toString('hex') : /^[0-9a-f ]+$/.test(raw) ? raw.split(' ').join('') : null;
    out.set(m[1]!, [Number(m[2]), v]);
  }
  return out;
}

function runSequence(setup: Setup, ops: Op[]): Promise<void> | void {
  const img = freshCopy(setup.image);
  const names = [...setup.names, ...NAMES].slice(0, 8); // few names: sets and removes meet
  const vol = Volume.open(img, { readOnly: false });
  const bs = vol.blockSize;
  const ea = setup.image === 'ext4-xattr';
  const model = setup.paths.map((p) => view(vol, p));
  for (const [step, op] of ops.entries()) {
    const path = setup.paths[op.target]!;
    const m = model[op.target]!;
    const name = names[op.name % names.length]!;
    const inode = vol.inodes.get(resolvePath(vol, path));
    const h = vol.txn.begin();
    let r: number;
    try {
      r = op.kind === 'set' ? setXattr(vol, h, inode, name, valueOf(op.size, op.seed), op.flags) : removeXattr(vol, h, inode, name);
    } finally {
      vol.txn.end(h);
    }
    const where = `step ${step} ${JSON.stringify(op)} on ${path} ${name}`;
    const had = m.has(name);
    if (op.kind === 'remove') {
      assert.equal(r, had ? 0 : -Errno.ENODATA, where);
      if (had) m.delete(name);
    } else if (had && op.flags & XATTR_CREATE) {
      assert.equal(r, -Errno.EEXIST, where);
    } else if (!had && op.flags & XATTR_REPLACE) {
      assert.equal(r, -Errno.ENODATA, where);
    } else if (r === 0) {
      m.set(name, hex(valueOf(op.size, op.seed)));
    } else {
      const cost = (n: string, size: number) => xattrEntryLen(new TextEncoder().encode(n).length - n.indexOf('.') - 1) + (ea && size > bs - 56 ? 0 : xattrValueLen(size));
      const mine = cost(name, op.size);
      if (r === -Errno.E2BIG) {
        assert.ok(!ea && mine > bs - 36, `${where}: E2BIG for an entry of ${mine} bytes`);
      } else {
        assert.equal(r, -Errno.ENOSPC, where);
        let total = mine;
        for (const [n, v] of m) if (n !== name) total += cost(n, v.length / 2);
        assert.ok(total > bs - 36, `${where}: ENOSPC though everything (${total} bytes) fits one block`);
      }
    }
    assert.deepEqual(sorted(view(vol, path)), sorted(m), `${where}: reader vs model`);
  }
  vol.sync();
  vol.close();
  const fsck = e2fsck(img);
  assert.equal(fsck.code, 0, `e2fsck -fn:\n${fsck.output}`);
  const again = Volume.open(img);
  setup.paths.forEach((p, i) => assert.deepEqual(sorted(view(again, p)), sorted(model[i]!), `reopened ${p}`));
  again.close();
  const out = debugfsCommands(img, setup.paths.map((p) => `ea_list ${p}`));
  const sections = out.split(/^debugfs: /m).slice(1);
  setup.paths.forEach((p, i) => {
    const got = parseEaList(sections[i] ?? '');
    const want = model[i]!;
    // debugfs lists system.* entries too; the model holds the userspace view
    for (const n of [...got.keys()]) if (n.startsWith('system.') && !n.startsWith('system.posix_acl')) got.delete(n);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `debugfs names of ${p}`);
    for (const [n, [size, v]] of got) {
      assert.equal(size, want.get(n)!.length / 2, `debugfs size of ${p} ${n}`);
      if (v !== null && !n.startsWith('system.')) assert.equal(v, want.get(n), `debugfs value of ${p} ${n}`);
    }
  });
  if (!KERNEL) return;
  return withLoopMount(img, (mnt) => {
    setup.paths.forEach((p, i) => {
      const r = spawnSync('getfattr', ['-d', '-m', '-', '-h', '-e', 'hex', '--absolute-names', join(mnt, p)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const got = new Map<string, string>();
      for (const line of r.stdout.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const eq = line.indexOf('=');
        if (eq < 0) got.set(line, '');
        else got.set(line.slice(0, eq), line.slice(eq + 1).replace(/^0x/, ''));
      }
      assert.deepEqual(sorted(got), sorted(model[i]!), `kernel view of ${p}`);
    });
  });
}

test(`random setxattr/removexattr sequences vs a model, e2fsck, debugfs and the kernel (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(SETUPS.length - 1), fc.array(opArb, { minLength: 10, maxLength: 60, size: 'max' }), async (s, ops) => {
      await runSequence(SETUPS[s]!, ops);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
});
