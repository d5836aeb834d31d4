// Feature flags: Documentation/filesystems/ext4/super.rst (s_feature_*).
// What we understand decides how an image may be opened, as the kernel does:
// an unknown incompat feature refuses the open, an unknown ro_compat feature
// forces read-only.

export const COMPAT = {
  dir_prealloc: 0x1,
  imagic_inodes: 0x2,
  has_journal: 0x4,
  ext_attr: 0x8,
  resize_inode: 0x10,
  dir_index: 0x20,
  lazy_bg: 0x40,
  exclude_bitmap: 0x100,
  sparse_super2: 0x200,
  fast_commit: 0x400,
  stable_inodes: 0x800,
  orphan_file: 0x1000,
} as const;

export const INCOMPAT = {
  compression: 0x1,
  filetype: 0x2,
  needs_recovery: 0x4,
  journal_dev: 0x8,
  meta_bg: 0x10,
  extent: 0x40,
  '64bit': 0x80,
  mmp: 0x100,
  flex_bg: 0x200,
  ea_inode: 0x400,
  dirdata: 0x1000,
  metadata_csum_seed: 0x2000,
  large_dir: 0x4000,
  inline_data: 0x8000,
  encrypt: 0x10000,
  casefold: 0x20000,
} as const;

export const RO_COMPAT = {
  sparse_super: 0x1,
  large_file: 0x2,
  btree_dir: 0x4,
  huge_file: 0x8,
  gdt_csum: 0x10,
  dir_nlink: 0x20,
  extra_isize: 0x40,
  has_snapshot: 0x80,
  quota: 0x100,
  bigalloc: 0x200,
  metadata_csum: 0x400,
  replica: 0x800,
  read_only: 0x1000,
  project: 0x2000,
  shared_blocks: 0x4000,
  verity: 0x8000,
  orphan_present: 0x10000,
} as const;

/** Incompat features the reader understands (anything else refuses the open). */
export const INCOMPAT_SUPPORTED =
  INCOMPAT.filetype | INCOMPAT.needs_recovery | INCOMPAT.meta_bg | INCOMPAT.extent | INCOMPAT['64bit'] |
  INCOMPAT.mmp | INCOMPAT.flex_bg | INCOMPAT.ea_inode | INCOMPAT.metadata_csum_seed | INCOMPAT.large_dir |
  INCOMPAT.inline_data;

/** Ro-compat features we can write with (anything else forces read-only). */
export const RO_COMPAT_WRITABLE =
  RO_COMPAT.sparse_super | RO_COMPAT.large_file | RO_COMPAT.huge_file | RO_COMPAT.gdt_csum |
  RO_COMPAT.dir_nlink | RO_COMPAT.extra_isize | RO_COMPAT.metadata_csum | RO_COMPAT.orphan_present;

/** Ro-compat features the reader understands well enough to read (others: still readable, warned). */
export const RO_COMPAT_READABLE =
  RO_COMPAT_WRITABLE | RO_COMPAT.quota | RO_COMPAT.project | RO_COMPAT.read_only | RO_COMPAT.verity |
  RO_COMPAT.btree_dir | RO_COMPAT.bigalloc;

/** Where dumpe2fs (lib/e2p/feature.c) prints another name than the kernel's. */
const DISPLAY_NAME: Record<string, string> = { gdt_csum: 'uninit_bg', read_only: 'read-only', exclude_bitmap: 'snapshot_bitmap' };

export function featureNames(mask: number, table: Record<string, number>): string[] {
  const out: string[] = [];
  let rest = mask >>> 0;
  for (const [name, bit] of Object.entries(table)) {
    if (rest & bit) { out.push(DISPLAY_NAME[name] ?? name); rest = (rest & ~bit) >>> 0; }
  }
  for (let b = 0; b < 32; b++) if (rest & (1 << b)) out.push(`FEATURE_${b}`);
  return out;
}

export interface FeatureSet {
  compat: number;
  incompat: number;
  roCompat: number;
}

/** Names in dumpe2fs order: compat, incompat, ro_compat. */
export function allFeatureNames(f: FeatureSet): string[] {
  return [...featureNames(f.compat, COMPAT), ...featureNames(f.incompat, INCOMPAT), ...featureNames(f.roCompat, RO_COMPAT)];
}
