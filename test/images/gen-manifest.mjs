#!/usr/bin/env node
// gen-manifest.mjs: called by make-images.sh. Reads the per-image meta records
// (tab-separated) the script wrote, asks dumpe2fs/debugfs about each built
// image, and writes manifest.json and MANIFEST.md. Images not rebuilt in this
// run keep their previous manifest entries.
// Usage: gen-manifest.mjs META-DIR IMG-DIR OUT-DIR NAME...
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [metaDir, imgDir, outDir, ...names] = process.argv.slice(2);

function run(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

function readMeta(name) {
  const m = { objects: {}, facts: {}, post: [], notes: [], fsckFixes: [] };
  for (const line of readFileSync(join(metaDir, `${name}.tsv`), 'utf8').split('\n')) {
    if (!line) continue;
    const [kind, ...f] = line.split('\t');
    switch (kind) {
      case 'object': m.objects[f[0]] = f[1]; break;
      case 'fact': (m.facts[f[0]] ??= {})[f[1]] = JSON.parse(f[2]); break;
      case 'post': m.post.push(f[0]); break;
      case 'note': m.notes.push(f[0]); break;
      case 'fsckfix': m.fsckFixes.push(f[0]); break;
      case 'mount': m.mount = { mountable: f[0] === 'yes', options: f[1], note: f[2] ?? '' }; break;
      default: m[kind] = f[0];
    }
  }
  return m;
}

function superblock(img) {
  const out = run('dumpe2fs', ['-h', img]);
  const get = (key) => {
    const m = out.match(new RegExp(`^${key}:\\s*(.*)$`, 'm'));
    return m ? m[1].trim() : undefined;
  };
  return {
    features: (get('Filesystem features') ?? '').split(/\s+/).filter(Boolean),
    blockSize: Number(get('Block size')),
    inodeSize: Number(get('Inode size')),
    blocksCount: Number(get('Block count')),
    inodesCount: Number(get('Inode count')),
    freeBlocks: Number(get('Free blocks')),
    freeInodes: Number(get('Free inodes')),
    firstDataBlock: Number(get('First block')),
    revision: get('Filesystem revision #'),
    journalSize: get('Journal size') ?? null,
    label: get('Filesystem volume name'),
    uuid: get('Filesystem UUID'),
    hashSeed: get('Directory Hash Seed') ?? null,
    defaultHash: get('Default directory hash') ?? null,
  };
}

const TYPES = {
  regular: 'file', directory: 'directory', symlink: 'symlink', FIFO: 'fifo',
  socket: 'socket', 'character special': 'chardev', 'block special': 'blockdev',
};

function decodeTime(lo, extra) {
  let sec = lo | 0; // signed 32
  let ns = 0;
  if (extra !== undefined) {
    sec += (extra & 3) * 2 ** 32;
    ns = extra >>> 2;
  }
  return { sec, ns };
}

// stat every path with one debugfs run; debugfs -f echoes "debugfs: CMD"
function statPaths(img, paths) {
  const cmds = paths.map((p) => `stat "${p}"`).join('\n') + '\n';
  const cmdFile = join(imgDir, '.stat-cmds');
  writeFileSync(cmdFile, cmds);
  const out = run('debugfs', ['-f', cmdFile, img]);
  const chunks = out.split(/^debugfs: stat .*$/m).slice(1);
  if (chunks.length !== paths.length) throw new Error(`debugfs stat: ${chunks.length} answers for ${paths.length} paths`);
  const res = {};
  paths.forEach((p, i) => {
    const t = chunks[i];
    const m = t.match(/Inode:\s+(\d+)\s+Type:\s+(.+?)\s+Mode:\s+(\d+)\s+Flags:\s+(0x[0-9a-f]+)/);
    if (!m) throw new Error(`debugfs stat ${p}: cannot parse:\n${t}`);
    const num = (re) => { const x = t.match(re); return x ? Number(x[1]) : undefined; };
    const time = (name) => {
      const x = t.match(new RegExp(`^\\s*${name}: 0x([0-9a-f]+)(?::([0-9a-f]+))?`, 'm'));
      return x ? decodeTime(parseInt(x[1], 16), x[2] === undefined ? undefined : parseInt(x[2], 16)) : undefined;
    };
    const fast = t.match(/Fast link dest: "(.*)"/);
    res[p] = {
      ino: Number(m[1]),
      type: TYPES[m[2]] ?? m[2],
      mode: m[3].padStart(4, '0'),
      flags: m[4],
      uid: num(/User:\s+(\d+)/),
      gid: num(/Group:\s+(\d+)/),
      size: num(/Size:\s+(\d+)/),
      links: num(/Links:\s+(\d+)/),
      blockcount: num(/Blockcount:\s+(\d+)/),
      fileAcl: num(/File ACL:\s+(\d+)/),
      mtime: time('mtime'),
      ...(fast ? { fastSymlink: true } : {}),
      ...(t.includes('Size of inline data') ? { inlineDataSize: num(/Size of inline data:\s+(\d+)/) } : {}),
    };
    if (res[p].type === 'symlink' && !fast) res[p].fastSymlink = false;
  });
  return res;
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

const manifestPath = join(outDir, 'manifest.json');
const old = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : { images: [] };
const byName = new Map(old.images.map((e) => [e.name, e]));
const version = run('sh', ['-c', 'mke2fs -V 2>&1']).split('\n')[0];

if (names.length === 0) throw new Error("gen-manifest: no images were built");
for (const name of names) {
  const m = readMeta(name);
  const img = join(imgDir, m.image);
  const sb = superblock(img);
  const paths = [...new Set([...Object.values(m.objects), ...Object.keys(m.facts)])].sort();
  const files = statPaths(img, paths);
  for (const [p, f] of Object.entries(m.facts)) Object.assign(files[p], f);
  const notes = [...m.notes];
  if (files['/xattr/inode-small'] && sb.inodeSize > 128 && files['/xattr/inode-small'].fileAcl !== 0) {
    notes.push('unexpected: /xattr/inode-small has an xattr block');
  }
  if (files['/xattr/block-big'] && files['/xattr/block-big'].fileAcl === 0) {
    notes.push('unexpected: /xattr/block-big has no xattr block');
  }
  byName.set(name, {
    name,
    image: m.image,
    file: `${m.image}.gz`,
    description: m.describe,
    fsType: m.fstype,
    mkfs: m.mkfs,
    postprocess: m.post,
    fsckFixes: m.fsckFixes,
    ...sb,
    sizeBytes: statSync(img).size,
    gzBytes: statSync(join(outDir, `${m.image}.gz`)).size,
    sha256: sha256(img),
    kernelMountable: m.mount.mountable,
    kernelMountOptions: m.mount.options,
    kernelNote: m.mount.note.trim(),
    objects: m.objects,
    files,
    notes,
  });
}

const order = ['ext2-1k', 'ext3', 'ext4', 'ext4-1k', 'ext4-64k', 'ext4-inline', 'ext4-bigdir', 'ext4-deep-extents', 'ext4-xattr', 'demo'];
const images = [...byName.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
const manifest = {
  comment: 'Generated by test/images/make-images.sh (gen-manifest.mjs). Do not edit by hand.',
  e2fsprogs: version.trim(),
  timestampT0: 1704067200,
  stampFormat:
    'files with a "stamp" fact: each written block b (of "unit" bytes) holds the line "<path> block <b>\\n" repeated and cut at unit bytes; unwritten ranges are holes (zeros). "blocks" lists START:COUNT[:STEP] in units.',
  timeRules: 'mtime and atime come from the staging tree (atime = mtime); ctime = crtime = timestampT0 for every inode.',
  mke2fsFindings: [
    'mke2fs -d (1.47.0) drops nanoseconds and copies the staging ctime; a debugfs pass (sif) sets all four times.',
    'mke2fs -d never writes all-zero blocks: they become holes, and fallocated (unwritten) ranges become holes too; unwritten extents are made afterwards with debugfs fallocate.',
    'mke2fs -d with -O ea_inode leaves i_blocks of the owning inode short (the kernel charges the EA inode blocks to it); e2fsck -fy fixes it.',
    'mke2fs -d does not index directories; e2fsck -fyD builds the htrees (ext3, ext4, ext4-inline, ext4-bigdir, ext4-64k; ext4-1k is left linear).',
    'e2fsck honours E2FSCK_TIME, not E2FSPROGS_FAKE_TIME, for s_wtime/s_lastcheck.',
    'Large xattr sets must fit one block: 1 KiB-block images get a 700-byte big value and 20 "many" attributes instead of 2000 bytes and 40.',
    'mke2fs -b 65536 warns that 64 KiB blocks are not usable on this system but makes the image; the kernel refuses it ("bad block size 65536").',
  ],
  images,
};
writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');

// MANIFEST.md
const md = [];
md.push('# Test images', '');
md.push('Generated by `test/images/make-images.sh` (do not edit; rerun the script). ' +
  `Made with ${manifest.e2fsprogs}. Each image is committed as \`NAME.gz\`; ` +
  '`test/helpers/images.ts` decompresses them. `manifest.json` has the same data plus per-file facts ' +
  '(inode, mode, owner, size, links, mtime, xattrs, symlink targets, stamped-data layout) taken from debugfs.', '');
md.push(`Stamped data: ${manifest.stampFormat}`, '');
md.push(`Timestamps: ${manifest.timeRules} T0 = 2024-01-01T00:00:00Z.`, '');
md.push('What this mke2fs did or could not do:', '', ...manifest.mke2fsFindings.map((f) => `- ${f}`), '');
md.push('| image | type | block | inode | features | size | gz | kernel mount |', '|---|---|---|---|---|---|---|---|');
for (const e of images) {
  md.push(`| ${e.image} | ${e.fsType} | ${e.blockSize} | ${e.inodeSize} | ${e.features.join(' ')} | ${(e.sizeBytes / 1048576).toFixed(0)} MiB | ${(e.gzBytes / 1024).toFixed(0)} KiB | ${e.kernelMountable ? `yes (-o ${e.kernelMountOptions})` : 'no'} |`);
}
md.push('');
for (const e of images) {
  md.push(`## ${e.image}`, '', e.description, '');
  md.push(`- mkfs: \`${e.mkfs}\``);
  for (const p of e.postprocess) md.push(`- then: \`${p}\``);
  for (const f of e.fsckFixes) md.push(`- e2fsck fixed: ${f}`);
  md.push(`- blocks: ${e.blocksCount} x ${e.blockSize}, inodes: ${e.inodesCount} x ${e.inodeSize}, journal: ${e.journalSize ?? 'none'}`);
  md.push(`- UUID ${e.uuid}, hash seed ${e.hashSeed}`);
  md.push(`- sha256 (uncompressed): \`${e.sha256}\``);
  md.push(`- kernel: ${e.kernelMountable ? `mounts with \`-o loop,${e.kernelMountOptions}\`` : 'cannot mount'}${e.kernelNote ? `; ${e.kernelNote}` : ''}`);
  for (const n of e.notes) md.push(`- note: ${n}`);
  md.push('', '| role | path | facts |', '|---|---|---|');
  for (const [role, p] of Object.entries(e.objects)) {
    const f = e.files[p];
    const bits = [`${f.type}`, `mode ${f.mode}`, `size ${f.size}`, `links ${f.links}`];
    if (f.uid || f.gid) bits.push(`uid ${f.uid} gid ${f.gid}`);
    if (f.target !== undefined) bits.push(`-> ${f.target.length > 40 ? f.target.slice(0, 37) + '...' : f.target} (${f.fastSymlink ? 'fast' : 'slow'}, ${f.target.length} B)`);
    if (f.rdev) bits.push(`rdev ${f.rdev.major}:${f.rdev.minor}`);
    if (f.extent_depth !== undefined) bits.push(`extent depth ${f.extent_depth}`);
    if (f.htree_indirect_levels !== undefined) bits.push(`htree indirect levels ${f.htree_indirect_levels}, ${f.entries} entries`);
    if (f.inlineDataSize !== undefined) bits.push(`inline (capacity ${f.inlineDataSize} B)`);
    if (f.unwritten_blocks) bits.push(`unwritten ${f.unwritten_blocks}`);
    const xattrs = Object.keys(f).filter((k) => k.startsWith('xattr:'));
    if (xattrs.length) bits.push(`${xattrs.length} xattrs${f.fileAcl ? ` (block ${f.fileAcl})` : ' (in inode)'}`);
    if (f.acl) bits.push(`ACL ${f.acl}`);
    if (f.mtime && role.startsWith('mtime')) bits.push(`mtime ${f.mtime.sec}.${String(f.mtime.ns).padStart(9, '0')}`);
    const shown = p.length > 60 ? `${p.slice(0, 40)}...(${Buffer.byteLength(p)} B path)` : p;
    md.push(`| ${role} | \`${shown.replace(/\|/g, '\\|')}\` | ${bits.join(', ')} |`);
  }
  md.push('');
}
writeFileSync(join(outDir, 'MANIFEST.md'), md.join('\n'));
console.log(`manifest: ${images.length} images`);
