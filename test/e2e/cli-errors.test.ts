// The CLI's failure modes: each one is exactly one line on stderr
// ("fuse4fs-ts: ..."), no stack trace, and the documented exit code
// (1 failure, 2 usage, 8 unusable image); a closed stdout (EPIPE) is success.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Volume } from '../../src/ext2/volume.js';
import { freshCopy, getImage, imagePath } from '../helpers/images.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-cli-errors-'));
const CLI = cliCommand();
after(() => { rmSync(work, { recursive: true, force: true }); CLI.cleanup(); });

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

function cli(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI.argv, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FUSE4FS_DEBUG: '', ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI, expects `code` and one stderr line matching `re`, nothing on stdout. */
function fails(args: string[], code: number, re: RegExp): string {
  const r = cli(args);
  assert.equal(r.code, code, `exit code of ${args.join(' ')} (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `exactly one stderr line, got:\n${r.stderr}`);
  assert.equal(lines[1], '');
  assert.match(lines[0]!, /^fuse4fs-ts: /);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stdout, '', 'nothing on stdout');
  return lines[0]!;
}

describe('images that cannot be used: exit 8', () => {
  test('no such image', () => {
    for (const cmd of [['inspect'], ['ls'], ['cat', '__PATH__/x'], ['tree']]) {
      const args = [cmd[0]!, join(work, 'missing.img'), ...cmd.slice(1).map((a) => a.replace('__PATH__', ''))];
      fails(args, 8, /missing\.img: no such file/);
    }
  });

  test('not an ext filesystem: a small text file, a zero-filled file', () => {
    const small = join(work, 'hostname');
    if (existsSync('/etc/hostname')) copyFileSync('/etc/hostname', small);
    else writeFileSync(small, 'localhost\n');
    fails(['inspect', small], 8, /too small .* superblock/);
    const zeros = join(work, 'zeros.img');
    writeFileSync(zeros, Buffer.alloc(1 << 20));
    fails(['ls', zeros, '/'], 8, /not an ext2\/ext3\/ext4 filesystem \(superblock magic 0x0/);
  });

  test('a directory as the image', () => {
    fails(['inspect', work], 8, /cannot open|EISDIR|directory/i);
  });

  test('zeroed superblock magic', () => {
    const img = freshCopy('ext4');
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.alloc(2), 0, 2, 1024 + 0x38);
    closeSync(fd);
    fails(['inspect', img], 8, /not an ext2\/ext3\/ext4 filesystem/);
    fails(['extract', img, '/', work], 8, /not an ext2\/ext3\/ext4 filesystem/);
  });

  test('damaged geometry: blocks per group zero', () => {
    const img = freshCopy('ext2-1k');
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.alloc(4), 0, 4, 1024 + 0x20);
    closeSync(fd);
    fails(['inspect', img], 8, /corrupt superblock.*blocks per group/);
  });

  test('superblock checksum mismatch; --ignore-checksums reads on with a warning', () => {
    const img = freshCopy('ext4');
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.from([0x55]), 0, 1, 1024 + 0x200); // s_mount_opts[0]: covered by the checksum
    closeSync(fd);
    fails(['ls', img, '/'], 8, /checksum/);
    const r = cli(['ls', '--ignore-checksums', img, '/']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^README\.txt$/m);
    assert.match(r.stderr, /^fuse4fs-ts: warn: .*checksum/);
  });
});

describe('failures inside a good image: exit 1', () => {
  const img = imagePath('ext4');
  test('no such path, for every command', () => {
    fails(['ls', img, '/nope'], 1, /\/nope: no such file or directory/);
    fails(['cat', img, '/nope'], 1, /\/nope: no such file or directory/);
    fails(['tree', img, '/nope/deeper'], 1, /no such file or directory/);
    fails(['inspect', img, '/nope'], 1, /\/nope: no such file or directory/);
    fails(['extract', img, '/nope', work], 1, /\/nope: no such file or directory/);
    fails(['ls', img, '/hello.txt/x'], 1, /not a directory/);
  });

  test('cat of a directory or a device; inode number out of range; DEST missing', () => {
    fails(['cat', img, '/dir'], 1, /\/dir: is a directory/);
    fails(['cat', img, '/special/chr'], 1, /not a regular file \(chardev\)/);
    fails(['inspect', img, '<999999>'], 1, /inode number 999999 out of range 1\.\.4096/);
    fails(['extract', img, '/', join(work, 'no-such-dir')], 1, /no-such-dir: no such file or directory/i);
  });

  test('a damaged extent header: one line naming the structure and the inode', () => {
    const name = 'ext4';
    const copy = freshCopy(name);
    const path = getImage(name).objects.fragmented_20_extents!;
    const ino = getImage(name).files[path]!.ino;
    const vol = Volume.open(copy, { readOnly: true });
    const loc = vol.inodes.locate(ino);
    const blockSize = vol.blockSize;
    vol.close();
    // i_block starts at 0x28: break the extent header magic (inode checksums then fail first,
    // so read with --ignore-checksums to reach the extent check)
    const fd = openSync(copy, 'r+');
    writeSync(fd, Buffer.from([0, 0]), 0, 2, loc.block * blockSize + loc.offset + 0x28);
    closeSync(fd);
    fails(['cat', copy, path], 1, new RegExp(`corrupt checksum \\(inode ${ino}.*inode checksum mismatch`));
    const r = cli(['cat', '--ignore-checksums', copy, path]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[lines.length - 1]!, new RegExp(`^fuse4fs-ts: corrupt extent \\(inode ${ino}\\): bad extent header magic 0x0$`));
    assert.match(lines[0]!, /^fuse4fs-ts: warn: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    // inspect shows the same error for that inode, and the superblock view still works
    fails(['inspect', copy, path], 1, /inode checksum mismatch/);
    const i = cli(['inspect', '--ignore-checksums', copy, path]);
    assert.equal(i.code, 1);
    assert.match(i.stderr, /^fuse4fs-ts: warn: [^\n]*\nfuse4fs-ts: corrupt extent [^\n]*bad extent header magic 0x0\n$/);
    assert.equal(cli(['inspect', copy]).code, 0);
  });
});

describe('usage errors: exit 2', () => {
  const img = imagePath('demo');
  test('unknown command, unknown option, missing argument, bad values', () => {
    fails(['frobnicate'], 2, /unknown command 'frobnicate'/);
    fails(['cat', '--json', img, '/README.txt'], 2, /unknown option '--json'/);
    fails(['ls'], 2, /missing required argument 'image'/);
    fails(['extract', img, '/'], 2, /missing required argument 'dest'/);
    fails(['inspect', '--offset', 'ten', img], 2, /--offset: not a byte count/);
    fails(['tree', '--depth', 'x', img], 2, /--depth: not a number/);
    fails(['inspect', '--groups', img, '/README.txt'], 2, /--groups applies to the superblock view/);
  });

  test('--help and --version succeed', () => {
    const h = cli(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Exit status:/);
    assert.match(h.stdout, /8 {2}the image cannot be used/);
    assert.equal(cli(['--version']).code, 0);
    assert.equal(cli(['extract', '--help']).code, 0);
  });
});

describe('stdout and debugging', () => {
  const img = imagePath('ext4');
  test('cat into a pipe closed early (EPIPE) exits 0 without a message', () => {
    const cmd = [process.execPath, ...CLI.argv, 'cat', img, '/files/stamped-1m'].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('bash', ['-c', `${cmd} | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    assert.match(r.stdout, /status=0/);
    assert.equal(r.stderr, '');
  });

  test('cat writes the exact bytes', () => {
    const r = spawnSync(process.execPath, [...CLI.argv, 'cat', img, '/hello.txt'], { encoding: 'buffer' });
    assert.equal(r.status, 0);
    assert.equal(r.stdout.length, 14);
  });

  test('FUSE4FS_DEBUG=1 adds the stack trace', () => {
    const r = cli(['ls', img, '/nope'], { FUSE4FS_DEBUG: '1' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\n\s+at /);
    assert.match(r.stderr, /fuse4fs-ts: \/nope: no such file or directory\n$/);
  });

  test('bin/fuse4fs-ts runs the built CLI (when dist/ is built)', (t) => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) return t.skip('dist/ not built (npm run build)');
    const r = spawnSync(join(ROOT, 'bin/fuse4fs-ts'), ['--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
