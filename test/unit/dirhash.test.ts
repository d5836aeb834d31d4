// Directory hashes against e2fsprogs' debugfs.
//
// The FIXTURE below was generated once with debugfs 1.47.0 by this file itself:
//   DIRHASH_GEN=1 node --import tsx test/unit/dirhash.test.ts
// which runs, for each seed and hash version V in 0..5, one
//   debugfs -f CMDS        (no device; CMDS holds one line per name:)
//   dx_hash -h V [-s SEED_UUID] NAME
// and records "Hash of NAME is 0xH (minor 0xM)". debugfs parses `-s` as a UUID
// and uses its 16 bytes as the 4 little-endian seed words. When debugfs is
// installed the same commands are re-run live and compared too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirHash, seedFromUuidBytes, DX_HASH_SIPHASH } from '../../src/ext2/dirhash.js';
import { UnsupportedError } from '../../src/ext2/errors.js';

const enc = (s: string) => Buffer.from(s, 'utf8');
const seq = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));

// No spaces, quotes, '#', or leading '-' (debugfs' command-line parser); the empty name is special-cased.
const NAMES: Buffer[] = [
  Buffer.alloc(0), enc('.'), enc('..'), enc('a'), enc('ab'), enc('abc'), enc('abcd'), enc('lost+found'),
  enc('hello_world.txt'), enc('x'.repeat(15)), enc('y'.repeat(16)), enc('z'.repeat(17)), enc('0123456789abcdefghijklmnopqrstu'),
  enc('0123456789abcdefghijklmnopqrstuv'), enc('0123456789abcdefghijklmnopqrstuvw'), enc('file-0042.dat'), enc('N'.repeat(64)),
  enc('Q'.repeat(100)), enc('long_'.repeat(51)), enc('café'), enc('日本語ファイル名.txt'), enc('ÿ'), Buffer.from([0xff]),
  Buffer.from([0x80]), Buffer.from([0x7f, 0x80, 0x81]), Buffer.from([0x41, 0xe9, 0x42, 0xfe]), seq(0x80, 128),
  Buffer.concat([seq(0xa0, 90), enc('mixed'), seq(0xf0, 16)]), Buffer.from(Array.from({ length: 255 }, (_, i) => 0x80 + (i % 127))),
];

const SEEDS: (string | null)[] = [null, '01020304-0506-0708-090a-0b0c0d0e0f10', 'deadbeef-0000-ffff-8000-123456789abc'];

function seedWords(uuid: string | null): Uint32Array | null {
  return uuid === null ? null : seedFromUuidBytes(Buffer.from(uuid.replace(/-/g, ''), 'hex'));
}

/** Runs debugfs for every name at one version/seed; returns [hash, minor] per name, or null without debugfs. */
function debugfsHashes(version: number, seed: string | null, dir: string): [number, number][] | null {
  const lines = NAMES.map((n) =>
    Buffer.concat([enc(`dx_hash -h ${version} ${seed ? `-s ${seed} ` : ''}`), n.length ? n : enc('""'), enc('\n')]),
  );
  const cmds = join(dir, `cmds-${version}-${seed ?? 'zero'}`);
  writeFileSync(cmds, Buffer.concat(lines));
  const r = spawnSync('debugfs', ['-f', cmds], { maxBuffer: 1 << 24 });
  if (r.error) return null;
  const out = r.stdout.toString('latin1');
  const got = [...out.matchAll(/ is 0x([0-9a-f]+) \(minor 0x([0-9a-f]+)\)$/gm)].map((m) => [parseInt(m[1]!, 16), parseInt(m[2]!, 16)] as [number, number]);
  assert.equal(got.length, NAMES.length, 'one debugfs answer per name');
  return got;
}

