// Crash test of the journal (src/ext2/journal/, txn.ts): a writing workload runs
// through the Filesystem API in a child process (this same file, started with
// JOURNAL_CRASH_CHILD=1) and is SIGKILLed at a random moment, many times, on
// the same image. After each kill:
//   - our read-write open replays the journal and gives the same bytes as
//     `e2fsck -E journal_only` on a copy (but the superblock fields e2fsck stamps);
//   - the filesystem (after orphan processing and a clean close) passes `e2fsck -fn`;
//   - every file fsync'ed before the kill and not touched since has exactly its
//     fsync'ed contents. The child appends "+ path sha256" to a log after each
//     fsync returned, and "- path" before it touches a file (write, truncate,
//     rename, unlink), so the log says which files must have which bytes.
// Workload: untar-like trees of new files, create/rename/unlink churn, appends,
// overwrites, truncates, xattrs, with fsync after some operations and an
// occasional syncfs; the bridge's other commit points are the size trigger
// (a quarter of the journal) and the FLUSH-style non-durable commit.
//
// CI runs a short version (JOURNAL_CRASH_SECONDS, default 60 s, over two images:
// ext4 4 KiB with checksum v3, ext3 1 KiB without checksums). A long run:
//   JOURNAL_CRASH_SECONDS=1800 node scripts/run-tests.mjs test/e2e/journal-crash.test.ts
// One more scenario goes through a real FUSE mount (bin/fuse4fs-ts mount -f,
// SIGKILL of the server, umount, reopen) when /dev/fuse and root are there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = process.env.JOURNAL_CRASH_CHILD === '1';
const enc = new TextEncoder();

