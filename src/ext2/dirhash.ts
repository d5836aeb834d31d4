// Directory entry name hashes for hash-indexed (htree) directories.
//
// Spec: Documentation/filesystems/ext4/directory.rst ("Hash Tree Directories",
// dx_root.info.hash_version, s_def_hash_version, s_hash_seed) and the kernel's
// fs/ext4/hash.c (ext4fs_dirhash), e2fsprogs lib/ext2fs/dirhash.c.
//
// Versions: 0 legacy, 1 half_md4, 2 tea, and 3/4/5 their "unsigned" variants.
// The signed variants treat name bytes as `signed char` (what x86 compilers
// did), so bytes >= 0x80 hash differently; a filesystem records which one it
// uses with EXT2_FLAGS_UNSIGNED_HASH and the caller maps that to 3..5.
// SipHash (6, casefold + encryption) is not supported.
//
// Seed: 4 u32 words (s_hash_seed read as little-endian u32s); all zero or
// null means the MD4 initial values. Results: `hash` has bit 0 cleared and
// never equals EXT4_HTREE_EOF_32BIT << 1; `minorHash` is 0 for legacy.
import { UnsupportedError } from './errors.js';

export const DX_HASH_LEGACY = 0;
export const DX_HASH_HALF_MD4 = 1;
export const DX_HASH_TEA = 2;
export const DX_HASH_LEGACY_UNSIGNED = 3;
export const DX_HASH_HALF_MD4_UNSIGNED = 4;
export const DX_HASH_TEA_UNSIGNED = 5;
export const DX_HASH_SIPHASH = 6;

/** EXT4_HTREE_EOF_32BIT: the 32-bit "end of directory" readdir cookie. */
export const EXT4_HTREE_EOF_32BIT = 0x7fffffff;

export interface DirHash {
  hash: number;
  minorHash: number;
}

const DEFAULT_SEED = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476] as const;

/** Legacy hash (dx_hack_hash); `signed` selects signed-char byte values. */
function legacyHash(name: Uint8Array, signed: boolean): number {
  let hash0 = 0x12a3fe2d;
  let hash1 = 0x37abe8f9;
  for (let i = 0; i < name.length; i++) {
    const b = name[i]!;
    const c = signed && b >= 0x80 ? b - 256 : b;
    // c * 7152373 stays within int32 for c in [-128, 255].
    let hash = (hash1 + ((hash0 ^ (c * 7152373)) >>> 0)) >>> 0;
    if (hash & 0x80000000) hash = (hash - 0x7fffffff) >>> 0;
    hash1 = hash0;
    hash0 = hash;
  }
  return (hash0 << 1) >>> 0;
}

/**
 * str2hashbuf: pack up to num*4 bytes of msg into `num` u32 words, big-endian
 * within a word, padded with a word made of the (whole remaining) length.
 */
