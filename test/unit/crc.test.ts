// crc32c (both implementations) and crc16, with pinned vectors and a live check
// of group descriptor checksums against mke2fs/dumpe2fs where they exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  crc32c, crc32cLe, crc32cLeJs, crc32cLeNative, crc32cStandard, crc32cLeU32, crc32cImplementation,
} from '../../src/util/crc32c.js';
import { crc16 } from '../../src/util/crc16.js';

const enc = (s: string) => new TextEncoder().encode(s);
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Bit-at-a-time reference crc32c (raw, no inversion). */
function crc32cRef(crc: number, data: Uint8Array): number {
  let c = crc >>> 0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return c >>> 0;
}

const impls: [string, (crc: number, d: Uint8Array) => number][] = [['js', crc32cLeJs], ['dispatch', crc32cLe]];
if (crc32cLeNative) impls.push(['native', crc32cLeNative]);

test('crc32c implementation in use is reported', () => {
  assert.ok(crc32cImplementation === 'native' || crc32cImplementation === 'js');
});

for (const [name, f] of impls) {
  test(`crc32c ${name}: standard vectors`, () => {
    // Standard (inverted) crc32c vectors: RFC 3720 B.4 and the "check" value.
    assert.equal(~f(0xffffffff, enc('123456789')) >>> 0, 0xe3069283);
    assert.equal(~f(0xffffffff, new Uint8Array(32)) >>> 0, 0x8a9136aa);
    assert.equal(~f(0xffffffff, new Uint8Array(32).fill(0xff)) >>> 0, 0x62a8ab43);
    const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
    assert.equal(~f(0xffffffff, inc) >>> 0, 0x46dd794e);
    // Raw form: no inversion, so an empty input returns the seed unchanged.
    assert.equal(f(0x12345678, new Uint8Array(0)), 0x12345678);
    assert.equal(f(0xffffffff, enc('123456789')), 0x1cf96d7c);
    // 4 KiB buffer (exercises the native path of the dispatcher).
    const big = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xff);
    assert.equal(f(0xdeadbeef, big), crc32cRef(0xdeadbeef, big));
  });

  test(`crc32c ${name}: matches bit-at-a-time reference on random data, chaining and views`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(600), fc.integer({ min: 0, max: 0xffffffff }), (d, cut, seed) => {
        const k = Math.min(cut, d.length);
        const whole = f(seed, d);
        assert.equal(whole, crc32cRef(seed, d));
        // Chaining over a split gives the same result; subarray views work.
        assert.equal(f(f(seed, d.subarray(0, k)), d.subarray(k)), whole);
      }),
      { numRuns: 300 },
    );
  });
}

test('crc32c wrappers', () => {
  assert.equal(crc32c(enc('123456789')), 0x1cf96d7c);
  assert.equal(crc32c(enc('abc'), 7), crc32cLeJs(7, enc('abc')));
  assert.equal(crc32cStandard(enc('123456789')), 0xe3069283);
  assert.equal(crc32cLeU32(0xffffffff, 0x04030201), crc32cLeJs(0xffffffff, Uint8Array.of(1, 2, 3, 4)));
});

test('crc32c: ext4 superblock checksum of a real image (metadata_csum)', (t) => {
  if (spawnSync('mkfs.ext4', ['-V']).error) return t.skip('mkfs.ext4 missing');
  const dir = mkdtempSync(join(tmpdir(), 'crc-'));
  try {
    const img = join(dir, 'sb.img');
    execFileSync('mkfs.ext4', ['-q', '-F', '-O', 'metadata_csum', img, '8M'], { stdio: 'ignore' });
    const sb = readFileSync(img).subarray(1024, 2048);
    const stored = sb.readUInt32LE(1020);
    assert.equal(crc32c(sb.subarray(0, 1020), 0xffffffff), stored);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// crc16 ------------------------------------------------------------------------

test('crc16: reference vectors', () => {
  // CRC-16/ARC ("123456789" → 0xBB3D) starts from 0; CRC-16/MODBUS from 0xFFFF → 0x4B37.
  assert.equal(crc16(0, enc('123456789')), 0xbb3d);
  assert.equal(crc16(~0, enc('123456789')), 0x4b37);
  assert.equal(crc16(0x1234, new Uint8Array(0)), 0x1234);
});

/** The gdt_csum descriptor checksum (ext2fs_group_desc_csum without metadata_csum). */
function gdtCsum(uuid: Uint8Array, group: number, desc: Uint8Array): number {
  const g = new Uint8Array(4);
  new DataView(g.buffer).setUint32(0, group, true);
  let c = crc16(~0, uuid);
  c = crc16(c, g);
  c = crc16(c, desc.subarray(0, 0x1e));
  return crc16(c, desc.subarray(0x20));
}

test('crc16: pinned group descriptor vectors', () => {
  // From `mkfs.ext4 -q -F -O ^metadata_csum,uninit_bg,64bit -U 11223344-5566-7788-99aa-bbccddeeff00 gd64.img 64M`
  // (1 KiB blocks, 64-byte descriptors at offset 2048); dumpe2fs printed
  // "Group 0: ... csum 0xd329", "Group 1: ... csum 0xbcba", "Group 2: ... csum 0xa5b6".
  const uuid = hex('112233445566778899aabbccddeeff00');
  const descs = hex(
    '030100000b01000013010000e00ef507020000000000000000000000f50729d3' + '00'.repeat(32) +
      '040100000c01000013030000fe1e00080000030000000000000000000008babc' + '00'.repeat(32) +
      '050100000d01000013050000001000080000010000000000000000000008b6a5' + '00'.repeat(32),
  );
  const expected = [0xd329, 0xbcba, 0xa5b6];
  for (let g = 0; g < 3; g++) {
    const d = descs.subarray(g * 64, g * 64 + 64);
    assert.equal(gdtCsum(uuid, g, d), expected[g]);
    assert.equal(d[0x1e]! | (d[0x1f]! << 8), expected[g]);
  }
});

test('crc16: live group descriptor checksums vs dumpe2fs (32- and 64-byte descriptors)', (t) => {
  if (spawnSync('mkfs.ext4', ['-V']).error || spawnSync('dumpe2fs', ['-V']).error) return t.skip('e2fsprogs missing');
  const dir = mkdtempSync(join(tmpdir(), 'crc16-'));
  try {
    for (const [feat, size] of [['^64bit', 32], ['64bit', 64]] as const) {
      const img = join(dir, `gd-${feat}.img`);
      execFileSync('mkfs.ext4', ['-q', '-F', '-b', '1024', '-O', `^metadata_csum,uninit_bg,${feat}`, img, '40M'], { stdio: 'ignore' });
      const out = execFileSync('dumpe2fs', [img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const csums = [...out.matchAll(/^Group (\d+): .*csum 0x([0-9a-f]+)/gm)].map((m) => [Number(m[1]), parseInt(m[2]!, 16)]);
      assert.ok(csums.length >= 4, 'dumpe2fs printed group checksums');
      const bytes = readFileSync(img);
      const uuid = bytes.subarray(1024 + 0x68, 1024 + 0x78);
      for (const [g, want] of csums) {
        const d = bytes.subarray(2048 + g! * size, 2048 + (g! + 1) * size);
        assert.equal(gdtCsum(uuid, g!, d), want, `group ${g} (${feat})`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
