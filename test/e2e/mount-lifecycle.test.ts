// The life of a mount, through the real CLI:
//   - detached mount (no -f) then `fuse4fs-ts umount`: the server goes away and
//     the image is clean;
//   - SIGKILL of the server while a file is open and unlinked (an orphan on
//     disk): `fuse4fs-ts umount` clears the dead mount, the image mounts again,
//     the orphan is reclaimed, fsynced data is there, e2fsck -fn clean after a
//     clean unmount;
//   - `-o ro`: every kind of write fails with EROFS, reads work, and the image
//     file's bytes are unchanged (sha256 before/after);
//   - the unprivileged path: a user (uid 65534) mounts through fusermount3 and
//     koffi, writes, and unmounts with `fuse4fs-ts umount` (fusermount3 -u).
//     /dev/fuse is 0600 on the dev VM, so this runs inside `unshare -m` with a
//     0666 device node bind-mounted over /dev/fuse (private to that namespace).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { freshCopy } from '../helpers/images.js';
import {
  assertFsckClean, cliCommand, hasCommand, isMounted, makeImage, mountSkipReason, mountinfoLine, python3, run, runCli,
  scratchDir, sh, startMount, statfsFree, withMount,
} from '../helpers/mount.js';

const skip = mountSkipReason();

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** pids of processes with `file` open (scans /proc/PID/fd). */
function holders(file: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) { out.push(Number(pid)); break; }
      } catch { /* gone */ }
    }
  }
  return out;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('mount: lifecycle', { skip: skip ?? false }, () => {
  test('detached mount (no -f), then fuse4fs-ts umount', { timeout: 120_000 }, async () => {
    const img = makeImage('ext4', '64M');
    const mnt = mkdtempSync(join(scratchDir(), 'mnt-'));
    const r = runCli(['mount', img, mnt]);
    try {
      assert.equal(r.code, 0, `mount exited ${r.code}: ${r.stderr}`);
      assert.ok(isMounted(mnt), 'mounted when the command returns');
      writeFileSync(join(mnt, 'hello'), 'hello from a detached server\n');
      const server = holders(img);
      assert.equal(server.length, 1, `one process holds the image: ${server.join(' ')}`);
      const u = runCli(['umount', mnt]);
      assert.equal(u.code, 0, `umount exited ${u.code}: ${u.stderr}`);
      assert.equal(isMounted(mnt), false);
    } finally {
      if (isMounted(mnt)) run('umount', ['-l', mnt]); // never leave a failed test's mount behind
    }
    await waitFor(() => holders(img).length === 0, 30_000, 'the detached server to exit');
    assertFsckClean(img);
    // a second umount says so plainly
    const again = runCli(['umount', mnt]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not mounted/);
    await withMount(img, {}, (m) => {
      assert.equal(readFileSync(join(m, 'hello'), 'utf8'), 'hello from a detached server\n');
    });
  });

  test('SIGKILL: umount clears the dead mount; the image mounts again, orphans reclaimed', { timeout: 180_000, skip: python3() ? false : 'python3 not found (apt-get install -y python3)' }, async () => {
    const img = makeImage('ext4', '64M');
    let start = { blocks: 0, inodes: 0 };
    const m = await startMount(img);
    let holder: ReturnType<typeof spawn> | undefined;
    try {
      start = statfsFree(m.mnt);
      sh('mkdir', [join(m.mnt, 'd')]);
      writeFileSync(join(m.mnt, 'd/kept'), 'x'.repeat(100_000));
      sh('sync', [join(m.mnt, 'd/kept')]); // fsync: a commit
      // a python process holds an unlinked file open (fsynced: the orphan is on disk)
      holder = spawn(python3()!, ['-c', `
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b'o' * 300000)
os.unlink(sys.argv[1])
os.fsync(fd)
print('ready', flush=True)
time.sleep(600)
`, join(m.mnt, 'd/orphan')], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        holder!.stdout!.once('data', () => resolve());
        holder!.once('exit', (c) => reject(new Error(`orphan holder exited ${c}`)));
      });
      m.child.kill('SIGKILL');
      const e = await m.waitExit(10_000);
      assert.deepEqual(e, { code: null, signal: 'SIGKILL' });
    } catch (e) {
      holder?.kill('SIGKILL');
      await m.destroy();
      throw e;
    } finally {
      holder?.kill('SIGKILL');
    }
    try {
      // the dead mount answers ENOTCONN until cleared
      assert.ok(isMounted(m.mnt), 'the dead mount is still listed');
      const st = run('ls', [m.mnt]); // (stat could be answered from the kernel's attribute cache)
      assert.notEqual(st.code, 0);
      assert.match(st.stderr, /Transport endpoint is not connected/);
      const u = runCli(['umount', m.mnt]);
      assert.equal(u.code, 0, `fuse4fs-ts umount of a dead mount exited ${u.code}: ${u.stderr}`);
      assert.equal(isMounted(m.mnt), false, 'fuse4fs-ts umount cleared the dead mount');
    } finally {
      await m.destroy(); // a failed check must not leave the dead mount behind
    }

    // the image opens again; mounting reclaims the orphan
    await withMount(img, {}, (mnt) => {
      assert.equal(readFileSync(join(mnt, 'd/kept'), 'utf8'), 'x'.repeat(100_000));
      assert.deepEqual(readdirSync(join(mnt, 'd')), ['kept']);
      sh('rm', ['-rf', join(mnt, 'd')]);
      assert.deepEqual(statfsFree(mnt), start, 'free counts back at the start: the orphan was reclaimed');
    });
  });

  test('-o ro: writes fail with EROFS, the image bytes are unchanged', { timeout: 120_000 }, async () => {
    for (const name of ['ext4', 'ext3']) {
      const img = freshCopy(name);
      const before = sha256(img);
      await withMount(img, { options: ['ro'] }, (mnt) => {
        assert.match(mountinfoLine(mnt) ?? '', / ro[, ]/, 'mountinfo says ro');
        assert.equal(readFileSync(join(mnt, 'hello.txt'), 'utf8').length > 0, true);
        sh('ls', ['-laR', mnt]); // reads (and atime would be a write)
        sh('cat', [join(mnt, 'README.txt')]);
        const attempts: Array<[string, string[]]> = [
          ['touch', [join(mnt, 'new')]], ['mkdir', [join(mnt, 'newdir')]], ['rm', ['-f', join(mnt, 'hello.txt')]],
          ['sh', ['-c', `echo x >> '${join(mnt, 'hello.txt')}'`]], ['truncate', ['-s', '0', join(mnt, 'hello.txt')]],
          ['chmod', ['600', join(mnt, 'hello.txt')]], ['touch', [join(mnt, 'hello.txt')]],
          ['mv', [join(mnt, 'hello.txt'), join(mnt, 'moved')]], ['ln', ['-s', 'x', join(mnt, 'sym')]],
          ['ln', [join(mnt, 'hello.txt'), join(mnt, 'hard')]],
        ];
        if (hasCommand('setfattr')) attempts.push(['setfattr', ['-n', 'user.x', '-v', '1', join(mnt, 'hello.txt')]]);
        for (const [cmd, args] of attempts) {
          const r = run(cmd, args);
          assert.notEqual(r.code, 0, `${cmd} ${args.join(' ')} succeeded on a read-only mount`);
          assert.match(r.stderr, /Read-only file system/, `${cmd} ${args.join(' ')}: ${r.stderr}`);
        }
      });
      assert.equal(sha256(img), before, `${name}: image bytes changed by a read-only mount`);
    }
  });

  const unprivSkip = !hasCommand('fusermount3') ? 'fusermount3 not found (apt-get install -y fuse3)'
    : !hasCommand('unshare') || !hasCommand('setpriv') ? 'unshare/setpriv not found (apt-get install -y util-linux)'
      : !existsSync(new URL('../../node_modules/koffi/package.json', import.meta.url))
        ? 'koffi (optional dependency) is not installed: unprivileged mounts need it'
        : false;
  test('unprivileged: uid 65534 mounts through fusermount3 and unmounts', { timeout: 120_000, skip: unprivSkip }, async () => {
    // World-readable places: the test's scratch dir is 0700.
    const dir = mkdtempSync(join('/tmp', 'fuse4fs-ts-unpriv-'));
    chmodSync(dir, 0o755);
    const img = join(dir, 'img');
    sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-E', 'root_owner=65534:65534', img, '64M']);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    chownSync(img, 65534, 65534);
    chownSync(mnt, 65534, 65534);
    const cli = [process.execPath, ...cliCommand()].map((a) => `'${a}'`).join(' ');
    const asUser = 'setpriv --reuid=65534 --regid=65534 --clear-groups --';
    const script = `
set -u
mknod '${dir}/fuse' c 10 229 && chmod 666 '${dir}/fuse' && mount --bind '${dir}/fuse' /dev/fuse
${asUser} ${cli} mount '${img}' '${mnt}' -f > '${dir}/server.log' 2>&1 & pid=$!
for i in $(seq 1 600); do grep -q " ${mnt} " /proc/self/mountinfo && break; sleep 0.05; done
echo "MOUNTINFO $(grep " ${mnt} " /proc/self/mountinfo)"
${asUser} sh -c "echo 'written by nobody' > '${mnt}/f' && cat '${mnt}/f' && stat -c 'OWNER %u %g' '${mnt}/f'"
echo "WRITE $?"
${asUser} ${cli} umount '${mnt}'
echo "UMOUNT $?"
wait $pid
echo "SERVER $?"
`;
    const r = run('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], { timeoutMs: 100_000 });
    const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
    const out = `${r.stdout}\n${r.stderr}\n--- server log ---\n${log}`;
    assert.match(r.stdout, /^MOUNTINFO .* fuse\.fuse4fs-ts .*user_id=65534,group_id=65534/m, out);
    assert.match(r.stdout, /nosuid,nodev/, `fusermount3 adds nosuid,nodev:\n${out}`);
    assert.match(r.stdout, /^written by nobody$/m, out);
    assert.match(r.stdout, /^OWNER 65534 65534$/m, out);
    assert.match(r.stdout, /^WRITE 0$/m, out);
    assert.match(r.stdout, /^UMOUNT 0$/m, out);
    assert.match(r.stdout, /^SERVER 0$/m, out);
    assertFsckClean(img);
    sh('rm', ['-rf', dir]);
  });
});