// ---------------------------------------------------------------- the workload (child)

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function runChild(): Promise<void> {
  const { Filesystem } = await import('../../src/ext2/fs.js');
  const { makeLogger } = await import('../../src/util/log.js');
  const [image, seedText, logPath] = process.argv.slice(2) as [string, string, string];
  const seed = Number(seedText);
  const rnd = mulberry32(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const logFd = openSync(logPath, 'a');
  const note = (line: string) => writeSync(logFd, `${line}\n`);
  const fs = Filesystem.open(image, { readOnly: false, log: makeLogger(() => {}, 'error') });

  // the tree as it is now: directories and files by path
  const dirs = new Map<string, number>([['', 2]]);
  const files = new Map<string, number>();
  const scan = (ino: number, path: string, depth: number) => {
    const entries: [string, number, number][] = [];
    fs.readdir(ino, 0, (child: number, name: Uint8Array, type: number) => {
      const n = new TextDecoder().decode(name);
      if (n !== '.' && n !== '..' && n !== 'lost+found') entries.push([n, child, type]);
      return true;
    });
    for (const [n, child, type] of entries) {
      const p = path ? `${path}/${n}` : n;
      if (type === 2 && depth < 6) { dirs.set(p, child); scan(child, p, depth + 1); } else if (type === 1) files.set(p, child);
    }
  };
  scan(2, '', 0);

  const split = (p: string): [string, string] => {
    const i = p.lastIndexOf('/');
    return i < 0 ? ['', p] : [p.slice(0, i), p.slice(i + 1)];
  };
  let counter = 0;
  const content = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    const dv = new DataView(b.buffer);
    const r = mulberry32(seed * 7919 + counter++);
    let i = 0;
    for (; i + 4 <= n; i += 4) dv.setUint32(i, (r() * 4294967296) >>> 0);
    for (; i < n; i++) b[i] = (r() * 256) & 0xff;
    return b;
  };
  const size = () => { const x = rnd(); return x < 0.3 ? Math.floor(rnd() * 2000) : x < 0.9 ? Math.floor(rnd() * 40000) : Math.floor(rnd() * 400000); };
  const fsync = (path: string) => {
    fs.sync();
    const ino = files.get(path)!;
    const a = fs.getattr(ino);
    const buf = new Uint8Array(a.size);
    fs.read(ino, 0, buf);
    note(`+ ${path} ${sha256(buf)}`);
  };
  const syncfs = () => {
    fs.sync();
    for (const [p, ino] of files) {
      const a = fs.getattr(ino);
      const buf = new Uint8Array(a.size);
      fs.read(ino, 0, buf);
      note(`+ ${p} ${sha256(buf)}`);
    }
  };
  const newFile = (dir: string): void => {
    const name = `f${seed % 100000}-${counter++}`;
    const p = dir ? `${dir}/${name}` : name;
    note(`- ${p}`);
    const ino = fs.create(dirs.get(dir)!, enc.encode(name), 0o644, 0, 0);
    if (ino < 0) return;
    files.set(p, ino);
    const n = fs.writeData(ino, 0, content(size()));
    if (n < 0) return;
    if (rnd() < 0.25) fsync(p);
  };

  writeSync(1, 'ready\n');
  for (let step = 0; ; step++) {
    const r = rnd();
    const fileList = [...files.keys()];
    if (r < 0.1 || fileList.length < 5) {
      // untar-like: a new directory with a few files
      const parent = pick([...dirs.keys()].filter((d) => d.split('/').length < 5));
      const name = `d${seed % 100000}-${counter++}`;
      const p = parent ? `${parent}/${name}` : name;
      const ino = fs.mkdir(dirs.get(parent)!, enc.encode(name), 0o755, 0, 0);
      if (ino > 0) {
        dirs.set(p, ino);
        const k = 1 + Math.floor(rnd() * 8);
        for (let i = 0; i < k; i++) newFile(p);
      }
    } else if (r < 0.35) {
      newFile(pick([...dirs.keys()]));
    } else if (r < 0.47) {
      const p = pick(fileList);
      note(`- ${p}`);
      const [dir, name] = split(p);
      if (fs.unlink(dirs.get(dir)!, enc.encode(name)) === 0) files.delete(p);
    } else if (r < 0.57) {
      // rename, sometimes over an existing file
      const from = pick(fileList);
      const over = rnd() < 0.3;
      const toDir = pick([...dirs.keys()]);
      const to = over ? pick(fileList) : `${toDir ? `${toDir}/` : ''}r${counter++}`;
      if (to === from) continue;
      note(`- ${from}`);
      note(`- ${to}`);
      const [fd, fn] = split(from);
      const [td, tn] = split(to);
      if (fs.rename(dirs.get(fd)!, enc.encode(fn), dirs.get(td)!, enc.encode(tn)) === 0) {
        const ino = files.get(from)!;
        files.delete(from);
        files.set(to, ino);
        if (rnd() < 0.3) fsync(to);
      }
    } else if (r < 0.75) {
      // append or overwrite in the middle
      const p = pick(fileList);
      const ino = files.get(p)!;
      const a = fs.getattr(ino);
      note(`- ${p}`);
      const at = rnd() < 0.5 ? a.size : Math.floor(rnd() * (a.size + 1));
      fs.writeData(ino, at, content(Math.floor(rnd() * 30000) + 1));
      if (rnd() < 0.4) fsync(p);
    } else if (r < 0.82) {
      const p = pick(fileList);
      const ino = files.get(p)!;
      const a = fs.getattr(ino);
      note(`- ${p}`);
      fs.setattr(ino, { size: Math.floor(rnd() * (a.size + 5000)) });
      if (rnd() < 0.4) fsync(p);
    } else if (r < 0.86) {
      const p = pick(fileList);
      note(`- ${p}`);
      fs.setxattr(files.get(p)!, `user.k${counter++ % 5}`, content(Math.floor(rnd() * 300)), 0);
    } else if (r < 0.88) {
      syncfs();
    } else if (r < 0.93) {
      // a FLUSH-style commit without barriers (close of a written file)
      fs.vol.txn.commit({ durable: false });
    } else {
      const p = pick(fileList);
      fsync(p);
    }
    if (step % 50 === 0) {
      const st = fs.statfs();
      if (st.bfree < st.blocks / 4 || st.ffree < st.files / 4) {
        // keep room: drop a third of the files
        for (const p of fileList.filter((_, i) => i % 3 === 0)) {
          note(`- ${p}`);
          const [dir, name] = split(p);
          if (fs.unlink(dirs.get(dir)!, enc.encode(name)) === 0) files.delete(p);
        }
      }
    }
  }
}

if (CHILD) {
  await runChild();
} else {
  await registerTests();
}

// ---------------------------------------------------------------- the checks (parent)