// FIXTURE[seedIndex][version] = "hash:minor" hex pairs, one per name in NAMES order.
const FIXTURE: string[][] = [
  [
    '2547fc5a:0 71d73e48:0 7c37aa9e:0 e74b53e2:0 da0d8cd0:0 75afd992:0 fafa23ca:0 5e2aba24:0 2c210aea:0 f7be4196:0 a027e7a0:0 c0573694:0 ca60b4f2:0 37ba6686:0 1d2cce34:0 e9f5c150:0 d24cb672:0 7c5bb5a2:0 60a9c13e:0 96ca5a2c:0 c3ebdd62:0 bbce3f1c:0 49ba183e:0 26f2c94c:0 7c1c9fae:0 65d680dc:0 2ff3f4b0:0 3a43ca22:0 aac77f78:0',
    'efcdab88:98badcfe 3df9c490:700a9a17 b074c9ae:3040ba1e d5fa7d7a:acb48187 ee5ef564:4bcbe18e d196a868:c420eb28 ad7557a8:b1da437c 591de422:6ffc56e0 57d08270:f0f8ed81 622a55a8:e0732b3c 69afdf5a:a69ae959 75de0b38:47886745 ceeda82a:d9ae7db0 6afdf492:1d6e2c76 abc239fe:358b58ae dc45f60a:ab4516a2 42134f14:4deb07c a405b12a:7383df40 97af79e0:1c933520 fb9c5e5c:573e8b8 a55593ec:2d10b71f 9e0bbdc8:4a4d9a7d 4421bc04:2974faeb ae8e789e:f88feddf 1bd876e0:a4f46b3b 80407616:dcd8db3 eb1c4d4e:a76c815b 78267544:25025f40 8129326a:fd65b166',
    '67452300:efcdab89 31fd669c:12dc5935 bc44b5be:8d0d3174 6d0ea4c0:c18922df d27d8658:b8458267 b1435ec4:3f7eaa0e 5a24112e:95442076 2dbf9e80:bfebee4f 136a32e2:bfb926aa 1bb094c0:e6741c6b a1fcec84:3d1443b3 fcfd560e:2a5fb8aa a790356c:ebec74f2 48d1e08c:6d74bdd5 b84e5404:c8a8650e ca933608:79a1e7af 995d8442:396ed7f0 9b470f3c:244be00c e72939ba:297406b8 105842ea:fb9165ca c35d8b52:b67554c6 d47a4542:5b71cf36 b7e8b4ec:98edfcfe 4c9e4a68:d1de8ff7 f69d485a:18253fff 1e683b80:fea9bf07 a7c8320a:64031a41 83c5f6d0:31cda4a7 4b9b956c:12985923',
    '2547fc5a:0 71d73e48:0 7c37aa9e:0 e74b53e2:0 da0d8cd0:0 75afd992:0 fafa23ca:0 5e2aba24:0 2c210aea:0 f7be4196:0 a027e7a0:0 c0573694:0 ca60b4f2:0 37ba6686:0 1d2cce34:0 e9f5c150:0 d24cb672:0 7c5bb5a2:0 60a9c13e:0 6dde4230:0 57f1fbe0:0 75cea31a:0 6b842a40:0 b7bcdb4c:0 4fd81bb2:0 799c92d6:0 ac3888d0:0 127e13aa:0 b597456c:0',
    'efcdab88:98badcfe 3df9c490:700a9a17 b074c9ae:3040ba1e d5fa7d7a:acb48187 ee5ef564:4bcbe18e d196a868:c420eb28 ad7557a8:b1da437c 591de422:6ffc56e0 57d08270:f0f8ed81 622a55a8:e0732b3c 69afdf5a:a69ae959 75de0b38:47886745 ceeda82a:d9ae7db0 6afdf492:1d6e2c76 abc239fe:358b58ae dc45f60a:ab4516a2 42134f14:4deb07c a405b12a:7383df40 97af79e0:1c933520 9d72aed6:f6138c6a 7981363e:66310e9a 6abd8db8:b345f68c d77d96d6:cafda2d2 6f46e5d6:8298a36e 9d0f9ff0:c3b2e8d0 edde201a:5b6544fd 434f6f3c:69f607e3 62fb5708:9c6e3fd5 2edc367c:9b044c6d',
    '67452300:efcdab89 31fd669c:12dc5935 bc44b5be:8d0d3174 6d0ea4c0:c18922df d27d8658:b8458267 b1435ec4:3f7eaa0e 5a24112e:95442076 2dbf9e80:bfebee4f 136a32e2:bfb926aa 1bb094c0:e6741c6b a1fcec84:3d1443b3 fcfd560e:2a5fb8aa a790356c:ebec74f2 48d1e08c:6d74bdd5 b84e5404:c8a8650e ca933608:79a1e7af 995d8442:396ed7f0 9b470f3c:244be00c e72939ba:297406b8 6621f032:f86699c6 ed8676c0:47c4b777 56fee94c:fa026680 c6854b30:faee7448 56476c30:931808a5 19eacee:5f732b70 8e12a70e:f014154e 1b3df220:30f4ca85 437ded52:966326f3 9bcbe30e:19377a04',
  ],
  [
    '2547fc5a:0 71d73e48:0 7c37aa9e:0 e74b53e2:0 da0d8cd0:0 75afd992:0 fafa23ca:0 5e2aba24:0 2c210aea:0 f7be4196:0 a027e7a0:0 c0573694:0 ca60b4f2:0 37ba6686:0 1d2cce34:0 e9f5c150:0 d24cb672:0 7c5bb5a2:0 60a9c13e:0 96ca5a2c:0 c3ebdd62:0 bbce3f1c:0 49ba183e:0 26f2c94c:0 7c1c9fae:0 65d680dc:0 2ff3f4b0:0 3a43ca22:0 aac77f78:0',
    '8070604:c0b0a09 f3855c2e:5c95510c ddf77af4:4b98beaa 8d08ec4c:2fbccd78 eef41876:4eb5988d f54f014a:d928c19d 33060ba6:931ba061 694c8bb4:74b39433 836a8c56:3de0ac5d 802128c:faf97db8 6f938614:4c2abf33 12878f46:a11637f9 9fff6770:ea02e139 ffdea14a:6aefd676 78a731fc:34e04f1e 66b950bc:cd9cac2f abf49af8:4b47e059 de05403a:856fba08 9e2d576e:538aeb69 eeef3446:6e3c8dd0 dfea0450:e34dae9e 39e61f9a:cf65e9fd 1cc21f78:521284ce 6ef4b04c:e3097bc3 3b47514e:adc1f124 ffd634a:3f033f88 4f9ff400:8cfae8c1 b162544a:7c87e5a3 835df86a:9ffc4e61',
    '4030200:8070605 54eb197a:814c056d 38586ab8:7d77c3b2 f53528f0:ea54fb01 9c529152:4cff116 e5b24162:9ac5292e d565bfc8:fd8156b1 3e95424c:c33595ee 854a622:1f333f22 6e563772:ef883696 3bc56daa:be196dc3 e5e92b9c:c7f49fbb 32138e7a:f42f5fd1 bac53002:71bdaafa 2be81302:5ec16724 6c8ca844:7c8fb8f9 25b960b2:9200ab09 59f389f8:e27fcfd c52e1034:1916dd65 3037ce66:17636590 c31a6af8:f1df270b 5e584776:35c202e2 78bc7534:4d6726b 861f70ee:4ec4da06 27c3c8c6:2224e09a e759a25c:d20a7058 e1cbed8e:7a2de21b 88bcffb8:e6babe42 f51c17e6:50930e31',
    '2547fc5a:0 71d73e48:0 7c37aa9e:0 e74b53e2:0 da0d8cd0:0 75afd992:0 fafa23ca:0 5e2aba24:0 2c210aea:0 f7be4196:0 a027e7a0:0 c0573694:0 ca60b4f2:0 37ba6686:0 1d2cce34:0 e9f5c150:0 d24cb672:0 7c5bb5a2:0 60a9c13e:0 6dde4230:0 57f1fbe0:0 75cea31a:0 6b842a40:0 b7bcdb4c:0 4fd81bb2:0 799c92d6:0 ac3888d0:0 127e13aa:0 b597456c:0',
    '8070604:c0b0a09 f3855c2e:5c95510c ddf77af4:4b98beaa 8d08ec4c:2fbccd78 eef41876:4eb5988d f54f014a:d928c19d 33060ba6:931ba061 694c8bb4:74b39433 836a8c56:3de0ac5d 802128c:faf97db8 6f938614:4c2abf33 12878f46:a11637f9 9fff6770:ea02e139 ffdea14a:6aefd676 78a731fc:34e04f1e 66b950bc:cd9cac2f abf49af8:4b47e059 de05403a:856fba08 9e2d576e:538aeb69 aa032ce8:7e4419fc fef18b86:350ab5b7 4e891dee:ed2f986d c63a91fc:539c4716 f5dcbcf6:9f142af8 b5b70198:ed28cb0d bb55e6d6:143da6fc 8795e2ce:37803291 8d0721e6:b9d2d0d2 f6638612:fca07d57',
    '4030200:8070605 54eb197a:814c056d 38586ab8:7d77c3b2 f53528f0:ea54fb01 9c529152:4cff116 e5b24162:9ac5292e d565bfc8:fd8156b1 3e95424c:c33595ee 854a622:1f333f22 6e563772:ef883696 3bc56daa:be196dc3 e5e92b9c:c7f49fbb 32138e7a:f42f5fd1 bac53002:71bdaafa 2be81302:5ec16724 6c8ca844:7c8fb8f9 25b960b2:9200ab09 59f389f8:e27fcfd c52e1034:1916dd65 e0a9758c:bc4f814f 8de21dfc:6c38b33a 37546eaa:24686033 f8da2e10:79c768f4 926638be:7b2a5743 f66f645e:b6b5e618 c39b2854:f5841bfd b0b0a64c:eb18bdf0 2b9b847c:ce91346 ceaee992:6323073b',
  ],
  [
    '2547fc5a:0 71d73e48:0 7c37aa9e:0 e74b53e2:0 da0d8cd0:0 75afd992:0 fafa23ca:0 5e2aba24:0 2c210aea:0 f7be4196:0 a027e7a0:0 c0573694:0 ca60b4f2:0 37ba6686:0 1d2cce34:0 e9f5c150:0 d24cb672:0 7c5bb5a2:0 60a9c13e:0 96ca5a2c:0 c3ebdd62:0 bbce3f1c:0 49ba183e:0 26f2c94c:0 7c1c9fae:0 65d680dc:0 2ff3f4b0:0 3a43ca22:0 aac77f78:0',
    'ffff0000:34120080 19ecd274:c07e52aa 35d669d0:18dd6b12 9a915458:6c9ac484 e2f705d8:b7db45cc 75035bfa:2f706233 46316c58:5ca8c1f5 6e75ad60:60eec532 26847cc:388b1a08 7bd3739e:3d93d69d 6c2f5ab4:1af08a38 1e9c0378:61f2a4e2 da0ea22a:456e4c81 8c30da3c:2b17ffe9 fea887b4:12d68185 7651825a:41d2d358 15ab064c:f1c05339 3c762fe8:fe046621 6f6fa832:3f611df7 f22b13ca:8f207078 dec3da5a:be63c7 b2b136a6:adf85f0a ed61ab5a:60ff1c34 66a0572a:76f4552 7b43fb8:7469527c 9ec7a20c:bf653b18 b852180e:611b58e c5d511fa:ed8819e4 298ea8dc:e7d3117c',
    'efbeadde:ffff0000 6b5d3f5c:38d459 a45d3106:cb74688f 3f91c12c:1f32c624 b0444716:78dafbee 12ec8d94:f7a1da a8a32500:76ecd856 5f44909e:6e3bcbdb 4354a9ae:aee07175 16ee8214:9c747c92 55569a1c:8aba547b 357b2836:2c1b932b dabf52bc:779a823a 68f339d8:74641f93 88e93c9a:8408fdae 795bbc40:8879c832 d4d5e31c:bcf71a9c 8177731e:a9b4f161 30e054de:89fe7ed9 5c74829a:64ec243c 82225bb4:6ab59e63 c957434a:ebaa4062 85183adc:496f5ec0 ee501bfa:97f0c733 2d297f82:23838662 cb518dcc:f4963a8 ef481884:9cc29131 7c2bce34:4762d5be e56fb416:a92bd952',
    '2547fc5a:0 71d73e48:0 7c37aa9e:0 e74b53e2:0 da0d8cd0:0 75afd992:0 fafa23ca:0 5e2aba24:0 2c210aea:0 f7be4196:0 a027e7a0:0 c0573694:0 ca60b4f2:0 37ba6686:0 1d2cce34:0 e9f5c150:0 d24cb672:0 7c5bb5a2:0 60a9c13e:0 6dde4230:0 57f1fbe0:0 75cea31a:0 6b842a40:0 b7bcdb4c:0 4fd81bb2:0 799c92d6:0 ac3888d0:0 127e13aa:0 b597456c:0',
    'ffff0000:34120080 19ecd274:c07e52aa 35d669d0:18dd6b12 9a915458:6c9ac484 e2f705d8:b7db45cc 75035bfa:2f706233 46316c58:5ca8c1f5 6e75ad60:60eec532 26847cc:388b1a08 7bd3739e:3d93d69d 6c2f5ab4:1af08a38 1e9c0378:61f2a4e2 da0ea22a:456e4c81 8c30da3c:2b17ffe9 fea887b4:12d68185 7651825a:41d2d358 15ab064c:f1c05339 3c762fe8:fe046621 6f6fa832:3f611df7 8fb7ecea:8de6692c b8afb656:a1e32773 f8c90358:44c2e445 5d479e8e:424fa3c3 9dbd2a0c:2e01938b 390734c8:ed149539 6e81ae1a:b331ec04 af89dc88:483de332 5cef130e:61ce83c7 e3152f20:3fc933a8',
    'efbeadde:ffff0000 6b5d3f5c:38d459 a45d3106:cb74688f 3f91c12c:1f32c624 b0444716:78dafbee 12ec8d94:f7a1da a8a32500:76ecd856 5f44909e:6e3bcbdb 4354a9ae:aee07175 16ee8214:9c747c92 55569a1c:8aba547b 357b2836:2c1b932b dabf52bc:779a823a 68f339d8:74641f93 88e93c9a:8408fdae 795bbc40:8879c832 d4d5e31c:bcf71a9c 8177731e:a9b4f161 30e054de:89fe7ed9 deaf40e0:b908261e cad9eb0:1559951a c38ec3e0:ad800641 1e7f6306:d66db3e9 3b2b4922:221d6023 3a603882:41856c7d ef6d03f8:26a98eeb bb289acc:2b436496 7bd5cc5c:813351ac e9c897d0:914806c8',
  ],
];

