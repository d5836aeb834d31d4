// src/ext2/describe.ts (+ the inspect formatters) on filesystems made here
// with mke2fs in layouts the committed images lack: meta_bg, sparse_super2,
// bigalloc, no flex_bg with BLOCK_UNINIT groups, quota and project inodes,
// metadata_csum_seed with orphan_file, mmp, revision 0, the "huge" type.
// Oracle: the text is byte-identical to `dumpe2fs` (superblock, journal, MMP
// block, every group with its free ranges from the bitmaps) and every inode to
// `debugfs -R "stat <N>"`; the JSON-side values agree with the bitmaps.
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeGroups, describeInode, describeSuperblock, e2pFeatureNames, uuidString } from '../../src/ext2/describe.js';
import { Volume } from '../../src/ext2/volume.js';
import { asctime, inodeText, superblockText } from '../../src/cli/inspect.js';
import { debugfsCommands, hasTool, mke2fs, runTool } from '../helpers/tools.js';
import { memoryLogger } from '../../src/util/log.js';

const DEMO = fileURLToPath(new URL('../images/tree/demo', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-describe-'));
after(() => rmSync(work, { recursive: true, force: true }));

const VARIANTS: [name: string, size: string, args: string[]][] = [
  ['meta_bg, 1 KiB blocks, lazy itable', '64M', ['-t', 'ext4', '-b', '1024', '-O', 'meta_bg,^resize_inode', '-E', 'lazy_itable_init=1', '-d', DEMO]],
  ['meta_bg without flex_bg, 77k inodes', '300M', ['-t', 'ext4', '-O', 'meta_bg,^resize_inode,^flex_bg']],
  ['sparse_super2 with one backup', '64M', ['-t', 'ext4', '-O', 'sparse_super2', '-E', 'num_backup_sb=1']],
  ['bigalloc, 16 KiB clusters of 1 KiB blocks', '64M', ['-t', 'ext4', '-b', '1024', '-O', 'bigalloc', '-C', '16384', '-d', DEMO]],
  ['no flex_bg, BLOCK_UNINIT groups', '64M', ['-t', 'ext4', '-O', '^flex_bg', '-E', 'lazy_itable_init=1']],
  ['quota and project', '32M', ['-t', 'ext4', '-O', 'quota,project', '-d', DEMO]],
  ['metadata_csum_seed and orphan_file', '32M', ['-t', 'ext4', '-O', 'metadata_csum_seed,orphan_file']],
  ['mmp', '32M', ['-t', 'ext4', '-O', 'mmp']],
  ['ext2 revision 0', '8M', ['-t', 'ext2', '-r', '0']],
  ['huge type, 64k inodes ratio', '32M', ['-t', 'ext4', '-T', 'huge']],
];

describe('describe + inspect text vs dumpe2fs and debugfs, on mke2fs variants', () => {
  VARIANTS.forEach(([name, size, args], i) => {
    test(name, { skip: !hasTool('mke2fs') && 'mke2fs missing' }, () => {
      const image = join(work, `v${i}.img`);
      mke2fs(['-q', ...args, image, size]);
      const vol = Volume.open(image, { readOnly: true, log: memoryLogger() });
      try {
        assert.equal(superblockText(vol, false), runTool('dumpe2fs', ['-h', image]).stdout, 'dumpe2fs -h');
        assert.equal(superblockText(vol, true), runTool('dumpe2fs', [image]).stdout, 'dumpe2fs');
        // bitmaps and descriptors agree on a fresh filesystem
        const sb = describeSuperblock(vol);
        let free = 0;
        for (const g of describeGroups(vol)) {
          assert.equal(g.bitmapFreeBlocks, g.freeBlocks, `group ${g.group} free blocks (clusters with bigalloc)`);
          assert.equal(g.bitmapFreeInodes, g.freeInodes, `group ${g.group} free inodes`);
          free += g.freeBlocks;
        }
        assert.equal(free * (sb.bigalloc ? sb.clusterSize / sb.blockSize : 1), sb.freeBlocks, 'free blocks sum');
        // every inode up to 4096 (all of them on the small ones)
        const n = Math.min(vol.geo.inodesCount, 4096);
        const chunks = debugfsCommands(image, Array.from({ length: n }, (_, k) => `stat <${k + 1}>`)).split(/^debugfs: stat <\d+>\n/m).slice(1);
        for (let ino = 1; ino <= n; ino++) {
          assert.equal(inodeText(describeInode(vol, ino), vol.geo.inodeSize > 128, vol.hasMetadataCsum), chunks[ino - 1], `inode ${ino}`);
        }
      } finally {
        vol.close();
      }
    });
  });
});

describe('names and formats', () => {
  test('feature names follow lib/e2p (display names, unknown bits)', () => {
    assert.deepEqual(e2pFeatureNames(0x4 | 0x100, 0x2 | 0x40, 0x10 | 0x80 | 0x1000), [
      'has_journal', 'snapshot_bitmap', 'filetype', 'extent', 'uninit_bg', 'snapshot', 'read-only']);
    assert.deepEqual(e2pFeatureNames(1 << 20, 1 << 30, 1 << 31), ['FEATURE_C20', 'FEATURE_I30', 'FEATURE_R31']);
  });

  test('uuids and asctime', () => {
    assert.equal(uuidString(new Uint8Array(16)), null);
    assert.equal(uuidString(Uint8Array.from({ length: 16 }, (_, i) => i)), '00010203-0405-0607-0809-0a0b0c0d0e0f');
    assert.equal(asctime(1704067200), 'Mon Jan  1 00:00:00 2024');
    assert.equal(asctime(-315619200), 'Fri Jan  1 00:00:00 1960');
    assert.equal(asctime(2147483647), 'Tue Jan 19 03:14:07 2038');
  });
});
