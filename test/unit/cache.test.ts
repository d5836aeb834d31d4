// The generic caches and the one-object-per-inode rule (DESIGN.md "Mechanisms").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCache } from '../../src/cache/block-cache.js';
import { PinnedTable } from '../../src/cache/pinned-table.js';
import { MemoryDevice } from '../../src/io/block-device.js';
import { Volume } from '../../src/ext2/volume.js';
import { imagePath } from '../helpers/images.js';

test('block cache: bounded in bytes, dirty blocks pinned until written back in block order', () => {
  const dev = new MemoryDevice(new Uint8Array(1024 * 64));
  const writes: number[] = [];
  const orig = dev.write.bind(dev);
  dev.write = (buf, pos) => { writes.push(pos / 1024); orig(buf, pos); };
  const c = new BlockCache(dev, 1024, 16 * 1024);
  for (let i = 0; i < 64; i++) c.get(i);
  assert.ok(c.stats().cachedBytes <= 16 * 1024, `cache holds ${c.stats().cachedBytes} bytes, bound is 16 KiB`);
  const b7 = c.get(7);
  b7.fill(7);
  c.markDirty(7, b7);
  const b3 = c.get(3);
  b3.fill(3);
  c.markDirty(3, b3);
  for (let i = 20; i < 64; i++) c.get(i); // would evict 3 and 7 if they were not pinned
  assert.equal(c.get(7)[0], 7, 'dirty block 7 survived eviction pressure');
  assert.equal(dev.data[7 * 1024], 0, 'nothing written before writeBack');
  c.writeBack();
  assert.deepEqual(writes, [3, 7], 'written back in block order');
  assert.equal(dev.data[7 * 1024], 7);
  assert.equal(c.dirtyBlocks().length, 0);
});

test('block cache: discard drops a freed block so its pending write never happens', () => {
  const dev = new MemoryDevice(new Uint8Array(1024 * 8));
  const c = new BlockCache(dev, 1024);
  const b = c.get(2);
  b.fill(9);
  c.markDirty(2, b);
  c.discard(2);
  c.writeBack();
  assert.equal(dev.data[2 * 1024], 0, 'discarded dirty block was not written');
});

test('block cache: writeRun keeps a cached copy coherent and refuses to overwrite dirty metadata', () => {
  const dev = new MemoryDevice(new Uint8Array(1024 * 8));
  const c = new BlockCache(dev, 1024);
  const cached = c.get(4);
  c.writeRun(4, new Uint8Array(1024).fill(5));
  assert.equal(cached[0], 5, 'cached copy updated');
  const d = c.get(5);
  c.markDirty(5, d);
  assert.throws(() => c.writeRun(5, new Uint8Array(1024)), /dirty metadata/);
});

test('pinned table: one object per key; pinned entries are never dropped, idle ones are bounded', () => {
  const dropped: number[] = [];
  const t = new PinnedTable<number, { k: number }>(2, (k) => dropped.push(k));
  const a = t.pin(1, () => ({ k: 1 }));
  assert.equal(t.get(1, () => ({ k: -1 })), a, 'same object while pinned');
  for (let i = 10; i < 20; i++) t.get(i, () => ({ k: i }));
  assert.equal(t.peek(1), a, 'pinned entry kept under pressure');
  assert.ok(t.idleCount <= 2, `idle entries bounded: ${t.idleCount}`);
  assert.ok(dropped.length >= 8, `evicted idle entries reported: ${dropped.length}`);
  assert.equal(t.unpin(1), 0);
  assert.equal(t.get(1, () => ({ k: -1 })), a, 'still the same object right after unpinning');
  assert.throws(() => t.unpin(1), /unpin of unpinned/);
});

test('inode table: every caller gets the same Inode object for an inode number', () => {
  const vol = Volume.open(imagePath('ext4'));
  try {
    const a = vol.inodes.get(2);
    const b = vol.inodes.pin(2);
    assert.equal(a, b, 'get and pin return the same object');
    for (let ino = 11; ino < 400; ino++) vol.inodes.get(ino); // churn the idle LRU
    assert.equal(vol.inodes.get(2), a, 'pinned root survives churn');
    vol.inodes.unpin(2);
    assert.equal(vol.inodes.refs(2), 0);
  } finally {
    vol.close();
  }
});
