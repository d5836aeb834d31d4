// Orphans (src/ext2/orphan.ts through fs.ts): an unlinked file that is still
// open keeps its data and stays readable and writable through its inode; an
// O_TMPFILE inode holds data without a name; both sit on the on-disk orphan
// chain (s_last_orphan, linked through i_dtime) until released, and removal
// from the middle of the chain keeps it whole.
//
// A crash is simulated by committing (sync) and closing the device without
// releasing anything. On a copy of the crashed image (its journal replayed by
// debugfs `journal_run` where it has one), e2fsprogs must see the chain we
// expect: dumpe2fs's "First orphan inode", the i_dtime links (debugfs stat), and
// `e2fsck -fn` reports exactly those inodes (a read-only check does not process
// an orphan list: it reports them as deleted-but-in-use, exit 4), while
// `e2fsck -E journal_only` clears them in chain order and leaves a clean volume.
// The next Filesystem.open of the crashed image reclaims them: free counts back
// to where they were before the files existed, `e2fsck -fn` clean.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { Filesystem } from '../../src/ext2/fs.js';
import { Errno } from '../../src/util/errno.js';
import { freshCopy, getImage } from '../helpers/images.js';
import { debugfs, e2fsck, hasTool, runTool, superblockFields } from '../helpers/tools.js';
import { nameBytes, pattern } from '../helpers/model.js';

const TOOLS = hasTool('e2fsck') && hasTool('dumpe2fs') && hasTool('debugfs');
const FLAVOURS = ['ext2-1k', 'ext4-64k', 'ext4'];
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const b = nameBytes;

function freeCounts(image: string): { blocks: number; inodes: number } {
  const f = superblockFields(image);
  return { blocks: Number(f['Free blocks']), inodes: Number(f['Free inodes']) };
}

/** A copy of the image as it would be after journal replay (no orphan processing). */
function replayedCopy(image: string, tag: string): string {
  const copy = `${image}.${tag}`;
  copyFileSync(image, copy);
  if ((superblockFields(copy)['Filesystem features'] ?? '').includes('needs_recovery')) {
    const r = runTool('debugfs', ['-w', '-R', 'journal_run', copy]);
    assert.equal(r.code, 0, `debugfs journal_run: ${r.output}`);
    assert.ok(!superblockFields(copy)['Filesystem features']!.includes('needs_recovery'), 'the journal was replayed');
  }
  return copy;
}

/** i_dtime of an inode as debugfs shows it (the orphan chain's next link; debugfs leaves out a zero dtime). */
function dtimeOf(image: string, ino: number): number {
  const text = debugfs(image, `stat <${ino}>`);
  assert.match(text, /Links: 0 /, `inode ${ino} has no links`);
  const m = /dtime: 0x([0-9a-f]+)/.exec(text);
  return m ? parseInt(m[1]!, 16) : 0;
}

function inodeNumbersIn(text: string): Set<number> {
  const out = new Set<number>();
  for (const m of text.matchAll(/[Ii]node (\d+)/g)) out.add(Number(m[1]));
  const bm = /Inode bitmap differences:\s*(.*)/.exec(text);
  for (const part of (bm?.[1] ?? '').trim().split(/\s+/).filter(Boolean)) {
    const r = /^-\(?(\d+)(?:--(\d+))?\)?$/.exec(part);
    assert.ok(r, `bitmap difference ${part}`);
    for (let i = Number(r[1]); i <= Number(r[2] ?? r[1]); i++) out.add(i);
  }
  return out;
}

