// `fuse4fs-ts inspect` against e2fsprogs, for every committed image:
//  - the text view is byte-identical to `dumpe2fs -h`, and with --groups to `dumpe2fs`;
//  - --json values equal dumpe2fs -h's fields (counts, features, UUIDs, sizes, times)
//    and the manifest's; group free counts equal the bitmaps' counts;
//  - every inode's text view is byte-identical to `debugfs -R "stat <N>"` (in
//    process, through the functions the CLI uses), and `inspect IMAGE PATH --json`
//    (through the CLI) carries debugfs's values: size, links, blockcount, flags,
//    generation, times with ns, and the EXTENTS / BLOCKS list.
// Times are compared in UTC (TZ=UTC for both sides). The CLI runs from
// src/cli/main.ts bundled by esbuild at test start (or through tsx).
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeInode } from '../../src/ext2/describe.js';
import { Volume } from '../../src/ext2/volume.js';
import { inodeJson, inodeText } from '../../src/cli/inspect.js';
import { imagePath, listImages } from '../helpers/images.js';
import { debugfs, debugfsCommands, runTool, superblockFields } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = cliCommand();
after(() => CLI.cleanup());

/**
 * How to start the CLI: src/cli/main.ts bundled once by esbuild (which tsx
 * brings) into tmp/ for a quick start, else `node --import tsx src/cli/main.ts`.
 */
function cliCommand(): { argv: string[]; cleanup: () => void } {
  const main = join(ROOT, 'src/cli/main.ts');
  try {
    const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
    const dir = join(ROOT, 'tmp', `cli-test-${process.pid}`);
    const out = join(dir, 'cli', 'main.js');
    esbuild.buildSync({ entryPoints: [main], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: out, logLevel: 'error' });
    return { argv: [out], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch {
    return { argv: ['--import', 'tsx', main], cleanup: () => {} };
  }
}

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI.argv, ...args], {
    cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, TZ: 'UTC' },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]): string {
  const r = cli(args);
  assert.equal(r.stderr, '', `inspect wrote to stderr: ${r.stderr}`);
  assert.equal(r.code, 0);
  return r.stdout;
}

/** dumpe2fs's ctime(3) text in UTC -> seconds. */
function parseCtime(s: string): number {
  return Date.parse(`${s} UTC`) / 1000;
}

interface DebugfsStat {
  size: number; links: number; blockcount: number; flags: number; generation: number;
  times: Record<string, { sec: number; nsec: number }>;
  map: string | null;
}

/** The fields of one `debugfs stat` text. */
function parseStat(text: string): DebugfsStat {
  const num = (re: RegExp) => Number(re.exec(text)![1]);
  const times: DebugfsStat['times'] = {};
  for (const m of text.matchAll(/^\s*(ctime|atime|mtime|crtime): 0x([0-9a-f]{8})(?::([0-9a-f]{8}))?/gm)) {
    const lo = parseInt(m[2]!, 16) | 0;
    const extra = m[3] ? parseInt(m[3], 16) : 0;
    times[m[1]!] = { sec: lo + (extra & 3) * 2 ** 32, nsec: extra >>> 2 };
  }
  const map = /^(?:EXTENTS|BLOCKS):\n(.*)$/m.exec(text);
  return {
    size: num(/Size: (\d+)/), links: num(/Links: (\d+)/), blockcount: num(/Blockcount: (\d+)/),
    flags: parseInt(/Flags: 0x([0-9a-f]+)/.exec(text)![1]!, 16), generation: num(/Generation: (\d+)/),
    times, map: map ? map[1]! : null,
  };
}

/** Our JSON's extent / block list rendered the way debugfs prints it. */
function renderMap(j: Record<string, any>): string | null {
  if (j.extents) {
    return (j.extents.entries as any[]).map((e) => (e.kind === 'index' ? `(ETB${e.level}):${e.block}`
      : e.length === 1 ? `(${e.logical}${e.unwritten ? '[u]' : ''}):${e.physical}`
        : `(${e.logical}-${e.logical + e.length - 1}${e.unwritten ? '[u]' : ''}):${e.physical}-${e.physical + e.length - 1}`)).join(', ');
  }
  if (j.blockMap) {
    return (j.blockMap.entries as any[]).map((e) => (e.kind === 'data'
      ? e.length === 1 ? `(${e.logical}):${e.physical}` : `(${e.logical}-${e.logical + e.length - 1}):${e.physical}-${e.physical + e.length - 1}`
      : `(${e.kind}):${e.physical}`)).join(', ');
  }
  return null;
}

