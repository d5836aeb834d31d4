// Real trees through a real mount, on fresh 4 KiB-block images made by mke2fs
// (ext4, ext4 with inline_data, ext3, ext2): tar extraction compared with its
// source (diff -r plus type/mode/owner/size/mtime/nlink/symlink target of every path), cp -a
// (ns times kept), cp -al (every link the same inode, nlink doubled), mv of a
// directory and a file across directories ('..' and parents' nlink), git
// init/add/commit/status/fsck/gc inside the mount, rm -rf of everything with
// the statfs free counts back to where they started, and a remount that reads
// the same. Every mount ends with a clean unmount, server exit 0 and
// e2fsck -fn clean (test/helpers/mount.ts).
//
// The source tree is a budgeted part of /usr/include (whole top-level entries
// in name order, skipping those that would not fit the budget), or of this
// checkout's node_modules when /usr/include is nearly empty.
// FUSE4FS_E2E_TREE=DIR picks another source; FUSE4FS_E2E_TREE_FILES=N changes
// the ext4 budget (default 4000 paths; ext3 and ext2 get a quarter).
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  ROOT, hasCommand, makeImage, mountSkipReason, sh, statfsFree, withMount, type FsType,
} from '../helpers/mount.js';

const skip = mountSkipReason() ?? (hasCommand('tar') ? null : 'tar not found (apt-get install -y tar)');

interface Tree { root: string; entries: string[]; paths: number }

function countPaths(p: string): number {
  const st = lstatSync(p, { throwIfNoEntry: false }); // never follow a symlink (tar does not)
  if (!st?.isDirectory()) return 1;
  let n = 1;
  for (const e of readdirSync(p, { withFileTypes: true })) {
    n += e.isDirectory() ? countPaths(join(p, e.name)) : 1;
  }
  return n;
}

/** Whole top-level entries of root, in name order, while they fit `budget` paths. */
function pickTree(budget: number): Tree {
  const candidates = process.env.FUSE4FS_E2E_TREE
    ? [process.env.FUSE4FS_E2E_TREE]
    : ['/usr/include', join(ROOT, 'node_modules')];
  for (const root of candidates) {
    if (!existsSync(root)) continue;
    const entries: string[] = [];
    let paths = 0;
    for (const name of readdirSync(root).sort()) {
      if (name.startsWith('.')) continue;
      const n = countPaths(join(root, name));
      if (paths + n > budget) continue;
      entries.push(name);
      paths += n;
    }
    if (paths >= Math.min(300, budget / 2)) return { root, entries, paths };
  }
  throw new Error('no source tree: set FUSE4FS_E2E_TREE to a directory with a few hundred files');
}

/**
 * One line per path below `dir`: path, type, mode, uid, gid, size (not for
 * directories: that depends on the filesystem), mtime (s or ns), nlink,
 * symlink target. Sorted.
 */
function listing(dir: string, ns = false): string[] {
  const fmt = `%P\\t%y\\t%m\\t%U\\t%G\\t%s\\t${ns ? '%T@' : '%Ts'}\\t%n\\t%l\\n`;
  return sh('find', [dir, '-mindepth', '1', '-printf', fmt]).split('\n').filter(Boolean)
    .map((l) => {
      const f = l.split('\t');
      if (f[1] === 'd') f[5] = '-';
      return f.join('\t');
    })
    .sort();
}

/** path -> "inode nlink" of every non-directory below dir. */
function inodes(dir: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const l of sh('find', [dir, '-mindepth', '1', '!', '-type', 'd', '-printf', '%P\\t%i\\t%n\\n']).split('\n')) {
    if (!l) continue;
    const [p, i, n] = l.split('\t');
    out.set(p!, [Number(i), Number(n)]);
  }
  return out;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'fuse4fs test', GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'fuse4fs test', GIT_COMMITTER_EMAIL: 'test@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent', GIT_CONFIG_GLOBAL: '/dev/null',
};