function ours(version: number, seed: string | null): [number, number][] {
  const s = seedWords(seed);
  return NAMES.map((n) => {
    const h = dirHash(n, version, s);
    return [h.hash, h.minorHash];
  });
}

const fmt = (pairs: [number, number][]) => pairs.map(([h, m]) => `${h.toString(16)}:${m.toString(16)}`).join(' ');

if (process.env.DIRHASH_GEN) {
  const dir = mkdtempSync(join(tmpdir(), 'dirhash-'));
  const fixture = SEEDS.map((s) => [0, 1, 2, 3, 4, 5].map((v) => fmt(debugfsHashes(v, s, dir)!)));
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(fixture, null, 1));
} else {
  test('dirHash matches the pinned debugfs vectors (all versions, zero and non-zero seeds)', () => {
    SEEDS.forEach((seed, si) => {
      for (let v = 0; v <= 5; v++) {
        const want = FIXTURE[si]![v]!.split(' ');
        const got = fmt(ours(v, seed)).split(' ');
        NAMES.forEach((n, i) => assert.equal(got[i], want[i], `version ${v} seed ${seed} name ${n.toString('hex')}`));
      }
    });
  });

  test('dirHash matches debugfs live', (t) => {
    if (spawnSync('debugfs', ['-V']).error) return t.skip('debugfs missing');
    const dir = mkdtempSync(join(tmpdir(), 'dirhash-'));
    try {
      SEEDS.forEach((seed) => {
        for (let v = 0; v <= 5; v++) assert.equal(fmt(ours(v, seed)), fmt(debugfsHashes(v, seed, dir)!), `version ${v} seed ${seed}`);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('dirHash: signed and unsigned variants agree on ASCII and differ on high bytes', () => {
    for (const [s, u] of [[0, 3], [1, 4], [2, 5]]) {
      assert.deepEqual(dirHash(enc('plain-ascii'), s!, null), dirHash(enc('plain-ascii'), u!, null));
      assert.notDeepEqual(dirHash(enc('café'), s!, null), dirHash(enc('café'), u!, null));
    }
  });

  test('dirHash: all-zero seed means the default seed; bit 0 is always clear', () => {
    assert.deepEqual(dirHash(enc('abc'), 1, [0, 0, 0, 0]), dirHash(enc('abc'), 1, null));
    assert.deepEqual(dirHash(enc('abc'), 1, Uint32Array.of(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476)), dirHash(enc('abc'), 1, null));
    for (let i = 0; i < 200; i++) for (let v = 0; v <= 5; v++) assert.equal(dirHash(enc(`n${i}`), v, null).hash & 1, 0);
  });

  test('dirHash: siphash and unknown versions are unsupported', () => {
    assert.throws(() => dirHash(enc('a'), DX_HASH_SIPHASH, null), UnsupportedError);
    assert.throws(() => dirHash(enc('a'), 7, null), UnsupportedError);
  });
}