function checkInodeJson(j: Record<string, any>, d: DebugfsStat, what: string): void {
  assert.equal(j.size, d.size, `${what}: size`);
  assert.equal(j.links, d.links, `${what}: links`);
  assert.equal(j.blockcount, d.blockcount, `${what}: blockcount`);
  assert.equal(j.flags, d.flags, `${what}: flags`);
  assert.equal(j.generation, d.generation, `${what}: generation`);
  for (const [k, t] of Object.entries(d.times)) {
    assert.deepEqual({ sec: j.times[k].sec, nsec: j.times[k].nsec }, t, `${what}: ${k}`);
  }
  if (d.map !== null && d.map !== '') assert.equal(renderMap(j), d.map, `${what}: extents/blocks`);
}

describe('inspect IMAGE (superblock) vs dumpe2fs', () => {
  for (const entry of listImages()) {
    test(`${entry.name}: text = dumpe2fs -h, --groups = dumpe2fs, --json = dumpe2fs fields`, () => {
      const image = imagePath(entry.name);
      assert.equal(ok(['inspect', image]), runTool('dumpe2fs', ['-h', image]).stdout, 'inspect = dumpe2fs -h');
      assert.equal(ok(['inspect', '--groups', image]), runTool('dumpe2fs', [image]).stdout, 'inspect --groups = dumpe2fs');

      const j = JSON.parse(ok(['inspect', '--groups', '--json', image]));
      const sb = j.superblock;
      const f = superblockFields(image);
      const eq = (label: string, value: unknown) => assert.equal(String(value), f[label], `${label}`);
      eq('Filesystem volume name', sb.volumeName || '<none>');
      eq('Filesystem UUID', sb.uuid);
      eq('Filesystem magic number', `0x${sb.magic.toString(16).toUpperCase()}`);
      eq('Filesystem features', sb.features.join(' '));
      eq('Filesystem state', sb.stateText);
      eq('Inode count', sb.inodesCount);
      eq('Block count', sb.blocksCount);
      eq('Reserved block count', sb.reservedBlocksCount);
      eq('Free blocks', sb.freeBlocks);
      eq('Free inodes', sb.freeInodes);
      eq('First block', sb.firstDataBlock);
      eq('Block size', sb.blockSize);
      eq('Blocks per group', sb.blocksPerGroup);
      eq('Inodes per group', sb.inodesPerGroup);
      eq('Inode blocks per group', sb.inodeBlocksPerGroup);
      eq('First inode', sb.firstIno);
      eq('Inode size', sb.inodeSize);
      eq('Mount count', sb.mountCount);
      eq('Maximum mount count', sb.maxMountCount);
      if (f['Reserved GDT blocks'] !== undefined) eq('Reserved GDT blocks', sb.reservedGdtBlocks);
      if (f['Group descriptor size'] !== undefined) eq('Group descriptor size', sb.descSize);
      if (f['Flex block group size'] !== undefined) eq('Flex block group size', sb.flexBgSize);
      if (f['Journal inode'] !== undefined) eq('Journal inode', sb.journalInode);
      if (f['Default directory hash'] !== undefined) eq('Default directory hash', sb.defaultHash);
      if (f['Directory Hash Seed'] !== undefined) eq('Directory Hash Seed', sb.hashSeed);
      if (f['Required extra isize'] !== undefined) eq('Required extra isize', sb.minExtraIsize);
      if (f.Checksum !== undefined) {
        eq('Checksum', `0x${sb.checksum.toString(16).padStart(8, '0')}`);
        assert.equal(sb.checksum, sb.checksumComputed, 'superblock checksum verifies');
      }
      assert.equal(sb.mkfsTime, parseCtime(f['Filesystem created']!), 'Filesystem created');
      assert.equal(sb.lastWriteTime, parseCtime(f['Last write time']!), 'Last write time');
      assert.equal(sb.lastChecked, parseCtime(f['Last checked']!), 'Last checked');
      assert.equal(sb.lastMountTime === 0 ? 'n/a' : parseCtime(f['Last mount time']!), sb.lastMountTime === 0 ? f['Last mount time'] : sb.lastMountTime);
      if (j.journal) {
        eq('Journal sequence', `0x${j.journal.sequence.toString(16).padStart(8, '0')}`);
        eq('Total journal blocks', j.journal.maxLen);
      }
      // and the manifest (facts gathered when the image was made)
      assert.equal(sb.blocksCount, entry.blocksCount);
      assert.equal(sb.inodesCount, entry.inodesCount);
      assert.equal(sb.freeBlocks, entry.freeBlocks);
      assert.equal(sb.freeInodes, entry.freeInodes);
      assert.equal(sb.uuid, entry.uuid);
      assert.deepEqual(sb.features, entry.features);
      // groups: descriptor counts agree with the bitmaps (the images are fsck-clean)
      assert.equal(j.groups.length, sb.groupCount);
      let freeBlocks = 0;
      let freeInodes = 0;
      for (const g of j.groups) {
        assert.equal(g.bitmapFreeBlocks, g.freeBlocks, `group ${g.group}: free blocks from the bitmap`);
        assert.equal(g.bitmapFreeInodes, g.freeInodes, `group ${g.group}: free inodes from the bitmap`);
        if (g.checksum !== null) assert.equal(g.checksum, g.checksumComputed, `group ${g.group}: checksum`);
        freeBlocks += g.freeBlocks;
        freeInodes += g.freeInodes;
      }
      assert.equal(freeBlocks, sb.freeBlocks);
      assert.equal(freeInodes, sb.freeInodes);
    });
  }
});