function str2hashbuf(msg: Uint8Array, off: number, len: number, out: Uint32Array, num: number, signed: boolean): void {
  let pad = (len | (len << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  let w = 0;
  if (len > num * 4) len = num * 4;
  for (let i = 0; i < len; i++) {
    const b = msg[off + i]!;
    const c = signed && b >= 0x80 ? b - 256 : b;
    val = (c + ((val << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[w++] = val;
      val = pad;
      num--;
    }
  }
  if (--num >= 0) out[w++] = val;
  while (--num >= 0) out[w++] = pad;
}

function rol(x: number, s: number): number {
  return ((x << s) | (x >>> (32 - s))) >>> 0;
}

const K2 = 0x5a827999; // 013240474631
const K3 = 0x6ed9eba1; // 015666365641

/** half_md4_transform: a cut-down MD4 over 8 input words, added into buf. */
function halfMd4(buf: Uint32Array, x: Uint32Array): void {
  let a = buf[0]!, b = buf[1]!, c = buf[2]!, d = buf[3]!;
  const F = (x: number, y: number, z: number) => z ^ (x & (y ^ z));
  const G = (x: number, y: number, z: number) => ((x & y) + ((x ^ y) & z)) >>> 0;
  const H = (x: number, y: number, z: number) => x ^ y ^ z;
  // Round 1
  a = rol((a + F(b, c, d) + x[0]!) >>> 0, 3);
  d = rol((d + F(a, b, c) + x[1]!) >>> 0, 7);
  c = rol((c + F(d, a, b) + x[2]!) >>> 0, 11);
  b = rol((b + F(c, d, a) + x[3]!) >>> 0, 19);
  a = rol((a + F(b, c, d) + x[4]!) >>> 0, 3);
  d = rol((d + F(a, b, c) + x[5]!) >>> 0, 7);
  c = rol((c + F(d, a, b) + x[6]!) >>> 0, 11);
  b = rol((b + F(c, d, a) + x[7]!) >>> 0, 19);
  // Round 2
  a = rol((a + G(b, c, d) + x[1]! + K2) >>> 0, 3);
  d = rol((d + G(a, b, c) + x[3]! + K2) >>> 0, 5);
  c = rol((c + G(d, a, b) + x[5]! + K2) >>> 0, 9);
  b = rol((b + G(c, d, a) + x[7]! + K2) >>> 0, 13);
  a = rol((a + G(b, c, d) + x[0]! + K2) >>> 0, 3);
  d = rol((d + G(a, b, c) + x[2]! + K2) >>> 0, 5);
  c = rol((c + G(d, a, b) + x[4]! + K2) >>> 0, 9);
  b = rol((b + G(c, d, a) + x[6]! + K2) >>> 0, 13);
  // Round 3
  a = rol((a + H(b, c, d) + x[3]! + K3) >>> 0, 3);
  d = rol((d + H(a, b, c) + x[7]! + K3) >>> 0, 9);
  c = rol((c + H(d, a, b) + x[2]! + K3) >>> 0, 11);
  b = rol((b + H(c, d, a) + x[6]! + K3) >>> 0, 15);
  a = rol((a + H(b, c, d) + x[1]! + K3) >>> 0, 3);
  d = rol((d + H(a, b, c) + x[5]! + K3) >>> 0, 9);
  c = rol((c + H(d, a, b) + x[0]! + K3) >>> 0, 11);
  b = rol((b + H(c, d, a) + x[4]! + K3) >>> 0, 15);
  buf[0] = buf[0]! + a;
  buf[1] = buf[1]! + b;
  buf[2] = buf[2]! + c;
  buf[3] = buf[3]! + d;
}

const DELTA = 0x9e3779b9;

/** TEA_transform: 16 rounds of TEA keyed by 4 input words, added into buf[0..1]. */
function tea(buf: Uint32Array, x: Uint32Array): void {
  let sum = 0;
  let b0 = buf[0]!, b1 = buf[1]!;
  const a = x[0]!, b = x[1]!, c = x[2]!, d = x[3]!;
  for (let n = 0; n < 16; n++) {
    sum = (sum + DELTA) >>> 0;
    b0 = (b0 + ((((b1 << 4) + a) ^ (b1 + sum) ^ ((b1 >>> 5) + b)) >>> 0)) >>> 0;
    b1 = (b1 + ((((b0 << 4) + c) ^ (b0 + sum) ^ ((b0 >>> 5) + d)) >>> 0)) >>> 0;
  }
  buf[0] = buf[0]! + b0;
  buf[1] = buf[1]! + b1;
}

// Scratch buffers: the hash is synchronous and re-entrancy free.
const BUF = new Uint32Array(4);
const IN = new Uint32Array(8);

/**
 * ext4fs_dirhash: hash of a directory entry name.
 * @param version dx hash version 0..5 (6 = siphash throws UnsupportedError)
 * @param seed s_hash_seed as 4 u32 words, or null for the default seed
 */
export function dirHash(name: Uint8Array, version: number, seed: Uint32Array | readonly number[] | null): DirHash {
  BUF[0] = DEFAULT_SEED[0];
  BUF[1] = DEFAULT_SEED[1];
  BUF[2] = DEFAULT_SEED[2];
  BUF[3] = DEFAULT_SEED[3];
  if (seed && (seed[0] || seed[1] || seed[2] || seed[3])) {
    for (let i = 0; i < 4; i++) BUF[i] = seed[i]! >>> 0;
  }
  let hash: number;
  let minorHash = 0;
  switch (version) {
    case DX_HASH_LEGACY:
    case DX_HASH_LEGACY_UNSIGNED:
      hash = legacyHash(name, version === DX_HASH_LEGACY);
      break;
    case DX_HASH_HALF_MD4:
    case DX_HASH_HALF_MD4_UNSIGNED: {
      const signed = version === DX_HASH_HALF_MD4;
      for (let off = 0, len = name.length; len > 0; len -= 32, off += 32) {
        str2hashbuf(name, off, len, IN, 8, signed);
        halfMd4(BUF, IN);
      }
      hash = BUF[1]!;
      minorHash = BUF[2]!;
      break;
    }
    case DX_HASH_TEA:
    case DX_HASH_TEA_UNSIGNED: {
      const signed = version === DX_HASH_TEA;
      for (let off = 0, len = name.length; len > 0; len -= 16, off += 16) {
        str2hashbuf(name, off, len, IN, 4, signed);
        tea(BUF, IN);
      }
      hash = BUF[0]!;
      minorHash = BUF[1]!;
      break;
    }
    case DX_HASH_SIPHASH:
      throw new UnsupportedError('directory hash version 6 (siphash, casefolded encrypted directories) is not supported');
    default:
      throw new UnsupportedError(`unknown directory hash version ${version}`);
  }
  hash = (hash & ~1) >>> 0;
  if (hash === EXT4_HTREE_EOF_32BIT * 2) hash = (EXT4_HTREE_EOF_32BIT - 1) * 2;
  return { hash, minorHash };
}

/** Parse a seed the way `debugfs dx_hash -s` does: a UUID string whose 16 bytes are the 4 LE words. */
export function seedFromUuidBytes(bytes: Uint8Array): Uint32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return Uint32Array.of(dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true));
}