async function treeScenario(type: FsType, budget: number, withGit: boolean, diag: (s: string) => void, mkfsExtra: string[] = []): Promise<void> {
  const tree = pickTree(budget);
  diag(`${type}${mkfsExtra.length ? ` (${mkfsExtra.join(' ')})` : ''}: ${tree.paths} paths from ${tree.root} (${tree.entries.length} top-level entries)`);
  const img = makeImage(type, '512M', mkfsExtra);
  const t0 = Date.now();
  const lap = (what: string) => diag(`${type}: ${what} done at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let srcListing: string[] = [];
  await withMount(img, {}, async (mnt) => {
    const start = statfsFree(mnt);

    // tar extraction, then diff -r and metadata against the source
    sh('mkdir', [join(mnt, 'src')]);
    sh('bash', ['-c', 'set -euo pipefail; tar -C "$SRC" -cf - -- "$@" | tar -C "$DST" -xpf -', 'tar', ...tree.entries], {
      env: { SRC: tree.root, DST: join(mnt, 'src') },
    });
    lap('tar');
    for (const e of tree.entries) sh('diff', ['-r', '--no-dereference', join(tree.root, e), join(mnt, 'src', e)]);
    lap('diff -r');
    const want = tree.entries.flatMap((e) => listing(join(tree.root, e)).map((l) => `${e}/${l}`));
    srcListing = tree.entries.flatMap((e) => listing(join(mnt, 'src', e)).map((l) => `${e}/${l}`));
    assert.deepEqual(srcListing, want, 'tar -x: metadata differs from the source');

    // cp -a: same bytes, same metadata with ns times
    sh('cp', ['-a', join(mnt, 'src'), join(mnt, 'copy')]);
    lap('cp -a');
    sh('diff', ['-r', '--no-dereference', join(mnt, 'src'), join(mnt, 'copy')]);
    assert.deepEqual(listing(join(mnt, 'copy'), true), listing(join(mnt, 'src'), true), 'cp -a changed metadata');

    // cp -al: each link is the source's inode, nlink doubled on both names
    const before = inodes(join(mnt, 'src'));
    sh('cp', ['-al', join(mnt, 'src'), join(mnt, 'links')]);
    lap('cp -al');
    const srcAfter = inodes(join(mnt, 'src'));
    const links = inodes(join(mnt, 'links'));
    assert.equal(links.size, before.size);
    for (const [p, [ino, n]] of before) {
      assert.deepEqual(links.get(p), [ino, 2 * n], `links/${p}: inode/nlink`);
      assert.deepEqual(srcAfter.get(p), [ino, 2 * n], `src/${p}: inode/nlink after cp -al`);
    }
    // kernel view agrees: `stat -c %i %h` on a sample of both names
    const sample = [...before.keys()].filter((_, i) => i % 97 === 0);
    for (const p of sample) {
      const [a, b] = sh('stat', ['-c', '%i %h', join(mnt, 'src', p), join(mnt, 'links', p)]).trim().split('\n');
      assert.equal(a, b, `stat of src/${p} and links/${p}`);
    }

    // mv across directories: a directory (its '..' changes) and a file
    // the biggest top-level directory (it also seeds the git repository)
    const firstDir = sh('find', [join(mnt, 'copy'), '-mindepth', '1', '-maxdepth', '1', '-type', 'd']).split('\n').filter(Boolean)
      .map((d) => [d, countPaths(d)] as const).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
    assert.ok(firstDir, 'the tree has a top-level directory');
    const name = firstDir.slice(firstDir.lastIndexOf('/') + 1);
    sh('mkdir', ['-p', join(mnt, 'moved/here')]);
    const copyLinks = Number(sh('stat', ['-c', '%h', join(mnt, 'copy')]).trim());
    const movedBefore = listing(firstDir, true);
    sh('mv', [firstDir, join(mnt, 'moved/here/')]);
    const dest = join(mnt, 'moved/here', name);
    assert.deepEqual(listing(dest, true), movedBefore, 'mv of a directory changed its contents');
    assert.equal(sh('stat', ['-c', '%i', join(dest, '..')]), sh('stat', ['-c', '%i', join(mnt, 'moved/here')]), "'..' after mv");
    assert.equal(Number(sh('stat', ['-c', '%h', join(mnt, 'copy')]).trim()), copyLinks - 1, 'old parent nlink after mv');
    assert.equal(Number(sh('stat', ['-c', '%h', join(mnt, 'moved/here')]).trim()), 3, 'new parent nlink after mv');
    const aFile = sh('find', [join(mnt, 'copy'), '-type', 'f']).split('\n').filter(Boolean).sort()[0]!;
    const fileBefore = sh('sha256sum', [aFile]).split(' ')[0];
    sh('mv', [aFile, join(mnt, 'moved/')]);
    assert.equal(sh('sha256sum', [join(mnt, 'moved', aFile.slice(aFile.lastIndexOf('/') + 1))]).split(' ')[0], fileBefore);
    assert.equal(existsSync(aFile), false);
    lap('mv');

    // git inside the mount
    if (withGit && hasCommand('git')) {
      const repo = join(mnt, 'repo');
      sh('cp', ['-a', dest, repo]);
      const git = (...args: string[]) => sh('git', args, { cwd: repo, env: GIT_ENV });
      git('init', '-q');
      git('config', 'user.name', 'fuse4fs test');
      git('config', 'user.email', 'test@example.invalid');
      git('add', '-A');
      git('commit', '-q', '-m', 'tree from the source');
      assert.equal(git('status', '--porcelain'), '', 'git status after commit');
      git('fsck', '--no-progress', '--strict');
      sh('bash', ['-c', 'echo "one more line" >> "$(git ls-files | head -1)"'], { cwd: repo, env: GIT_ENV });
      git('commit', '-q', '-a', '-m', 'edit');
      git('gc', '-q');
      assert.equal(git('status', '--porcelain'), '', 'git status after gc');
      git('fsck', '--no-progress', '--strict');
      assert.equal(git('rev-list', '--count', 'HEAD').trim(), '2');
      lap('git');
    } else if (withGit) {
      diag('git not found (apt-get install -y git): git part skipped');
    }

    // rm -rf everything: the free counts return to the start
    for (const e of readdirSync(mnt)) if (e !== 'lost+found') sh('rm', ['-rf', join(mnt, e)]);
    lap('rm -rf');
    assert.deepEqual(readdirSync(mnt), ['lost+found']);
    assert.deepEqual(statfsFree(mnt), start, 'statfs free blocks/inodes after rm -rf');
  });
  lap('unmount + e2fsck');
  // a second mount of the emptied image: still empty, same counts, clean again
  await withMount(img, {}, (mnt) => {
    assert.deepEqual(readdirSync(mnt), ['lost+found']);
  });
}

describe('mount: real trees', { skip: skip ?? false }, () => {
  const budget = Number(process.env.FUSE4FS_E2E_TREE_FILES ?? 4000);
  test('ext4: tar, diff -r, cp -a, cp -al, mv, git, rm -rf', { timeout: 900_000 }, async (t) => {
    await treeScenario('ext4', budget, true, (s) => t.diagnostic(s));
  });
  test('ext3: tar, diff -r, cp -a, cp -al, mv, git, rm -rf', { timeout: 600_000 }, async (t) => {
    await treeScenario('ext3', Math.ceil(budget / 4), true, (s) => t.diagnostic(s));
  });
  test('ext4 with inline_data: tar, diff -r, cp -a, cp -al, mv, git, rm -rf', { timeout: 600_000 }, async (t) => {
    await treeScenario('ext4', Math.ceil(budget / 4), true, (s) => t.diagnostic(s), ['-O', 'inline_data']);
  });
  test('ext2: tar, diff -r, cp -a, cp -al, mv, rm -rf', { timeout: 600_000 }, async (t) => {
    await treeScenario('ext2', Math.ceil(budget / 4), false, (s) => t.diagnostic(s));
  });
});