describe('inspect IMAGE <INODE> vs debugfs stat', () => {
  for (const entry of listImages()) {
    test(`${entry.name}: every inode's text = debugfs stat; JSON of the manifest's paths`, () => {
      const image = imagePath(entry.name);
      const vol = Volume.open(image, { readOnly: true, noRecovery: true });
      try {
        const n = vol.geo.inodesCount;
        const cmds = Array.from({ length: n }, (_, i) => `stat <${i + 1}>`);
        const chunks = debugfsCommands(image, cmds).split(/^debugfs: stat <\d+>\n/m).slice(1);
        assert.equal(chunks.length, n);
        const large = vol.geo.inodeSize > 128;
        let compared = 0;
        for (let ino = 1; ino <= n; ino++) {
          const ours = inodeText(describeInode(vol, ino), large, vol.hasMetadataCsum);
          // debugfs prints names and link targets as raw bytes: compare as bytes
          assert.equal(Buffer.from(ours, 'latin1').equals(Buffer.from(chunks[ino - 1]!, 'utf8')) || ours === chunks[ino - 1], true,
            `inode ${ino}:\n--- ours\n${ours}--- debugfs\n${chunks[ino - 1]}`);
          compared++;
        }
        assert.equal(compared, n);
        // JSON for each named object (in process, as the CLI builds it)
        for (const [role, path] of Object.entries(entry.objects)) {
          const ino = entry.files[path]!.ino;
          const j = inodeJson(describeInode(vol, ino)) as Record<string, any>;
          checkInodeJson(j, parseStat(chunks[ino - 1]!), `${role} (${path})`);
        }
      } finally {
        vol.close();
      }
      // and through the CLI, by path and by <ino>, for files with block maps or extent trees
      const picks = ['fragmented_20_extents', 'extent_depth_2', 'sparse_triple_indirect', 'xattr_namespaces', 'mtime_ns']
        .map((r) => entry.objects[r]).filter((p): p is string => p !== undefined).slice(0, 1);
      for (const path of picks) {
        const d = parseStat(debugfs(image, `stat "${path}"`));
        const j = JSON.parse(ok(['inspect', image, path, '--json']));
        assert.equal(j.path, path);
        checkInodeJson(j.inode, d, `${entry.name}:${path}`);
        const byIno = JSON.parse(ok(['inspect', '--json', image, `<${entry.files[path]!.ino}>`]));
        assert.deepEqual(byIno.inode, j.inode, `${path}: by path = by <ino>`);
      }
      const text = ok(['inspect', image, '/']);
      assert.equal(text, debugfs(image, 'stat /'), 'inspect IMAGE / = debugfs stat /');
    });
  }
});