async function registerTests(): Promise<void> {
  const { test, after } = await import('node:test');
  const { Volume } = await import('../../src/ext2/volume.js');
  const { Filesystem } = await import('../../src/ext2/fs.js');
  const { memoryLogger } = await import('../../src/util/log.js');
  const { lastRecoveryReport } = await import('../../src/ext2/journal/open.js');
  const { e2fsck, hasTool, mke2fs, runTool } = await import('../helpers/tools.js');

  const HERE = fileURLToPath(import.meta.url);
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const TOOLS = hasTool('e2fsck') && hasTool('mke2fs');
  const SECONDS = Number(process.env.JOURNAL_CRASH_SECONDS ?? 60);
  const work = mkdtempSync(join(tmpdir(), 'fuse4fs-journal-crash-'));
  const child = childCommand();
  after(() => { rmSync(work, { recursive: true, force: true }); child.cleanup(); });

  /** The child: this file bundled by esbuild (quick start), else through tsx. */
  function childCommand(): { argv: string[]; cleanup: () => void } {
    try {
      const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
      const dir = join(ROOT, 'tmp', `journal-crash-${process.pid}`);
      const out = join(dir, 'journal-crash.mjs');
      esbuild.buildSync({
        entryPoints: [HERE], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external',
        outfile: out, logLevel: 'error',
      });
      return { argv: [out], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    } catch {
      return { argv: ['--import', 'tsx', HERE], cleanup: () => {} };
    }
  }

  function masked(bytes: Uint8Array): Uint8Array {
    const b = Uint8Array.from(bytes);
    b.fill(0, 1024 + 0x30, 1024 + 0x34);
    b.fill(0, 1024 + 0x178, 1024 + 0x180);
    b.fill(0, 1024 + 0x3fc, 1024 + 0x400);
    return b;
  }

  function firstDiff(a: Uint8Array, b: Uint8Array): number {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
    return a.length === b.length ? -1 : Math.min(a.length, b.length);
  }

  /** Expected contents by path: what the log says was fsync'ed and not touched since. */
  function expected(logPath: string): Map<string, string> {
    const want = new Map<string, string>();
    if (!existsSync(logPath)) return want;
    for (const line of readFileSync(logPath, 'utf8').split('\n')) {
      if (line.startsWith('+ ')) {
        const i = line.lastIndexOf(' ');
        want.set(line.slice(2, i), line.slice(i + 1));
      } else if (line.startsWith('- ')) {
        want.delete(line.slice(2));
      }
    }
    return want;
  }

  function lookupPath(fs: InstanceType<typeof Filesystem>, path: string): number {
    let ino = 2;
    for (const part of path.split('/')) {
      ino = fs.lookup(ino, enc.encode(part));
      if (ino < 0) return ino;
    }
    return ino;
  }

  /** Kill a child at a random moment; says whether the next open replayed transactions. */
  async function oneCrash(image: string, logPath: string, seed: number, delayMs: number): Promise<boolean> {
    const proc = spawn(process.execPath, [...child.argv, image, String(seed), logPath], {
      cwd: ROOT, env: { ...process.env, JOURNAL_CRASH_CHILD: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s: string) => { stderr += s; });
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    await new Promise<void>((res, rej) => {
      proc.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) res(); });
      proc.on('exit', (code) => rej(new Error(`child exited ${code} before ready: ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, delayMs));
    proc.kill('SIGKILL');
    const code = await exited;
    assert.equal(code, null, `the child died on its own (${code}): ${stderr}`);

    // On a failure, the image as the kill left it is kept for a post-mortem.
    const pre = `${image}.pre`;
    copyFileSync(image, pre);
    try {
      return checkAfterCrash(image, logPath, seed);
    } catch (e) {
      const keep = join(ROOT, 'tmp', `journal-crash-${seed}.img`);
      mkdirSync(join(ROOT, 'tmp'), { recursive: true });
      copyFileSync(pre, keep);
      if (e instanceof Error) e.message += `\n(the image as the kill left it: ${keep})`;
      throw e;
    }
  }

  /** fsync'ed files compared after the kills of the current test. */
  let checkedFiles = 0;

  function checkAfterCrash(image: string, logPath: string, seed: number): boolean {
    // 1. our replay == e2fsck's replay
    const ref = `${image}.e2fsck`;
    copyFileSync(image, ref);
    const r = runTool('e2fsck', ['-E', 'journal_only', '-y', ref]);
    assert.ok(r.code <= 1, `e2fsck journal_only: ${r.output}`);
    const before = readFileSync(image).readUInt32LE(1024 + 0x60);
    Volume.open(image, { readOnly: false, log: memoryLogger() }).close();
    const replayed = (before & 0x4) !== 0 && lastRecoveryReport()?.replayed === true && lastRecoveryReport()!.blocks > 0;
    const d = firstDiff(masked(readFileSync(ref)), masked(readFileSync(image)));
    assert.equal(d, -1, `our replay differs from e2fsck's at byte ${d} (seed ${seed})`);
    rmSync(ref);
    // 2. orphans, fsync'ed contents
    const fs = Filesystem.open(image, { readOnly: false, log: memoryLogger() });
    const want = expected(logPath);
    checkedFiles += want.size;
    for (const [path, hash] of want) {
      const ino = lookupPath(fs, path);
      assert.ok(ino > 0, `fsync'ed file ${path} is missing after the crash (seed ${seed})`);
      const a = fs.getattr(ino);
      const buf = new Uint8Array(a.size);
      fs.read(ino, 0, buf);
      assert.equal(sha256(buf), hash, `fsync'ed file ${path} has other contents after the crash (seed ${seed})`);
    }
    fs.close();
    // 3. a clean filesystem
    const f = e2fsck(image);
    assert.equal(f.code, 0, `e2fsck -fn after crash ${seed}:\n${f.output}`);
    return replayed;
  }

  const FLAVOURS = [
    { name: 'ext4 4 KiB, checksum v3', mkfs: ['-t', 'ext4', '-b', '4096', '-O', 'metadata_csum', '-J', 'size=4'], size: '48M' },
    { name: 'ext3 1 KiB, no journal checksums', mkfs: ['-t', 'ext3', '-b', '1024', '-J', 'size=1'], size: '24M' },
  ];

  for (const fl of FLAVOURS) {
    test(`crash: SIGKILL of a writing workload, ${fl.name} (${Math.round(SECONDS / FLAVOURS.length)} s)`, { skip: !TOOLS, timeout: (SECONDS / FLAVOURS.length + 120) * 1000 }, async () => {
      const image = join(work, `${fl.name.replace(/\W+/g, '-')}.img`);
      const logPath = `${image}.log`;
      mke2fs(['-q', ...fl.mkfs, image, fl.size]);
      writeFileSync(logPath, '');
      const deadline = Date.now() + (SECONDS / FLAVOURS.length) * 1000;
      const base = Number(process.env.JOURNAL_CRASH_SEED ?? Date.now() % 1_000_000);
      let n = 0;
      let replays = 0;
      checkedFiles = 0;
      while (Date.now() < deadline || n < 3) {
        const seed = base + n;
        const rnd = mulberry32(seed);
        if (await oneCrash(image, logPath, seed, 30 + Math.floor(rnd() * 900))) replays++;
        n++;
      }
      process.stdout.write(`# journal-crash ${fl.name}: ${n} kills survived (${replays} left transactions to replay), seeds ${base}..${base + n - 1}, ${checkedFiles} fsync'ed file contents compared\n`);
      assert.ok(n >= 3);
      assert.ok(replays > 0, 'some kills left a journal to replay');
      assert.ok(checkedFiles > 0, 'some fsync\'ed files were compared');
    });
  }

  // ---------------------------------------------------------------- a real FUSE mount
  const { mountSkipReason, startMount, runCli, isMounted } = await import('../helpers/mount.js');
  const fuseSkip = TOOLS ? mountSkipReason() : 'e2fsprogs missing';
  test('crash: SIGKILL of the FUSE server under a writing shell loop, umount, reopen (3 rounds)', { skip: fuseSkip ?? false, timeout: 180_000 }, async () => {
    const image = join(work, 'fuse.img');
    mke2fs(['-q', '-t', 'ext4', '-b', '4096', '-O', 'metadata_csum', '-J', 'size=4', image, '64M']);
    const logPath = `${image}.log`;
    writeFileSync(logPath, '');
    for (let round = 0; round < 3; round++) {
      const m = await startMount(image, { fsck: false });
      // files written, fsync'ed (coreutils `sync FILE`), logged; older ones removed again
      const script = `cd "$1"; i=0; while :; do d=d$((i % 5)); mkdir -p $d; f=$d/r${round}-$i;
        head -c $(( (RANDOM * 7) % 200000 )) /dev/urandom > $f.tmp && mv $f.tmp $f && sync $f &&
        echo "+ $f $(sha256sum < $f | cut -d' ' -f1)" >> "$2" || exit 0
        if [ $i -ge 3 ] && [ $((i % 3)) = 0 ]; then j=$((i - 3)); g=d$((j % 5))/r${round}-$j; echo "- $g" >> "$2"; rm -f $g; fi
        echo "- $d/r${round}-app" >> "$2"; echo "line $i" >> $d/r${round}-app
        i=$((i + 1)); done`;
      const loop = spawn('bash', ['-c', script, 'loop', m.mnt, logPath], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 800 + Math.floor(Math.random() * 2000)));
      m.child.kill('SIGKILL');
      await m.exited;
      loop.kill('SIGKILL');
      const u = runCli(['umount', m.mnt]);
      assert.equal(isMounted(m.mnt), false, `umount after the kill: ${u.stderr}`);
      assert.ok((readFileSync(image).readUInt32LE(1024 + 0x60) & 0x4) !== 0, 'the killed server left needs_recovery');
      const fs = Filesystem.open(image, { readOnly: false, log: memoryLogger() });
      const want = expected(logPath);
      assert.ok(want.size > 0, 'the loop fsync\'ed something');
      for (const [path, hash] of want) {
        const ino = lookupPath(fs, path);
        assert.ok(ino > 0, `fsync'ed ${path} missing after round ${round}`);
        const buf = new Uint8Array(fs.getattr(ino).size);
        fs.read(ino, 0, buf);
        assert.equal(sha256(buf), hash, `fsync'ed ${path} contents after round ${round}`);
      }
      fs.close();
      const f = e2fsck(image);
      assert.equal(f.code, 0, `round ${round}: ${f.output}`);
    }
  });
}
