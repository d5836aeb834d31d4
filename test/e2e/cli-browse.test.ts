// `ls`, `tree` and `cat` against the kernel's loop mount of the same image:
// `tree --json` of the whole image node by node (inode number, type, mode,
// owner, size, links, mtime with ns, symlink target, rdev) against lstat of
// the mount; `ls --json` and `ls -l` of directories against readdir + lstat;
// `cat` bytes against the mounted files (symlinks followed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getImage, imagePath } from '../helpers/images.js';
import { canLoopMount, withLoopMount } from '../helpers/kernel.js';

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

function run(args: string[]): Buffer {
  const r = spawnSync(process.execPath, [...CLI.argv, ...args], { cwd: ROOT, maxBuffer: 256 << 20, env: { ...process.env, TZ: 'UTC' } });
  assert.equal(r.stderr.toString(), '', `${args.join(' ')}: stderr`);
  assert.equal(r.status, 0);
  return r.stdout;
}

const TYPES: Record<string, (st: Stats) => boolean> = {
  file: (s) => s.isFile(), directory: (s) => s.isDirectory(), symlink: (s) => s.isSymbolicLink(), chardev: (s) => s.isCharacterDevice(),
  blockdev: (s) => s.isBlockDevice(), fifo: (s) => s.isFIFO(), socket: (s) => s.isSocket(),
};

interface Json { name: string; ino: number; type: string; mode: string; uid: number; gid: number; size: number; links: number; mtime: { sec: number; nsec: number }; target?: string; rdev?: { major: number; minor: number }; children?: Json[] }

function checkNode(j: Json, p: string): void {
  const st = lstatSync(p, { bigint: true });
  assert.equal(BigInt(j.ino), st.ino, `${p}: ino`);
  assert.ok(TYPES[j.type]!(lstatSync(p)), `${p}: type ${j.type}`);
  assert.equal(parseInt(j.mode, 8), Number(st.mode & 0o7777n), `${p}: mode`);
  assert.equal(BigInt(j.uid), st.uid, `${p}: uid`);
  assert.equal(BigInt(j.gid), st.gid, `${p}: gid`);
  assert.equal(BigInt(j.links), st.nlink, `${p}: links`);
  assert.equal(BigInt(j.size), st.size, `${p}: size`);
  assert.equal(BigInt(j.mtime.sec) * 1_000_000_000n + BigInt(j.mtime.nsec), st.mtimeNs, `${p}: mtime`);
  if (j.type === 'symlink') assert.equal(j.target, readlinkSync(p, 'utf8'), `${p}: target`);
  if (j.rdev) {
    const w = spawnSync('stat', ['-c', '%Hr:%Lr', p], { encoding: 'utf8' }).stdout.trim();
    assert.equal(`${j.rdev.major}:${j.rdev.minor}`, w, `${p}: rdev`);
  }
}

const IMAGES = ['ext2-1k', 'ext4', 'ext4-inline', 'ext4-bigdir'];

describe('ls / tree / cat vs the kernel', { skip: !canLoopMount() && 'loop mounts unavailable (need root and loop devices)' }, () => {
  for (const name of IMAGES) {
    test(`${name}: tree --json, ls --json, ls -l, cat`, async () => {
      const image = imagePath(name);
      const tree = JSON.parse(run(['tree', '--json', image]).toString('utf8')) as Json;
      const lsRoot = JSON.parse(run(['ls', '--json', image, '/']).toString('utf8')) as { entries: Json[] };
      const longDir = getImage(name).objects.chardev ? '/special' : '/';
      const lsLong = run(['ls', '-l', image, longDir]).toString('utf8');
      const catFiles = ['/hello.txt', '/links/fast', '/files/fragmented', '/files/odd-size', '/inline/hundred', '/inline/sixty', '/bin/random-8k.bin'];
      await withLoopMount(image, (mnt) => {
        let nodes = 0;
        const walk = (j: Json, p: string) => {
          nodes++;
          if (p !== mnt) checkNode(j, p);
          if (j.type !== 'directory') return;
          const names = readdirSync(p).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
          assert.deepEqual((j.children ?? []).map((c) => c.name), names, `${p}: entries in byte order`);
          for (const c of j.children ?? []) walk(c, join(p, c.name));
        };
        walk(tree, mnt);
        assert.ok(nodes > 10, 'walked the tree');
        assert.deepEqual(lsRoot.entries.map((e) => e.name), readdirSync(mnt).sort(), 'ls / names');
        for (const e of lsRoot.entries) checkNode(e, join(mnt, e.name));
        // ls -l: one line per entry: mode, links, uid, gid, size or "major, minor", time, name
        if (lsLong) {
          for (const line of lsLong.trimEnd().split('\n')) {
            const m = /^(\S{10}) +(\d+) (\d+) +(\d+) +(\d+, +\d+|\d+) (\S+ \S+ \S+) (.*)$/.exec(line);
            assert.ok(m, `ls -l line: ${line}`);
            const p = join(mnt, longDir, m[7]!.replace(/ -> .*$/, ''));
            const gnu = spawnSync('ls', ['-ldn', '--full-time', p], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } }).stdout;
            const g = gnu.trim().split(/\s+/);
            assert.equal(m[1], g[0], `${p}: mode string`);
            assert.equal(m[2], g[1], `${p}: links`);
            assert.equal(`${m[3]} ${m[4]}`, `${g[2]} ${g[3]}`, `${p}: owner`);
            assert.equal(m[6], `${g[g.length - 4]} ${g[g.length - 3]} ${g[g.length - 2]}`, `${p}: time`);
          }
        }
        for (const f of catFiles) {
          let want: Buffer;
          try { want = readFileSync(join(mnt, f)); } catch { continue; }
          const got = run(['cat', image, f]);
          assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(want).digest('hex'), `cat ${f}`);
        }
      });
    });
  }
});