describe('orphans: unlinked-but-open files and tmpfiles across a crash', () => {
  for (const flavour of FLAVOURS) {
    test(flavour, { skip: !TOOLS && 'e2fsprogs not installed' }, () => {
      const bs = getImage(flavour).blockSize;
      const image = freshCopy(flavour);
      const fs = Filesystem.open(image, { readOnly: false, log: quiet });
      const s0 = fs.statfs();

      // an open file loses its last name: data stays, reads and writes go on
      const data = pattern(3 * bs + 100, 1);
      const f = fs.create(2, b('victim'), 0o644, 0, 0);
      assert.equal(fs.writeData(f, 0, data), data.length);
      const fh = fs.open(f);
      assert.ok(fh > 0);
      assert.equal(fs.unlink(2, b('victim')), 0);
      assert.equal(fs.lookup(2, b('victim')), -Errno.ENOENT);
      assert.equal(fs.getattr(f).nlink, 0);
      assert.equal(fs.vol.sb.s_last_orphan, f, 'on the orphan list');
      const more = pattern(2 * bs, 2);
      assert.equal(fs.writeData(f, data.length, more), more.length, 'write through the handle after unlink');
      const back = new Uint8Array(data.length + more.length);
      assert.equal(fs.read(f, 0, back), back.length);
      assert.deepEqual(back.subarray(0, data.length), data);
      assert.deepEqual(back.subarray(data.length), more);
      assert.equal(fs.getattr(f).size, back.length);

      // a middle one, released later: the chain must stay whole
      const m = fs.create(2, b('middle'), 0o644, 0, 0);
      fs.writeData(m, 0, pattern(bs * 2, 3));
      const mh = fs.open(m);
      assert.equal(fs.unlink(2, b('middle')), 0);

      // a tmpfile with data
      const t = fs.tmpfile(2, 0o600, 0, 0);
      assert.ok(Array.isArray(t), `tmpfile: ${t}`);
      const [tino] = t;
      const tdata = pattern(bs + 7, 4);
      assert.equal(fs.writeData(tino, 0, tdata), tdata.length);
      assert.equal(fs.vol.sb.s_last_orphan, tino, 'the newest orphan heads the chain');

      assert.equal(fs.release(mh), 0, 'release the middle one');
      assert.equal(fs.orphans.has(m), false);
      assert.deepEqual(fs.orphans.readChain(), [tino, f], 'chain without the middle one');
      const s1 = fs.statfs();
      assert.ok(s1.bfree < s0.bfree && s1.ffree === s0.ffree - 2, 'the two orphans still hold their blocks and inodes');

      // crash: commit, then close the device without releasing anything
      fs.sync();
      fs.vol.dev.close();

      // e2fsprogs' view of the crashed image
      const seen = replayedCopy(image, 'seen');
      assert.equal(Number(superblockFields(seen)['First orphan inode']), tino, 'dumpe2fs: first orphan inode');
      assert.equal(dtimeOf(seen, tino), f, 'the tmpfile links to the unlinked file');
      assert.equal(dtimeOf(seen, f), 0, 'the end of the chain');
      const ro = e2fsck(seen);
      assert.equal(ro.code, 4, `a read-only check does not process the orphan list:\n${ro.output}`);
      assert.deepEqual([...inodeNumbersIn(ro.output)].sort((x, y) => x - y), [f, tino].sort((x, y) => x - y),
        `e2fsck -fn complains about the orphans and nothing else:\n${ro.output}`);
      const fixed = replayedCopy(image, 'fixed');
      const jo = runTool('e2fsck', ['-E', 'journal_only', '-y', fixed]);
      assert.equal(jo.code, 0, jo.output);
      const cleared = [...jo.output.matchAll(/Clearing orphaned inode (\d+)/g)].map((x) => Number(x[1]));
      assert.deepEqual(cleared, [tino, f], `e2fsck walks the chain:\n${jo.output}`);
      const after = e2fsck(fixed);
      assert.equal(after.code, 0, `after e2fsck processed the orphans:\n${after.output}`);
      assert.deepEqual(freeCounts(fixed), { blocks: s0.bfree, inodes: s0.ffree });

      // our next open reclaims them
      const fs2 = Filesystem.open(image, { readOnly: false, log: quiet });
      try {
        assert.equal(fs2.vol.sb.s_last_orphan, 0, 'the chain is processed at open');
        const s2 = fs2.statfs();
        assert.deepEqual([s2.bfree, s2.ffree], [s0.bfree, s0.ffree], 'free counts back to before the files existed');
        assert.equal(fs2.lookup(2, b('victim')), -Errno.ENOENT);
      } finally {
        fs2.close();
      }
      const r = e2fsck(image);
      assert.equal(r.code, 0, `e2fsck -fn after reclaiming:\n${r.output}`);
      assert.deepEqual(freeCounts(image), { blocks: s0.bfree, inodes: s0.ffree });
    });
  }
});

describe('orphans without a crash', () => {
  for (const flavour of ['ext4', 'ext2-1k']) {
    test(`${flavour}: release frees at once; close() with open handles leaves them for the next open`, { skip: !TOOLS && 'e2fsprogs not installed' }, () => {
      const image = freshCopy(flavour);
      let fs = Filesystem.open(image, { readOnly: false, log: quiet });
      const s0 = fs.statfs();
      const f = fs.create(2, b('a'), 0o644, 0, 0);
      fs.writeData(f, 0, pattern(10000, 5));
      const fh = fs.open(f);
      const fh2 = fs.open(f);
      assert.equal(fs.unlink(2, b('a')), 0);
      assert.equal(fs.release(fh), 0);
      assert.equal(fs.vol.sb.s_last_orphan, f, 'still open through the second handle');
      assert.equal(fs.release(fh2), 0);
      assert.equal(fs.vol.sb.s_last_orphan, 0, 'the last release frees it');
      fs.sync(); // freed blocks count once committed
      assert.deepEqual([fs.statfs().bfree, fs.statfs().ffree], [s0.bfree, s0.ffree]);
      // a file and a tmpfile still open at close
      const g = fs.create(2, b('g'), 0o644, 0, 0);
      fs.writeData(g, 0, pattern(5000, 6));
      fs.open(g);
      fs.unlink(2, b('g'));
      const t = fs.tmpfile(2, 0o600, 0, 0) as [number, number];
      fs.writeData(t[0], 0, pattern(3000, 7));
      fs.close();
      assert.equal(Number(superblockFields(image)['First orphan inode']), t[0], 'close() leaves the open orphans on the list');
      fs = Filesystem.open(image, { readOnly: false, log: quiet });
      try {
        assert.equal(fs.vol.sb.s_last_orphan, 0);
        assert.deepEqual([fs.statfs().bfree, fs.statfs().ffree], [s0.bfree, s0.ffree]);
      } finally {
        fs.close();
      }
      const r = e2fsck(image);
      assert.equal(r.code, 0, r.output);
    });
  }
});
