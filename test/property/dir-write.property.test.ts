// Random add/remove sequences on a directory against a Set model. After each
// sequence: our readDir and lookups equal the model, the image is committed and
// `debugfs -R "ls -l DIR"` equals the model, and `e2fsck -fn` exits 0.
// Images: linear (no dir_index) and htree growth on 1 KiB blocks with and without
// metadata_csum, and an inline directory on ext4-inline.
// PROP_RUNS sets the number of sequences (CI default 20); PROP_SEED replays one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Volume } from '../../src/ext2/volume.js';
import type { Inode } from '../../src/ext2/inode.js';
import { Errno } from '../../src/util/errno.js';
import { addEntry, isEmptyDir, removeEntry } from '../../src/ext2/dir-write.js';
import { lookup } from '../../src/ext2/dir.js';
import { resolvePath } from '../../src/ext2/namei.js';
import { FT } from '../../src/ext2/layout/dirent.js';
import { freshCopy } from '../helpers/images.js';
import { e2fsck, hasTool, mke2fs } from '../helpers/tools.js';
import {
  bytes, debugfsEntries, makeDir, newFile, ourEntries, releaseInode, setLinks,
} from '../helpers/fixtures.js';

const RUNS = Number(process.env.PROP_RUNS ?? 20);
const SEED = process.env.PROP_SEED === undefined ? undefined : Number(process.env.PROP_SEED);
const TOOLS = hasTool('e2fsck') && hasTool('debugfs') && hasTool('mke2fs');

type Op = { kind: 'add'; name: number } | { kind: 'remove'; name: number };

/** A pool of names: lengths 1..255, so that records of every size meet. */
function poolName(i: number, lenSeed: number): string {
  const len = 1 + ((lenSeed * 37 + i * 11) % 255);
  const base = `${i.toString(36)}.`;
  return (base + 'abcdefghijklmnopqrstuvwxyz'.repeat(10)).slice(0, Math.max(len, base.length - 1));
}

const Setup = fc.constantFrom('ext4-1k', 'ext2-1k', 'ext4-inline', 'ext2-linear');

const Ops = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), name: fc.nat(999) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), name: fc.nat(999) }) },
  ),
  { minLength: 1, maxLength: 1500, size: 'max' },
);

test('random add/remove sequences match a Set model, debugfs and e2fsck', { skip: !TOOLS }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'dw-prop-'));
  let n = 0;
  try {
    fc.assert(
      fc.property(Setup, fc.nat(1000), Ops, (setup, lenSeed, ops) => {
        let img: string;
        let path: string;
        if (setup === 'ext2-linear') {
          img = join(tmp, `lin-${n++}.img`);
          mke2fs(['-q', '-t', 'ext2', '-b', '1024', '-O', '^dir_index', img, '4M']);
        } else {
          img = freshCopy(setup);
        }
        const vol = Volume.open(img, { readOnly: false });
        const model = new Set<string>();
        try {
          const h = vol.txn.begin();
          try {
            let dir: Inode;
            if (setup === 'ext4-inline') {
              path = '/inline/smalldir';
              dir = vol.inodes.get(resolvePath(vol, path));
              for (const name of ourEntries(vol, dir).keys()) model.add(name); // a, b, c: their own inodes
            } else {
              path = '/p';
              dir = makeDir(vol, h, vol.inodes.get(2), 'p');
            }
            const preexisting = new Set(model);
            const target = newFile(vol, h, dir.ino);
            let links = 0;
            for (const op of ops) {
              const name = poolName(op.name, lenSeed);
              if (op.kind === 'add') {
                if (model.has(name)) continue; // EEXIST is the caller's check
                assert.equal(addEntry(vol, h, dir, bytes(name), target.ino, FT.REG_FILE), 0, `add ${name}`);
                model.add(name);
                links++;
              } else if (model.has(name) && !preexisting.has(name)) {
                assert.equal(removeEntry(vol, h, dir, bytes(name)), target.ino, `remove ${name}`);
                model.delete(name);
                links--;
              } else if (!model.has(name)) {
                assert.equal(removeEntry(vol, h, dir, bytes(name)), -Errno.ENOENT);
              }
            }
            const ours = ourEntries(vol, dir);
            assert.deepEqual([...ours.keys()].sort(), [...model].sort(), 'readDir vs model');
            for (const name of model) assert.ok(lookup(vol, dir, bytes(name)) > 0, `lookup ${name}`);
            assert.equal(isEmptyDir(vol, dir), model.size === 0);
            if (links > 0) setLinks(vol, h, target, links);
            else releaseInode(vol, h, target);
          } finally {
            vol.txn.end(h);
          }
          vol.sync();
        } finally {
          vol.close();
        }
        assert.deepEqual([...debugfsEntries(img, path).keys()].sort(), [...model].sort(), 'debugfs ls -l vs model');
        const r = e2fsck(img);
        assert.equal(r.code, 0, `e2fsck -fn (${setup}, ${ops.length} ops):\n${r.output}`);
        if (setup === 'ext2-linear') rmSync(img, { force: true });
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true },
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
