// Filling a volume to ENOSPC through the Filesystem API, then deleting
// everything: files of mixed sizes until not even one block is left, then
// (after freeing a little room for directory growth) empty files until the
// inodes run out. The volume is closed after each phase (with a journal, only a
// checkpoint puts the superblock in place for dumpe2fs) and `e2fsck -fn` must be
// clean: after filling the blocks, after exhausting the inodes, after deleting
// everything; the free counts of statfs and of the superblock (dumpe2fs) agree
// at each step, and at the end are exactly what they were before.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Filesystem } from '../../src/ext2/fs.js';
import { Errno, errnoName } from '../../src/util/errno.js';
import { freshCopy, getImage } from '../helpers/images.js';
import { e2fsck, hasTool, superblockFields } from '../helpers/tools.js';
import { nameBytes, pattern } from '../helpers/model.js';

const TOOLS = hasTool('e2fsck') && hasTool('dumpe2fs');
const FLAVOURS = ['ext4', 'ext2-1k', 'ext4-64k', 'ext4-inline'];
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function fsckClean(image: string, when: string): void {
  const r = e2fsck(image);
  assert.equal(r.code, 0, `e2fsck -fn ${when}:\n${r.output}`);
}

function superblockFree(image: string): { blocks: number; inodes: number } {
  const f = superblockFields(image);
  return { blocks: Number(f['Free blocks']), inodes: Number(f['Free inodes']) };
}

describe('fill to ENOSPC, then delete everything', () => {
  for (const flavour of FLAVOURS) {
    test(flavour, { skip: !TOOLS && 'e2fsprogs not installed' }, () => {
      const bs = getImage(flavour).blockSize;
      const image = freshCopy(flavour);
      const sb0 = superblockFree(image);
      let fs = Filesystem.open(image, { readOnly: false, log: quiet });
      /** close, e2fsck, compare the superblock with statfs, reopen */
      const checkpoint = (when: string): void => {
        const st = fs.statfs();
        fs.close();
        fsckClean(image, when);
        assert.deepEqual(superblockFree(image), { blocks: st.bfree, inodes: st.ffree }, `superblock free counts ${when}`);
        fs = Filesystem.open(image, { readOnly: false, log: quiet });
        const again = fs.statfs();
        assert.deepEqual([again.bfree, again.ffree], [st.bfree, st.ffree], `statfs after reopening (${when})`);
      };
      try {
        const s0 = fs.statfs();
        assert.deepEqual([s0.bfree, s0.ffree], [sb0.blocks, sb0.inodes], 'statfs agrees with the superblock');
        const fill = fs.mkdir(2, nameBytes('fill'), 0o755, 0, 0);
        assert.ok(fill > 0, `mkdir fill: ${fill}`);
        const dirs = [fill];
        for (let i = 0; i < 4; i++) {
          const d = fs.mkdir(fill, nameBytes(`d${i}`), 0o755, 0, 0);
          assert.ok(d > 0, `mkdir d${i}: ${errnoName(d)}`);
          dirs.push(d);
        }

        // 1. files of mixed sizes until even one block cannot be had
        const sizes = [1_000_000, 100_000, 3 * bs + 1, 5000, 1, 250_000, 0, 2 * bs];
        const files: { dir: number; name: string; size: number }[] = [];
        let failures = 0;
        let smallest = false;
        for (let i = 0; !smallest; i++) {
          const dir = dirs[i % dirs.length]!;
          const name = `file-${i}`;
          const ino = fs.create(dir, nameBytes(name), 0o644, 0, 0);
          if (ino === -Errno.ENOSPC) break; // the directory itself could not grow
          assert.ok(ino > 0, `create ${name}: ${errnoName(ino)}`);
          // after the first ENOSPC, only ever smaller writes: down to 1 byte
          const size = failures === 0 ? sizes[i % sizes.length]! : Math.max(1, Math.floor(bs / 2 ** failures));
          const data = pattern(size, i);
          const w = fs.writeData(ino, 0, data);
          if (w === -Errno.ENOSPC) {
            failures++;
            assert.equal(fs.getattr(ino).size, 0, 'a failed write leaves the file as it was');
            assert.equal(fs.getattr(ino).blocks, 0, 'a failed write gives back what it allocated');
            if (size === 1) smallest = true;
          } else {
            assert.equal(w, data.length, `write ${name}`);
          }
          files.push({ dir, name, size: w < 0 ? 0 : size });
        }
        const full = fs.statfs();
        assert.ok(failures > 0, 'ENOSPC was reached');
        assert.ok(full.bfree <= 1 + fs.vol.reservedBlocks, `free blocks left at ENOSPC: ${full.bfree}`);
        checkpoint(`after filling the blocks (${files.length} files)`);

        // 2. room for directory growth, then empty files until the inodes run out
        const victim = files.find((f) => f.size >= 100_000)!;
        assert.equal(fs.unlink(victim.dir, nameBytes(victim.name)), 0);
        files.splice(files.indexOf(victim), 1);
        const e = fs.mkdir(fill, nameBytes('empties'), 0o755, 0, 0);
        assert.ok(e > 0, `mkdir empties: ${errnoName(e)}`);
        dirs.push(e);
        const empties: string[] = [];
        for (;;) {
          const name = `e${empties.length}`;
          const r = fs.create(e, nameBytes(name), 0o600, 0, 0);
          if (r === -Errno.ENOSPC) break;
          assert.ok(r > 0, `create ${name}: ${errnoName(r)}`);
          empties.push(name);
        }
        assert.equal(fs.statfs().ffree, 0, 'ENOSPC on create came from running out of inodes');
        assert.equal(fs.mkdir(e, nameBytes('nodir'), 0o755, 0, 0), -Errno.ENOSPC);
        assert.equal(fs.symlink(e, nameBytes('nolink'), nameBytes('t'), 0, 0), -Errno.ENOSPC);
        assert.equal(fs.tmpfile(e, 0o600, 0, 0), -Errno.ENOSPC);
        checkpoint(`after exhausting the inodes (${empties.length} empty files)`);

        // 3. delete everything
        for (const name of empties) assert.equal(fs.unlink(e, nameBytes(name)), 0, `unlink ${name}`);
        for (const f of files) assert.equal(fs.unlink(f.dir, nameBytes(f.name)), 0, `unlink ${f.name}`);
        assert.equal(fs.rmdir(fill, nameBytes('empties')), 0);
        for (let i = 0; i < 4; i++) assert.equal(fs.rmdir(fill, nameBytes(`d${i}`)), 0);
        assert.equal(fs.rmdir(2, nameBytes('fill')), 0);
        fs.sync(); // freed blocks count once committed
        const s1 = fs.statfs();
        assert.deepEqual([s1.bfree, s1.ffree], [s0.bfree, s0.ffree], 'statfs free counts are back to where they started');
      } finally {
        fs.close();
      }
      fsckClean(image, 'after deleting everything');
      assert.deepEqual(superblockFree(image), sb0, 'the superblock free counts are back to where they started');
    });
  }
});
