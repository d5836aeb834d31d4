// crc16 (ANSI/IBM polynomial 0x8005, reflected 0xA001) as used for the
// block group descriptor checksum when the filesystem has gdt_csum
// (uninit_bg) but not metadata_csum.
//
// Spec: Documentation/filesystems/ext4/group_descr.rst (bg_checksum:
// "crc16(sb_uuid+group_num+bg_desc)") and checksums.rst. Same semantics as
// e2fsprogs `ext2fs_crc16(crc, buf, len)` and the kernel's `crc16()`: a raw
// register update with no inversion; the descriptor checksum starts from ~0:
//   crc = crc16(0xffff, s_uuid); crc = crc16(crc, le32 group);
//   crc = crc16(crc, desc[0 .. 0x1E]); crc = crc16(crc, desc[0x20 .. descSize])

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[b] = c;
  }
  return t;
})();

/** Raw crc16 update; `crc` is taken modulo 2^16 (so ~0 works as the seed). */
export function crc16(crc: number, data: Uint8Array): number {
  let c = crc & 0xffff;
  for (let i = 0; i < data.length; i++) c = (c >>> 8) ^ TABLE[(c ^ data[i]!) & 0xff]!;
  return c;
}
