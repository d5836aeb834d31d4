// `inspect IMAGE [TARGET]`: the superblock like `dumpe2fs -h` (with --groups,
// dumpe2fs's group section), or one inode like `debugfs -R "stat TARGET"`.
// The text views reproduce those tools' layout line for line (times in local
// time, as they print them), so the outputs can be diffed; --json gives the
// same data typed (src/ext2/describe.ts).
import { readFileSync } from 'node:fs';
import {
  describeGroups, describeInode, describeJournal, describeMmp, describeSuperblock, type GroupDescription, type InodeDescription,
  type JournalDescription, type MmpDescription, type SuperblockDescription, type XattrDescription,
} from '../ext2/describe.js';
import type { Volume } from '../ext2/volume.js';
import { CliError, EXIT, Out, checkIno, hex, openImage, parseTarget, printJson, resolveOrFail, type ImageOptions } from './common.js';
import { aclText } from './acl-text.js';

export interface InspectOptions extends ImageOptions {
  groups?: boolean;
  json?: boolean;
}

export function runInspect(image: string, target: string | undefined, opts: InspectOptions): void {
  // Like dumpe2fs and debugfs, inspect shows the image as it is: never replays a journal.
  const vol = openImage(image, opts, true);
  try {
    if (target === undefined) {
      if (opts.json) {
        const groups = opts.groups ? describeGroups(vol) : undefined;
        printJson({ image, superblock: describeSuperblock(vol), journal: describeJournal(vol), mmp: describeMmp(vol), ...(groups ? { groups } : {}) });
        return;
      }
      const out = new Out();
      out.text(superblockText(vol, opts.groups === true));
      out.flush();
      return;
    }
    if (opts.groups) throw new CliError('--groups applies to the superblock view, not to one inode', EXIT.usage);
    const t = parseTarget(target);
    const ino = 'ino' in t ? checkIno(vol, t.ino) : resolveOrFail(vol, t.path, false);
    const d = describeInode(vol, ino);
    if (opts.json) {
      printJson({ image, ...('path' in t ? { path: t.path } : {}), inode: inodeJson(d) });
      return;
    }
    const out = new Out();
    out.text(inodeText(d, vol.geo.inodeSize > 128, vol.hasMetadataCsum));
    out.flush();
  } finally {
    vol.close();
  }
}

/** `dumpe2fs -h` text (withGroups: `dumpe2fs` text) of a volume. */
export function superblockText(vol: Volume, withGroups: boolean): string {
  const sb = describeSuperblock(vol);
  const journal = describeJournal(vol);
  const mmp = describeMmp(vol);
  const L = superblockLines(sb);
  if (journal) L.push(...journalLines(journal, sb.blockSize));
  if (mmp) L.push(...mmpLines(mmp));
  L.push('');
  if (withGroups) {
    L.push('');
    for (const g of describeGroups(vol)) L.push(...groupLines(sb, g));
  }
  return L.map((l) => `${l}\n`).join('');
}

// ---------------------------------------------------------------- time and names

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C's asctime(localtime(&t)) without the newline: "Mon Jan  1 00:00:00 2024". */
export function asctime(sec: number): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return `${sec}`;
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

function nameTable(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^\d+$/.test(f[2]!) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]!);
    }
  } catch {
    // no such file: every id is "unknown"
  }
  return m;
}

let users: Map<number, string> | undefined;
let groupNames: Map<number, string> | undefined;

function intervalString(secs: number): string {
  if (secs === 0) return '<none>';
  const MONTH = 86400 * 30, WEEK = 86400 * 7, DAY = 86400;
  const parts: string[] = [];
  let n: number;
  if (secs >= MONTH) { n = Math.floor(secs / MONTH); secs -= n * MONTH; parts.push(`${n} month${n > 1 ? 's' : ''}`); }
  if (secs >= WEEK) { n = Math.floor(secs / WEEK); secs -= n * WEEK; parts.push(`${n} week${n > 1 ? 's' : ''}`); }
  if (secs >= DAY) { n = Math.floor(secs / DAY); secs -= n * DAY; parts.push(`${n} day${n > 1 ? 's' : ''}`); }
  if (secs > 0) {
    const hr = Math.floor(secs / 3600);
    secs -= hr * 3600;
    const min = Math.floor(secs / 60);
    secs -= min * 60;
    parts.push(`${hr}:${String(min).padStart(2, '0')}:${String(secs).padStart(2, '0')}`);
  }
  return parts.join(', ');
}

function lifetimeWrites(kb: number): string {
  const P = (x: number) => 2 ** x;
  if (kb < P(13)) return `${kb} kB`;
  if (kb < P(23)) return `${Math.floor((kb + P(9)) / P(10))} MB`;
  if (kb < P(33)) return `${Math.floor((kb + P(19)) / P(20))} GB`;
  if (kb < P(43)) return `${Math.floor((kb + P(29)) / P(30))} TB`;
  return `${Math.floor((kb + P(39)) / P(40))} PB`;
}

// ---------------------------------------------------------------- superblock

/** The superblock in `dumpe2fs -h` layout (lib/e2p/ls.c list_super2). */
export function superblockLines(s: SuperblockDescription): string[] {
  const L: string[] = [];
  const f = (label: string, value: string | number) => L.push(`${label.padEnd(26)}${value}`);
  users ??= nameTable('/etc/passwd');
  groupNames ??= nameTable('/etc/group');
  f('Filesystem volume name:', s.volumeName || '<none>');
  f('Last mounted on:', s.lastMountedOn || '<not available>');
  f('Filesystem UUID:', s.uuid ?? '<none>');
  f('Filesystem magic number:', `0x${hex(s.magic, 4).toUpperCase()}`);
  f('Filesystem revision #:', `${s.revision} ${s.revision === 0 ? '(original)' : s.revision === 1 ? '(dynamic)' : '(unknown)'}`);
  L.push(`Filesystem features:      ${s.features.length ? s.features.join(' ') : '(none)'}`);
  if (s.flags !== 0) L.push(`Filesystem flags:         ${s.flagNames.length ? s.flagNames.map((n) => `${n} `).join('') : '(none)'}`);
  L.push(`Default mount options:    ${s.defaultMountOptions.length ? s.defaultMountOptions.join(' ') : '(none)'}`);
  if (s.mountOptions) f('Mount options:', s.mountOptions);
  f('Filesystem state:', s.stateText);
  f('Errors behavior:', s.errorsBehaviorText);
  f('Filesystem OS type:', s.creatorOsText);
  f('Inode count:', s.inodesCount);
  f('Block count:', s.blocksCount);
  f('Reserved block count:', s.reservedBlocksCount);
  if (s.overheadClusters) f('Overhead clusters:', s.overheadClusters);
  f('Free blocks:', s.freeBlocks);
  f('Free inodes:', s.freeInodes);
  f('First block:', s.firstDataBlock);
  f('Block size:', s.blockSize);
  f(s.bigalloc ? 'Cluster size:' : 'Fragment size:', s.clusterSize);
  if (s.descSize !== null) f('Group descriptor size:', s.descSize);
  if (s.reservedGdtBlocks) f('Reserved GDT blocks:', s.reservedGdtBlocks);
  f('Blocks per group:', s.blocksPerGroup);
  f(s.bigalloc ? 'Clusters per group:' : 'Fragments per group:', s.clustersPerGroup);
  f('Inodes per group:', s.inodesPerGroup);
  f('Inode blocks per group:', s.inodeBlocksPerGroup);
  if (s.raidStride) f('RAID stride:', s.raidStride);
  if (s.raidStripeWidth) f('RAID stripe width:', s.raidStripeWidth);
  if (s.firstMetaBg) f('First meta block group:', s.firstMetaBg);
  if (s.flexBgSize !== null) f('Flex block group size:', s.flexBgSize);
  if (s.mkfsTime) f('Filesystem created:', asctime(s.mkfsTime));
  f('Last mount time:', s.lastMountTime ? asctime(s.lastMountTime) : 'n/a');
  f('Last write time:', asctime(s.lastWriteTime));
  f('Mount count:', s.mountCount);
  f('Maximum mount count:', s.maxMountCount);
  f('Last checked:', asctime(s.lastChecked));
  f('Check interval:', `${s.checkInterval} (${intervalString(s.checkInterval)})`);
  if (s.checkInterval) f('Next check after:', asctime(s.lastChecked + s.checkInterval));
  if (s.kbytesWritten) f('Lifetime writes:', lifetimeWrites(s.kbytesWritten));
  const u = users.get(s.reservedUid);
  f('Reserved blocks uid:', `${s.reservedUid} ${u === undefined ? '(user unknown)' : `(user ${u})`}`);
  const g = groupNames.get(s.reservedGid);
  f('Reserved blocks gid:', `${s.reservedGid} ${g === undefined ? '(group unknown)' : `(group ${g})`}`);
  if (s.revision >= 1) {
    f('First inode:', s.firstIno);
    L.push(`Inode size:\t          ${s.inodeSize}`);
    if (s.minExtraIsize) f('Required extra isize:', s.minExtraIsize);
    if (s.wantExtraIsize) f('Desired extra isize:', s.wantExtraIsize);
  }
  if (s.journalUuid) f('Journal UUID:', s.journalUuid);
  if (s.journalInode) f('Journal inode:', s.journalInode);
  if (s.journalDev) L.push(`Journal device:\t          0x${hex(s.journalDev, 4)}`);
  if (s.firstOrphan) f('First orphan inode:', s.firstOrphan);
  if (s.featureBits.compat & 0x20 || s.defaultHashVersion) f('Default directory hash:', s.defaultHash);
  if (s.hashSeed) f('Directory Hash Seed:', s.hashSeed);
  if (s.journalBackupType) f('Journal backup:', s.journalBackupType === 1 ? 'inode blocks' : `type ${s.journalBackupType}`);
  if (s.backupBgs[0] || s.backupBgs[1]) {
    f('Backup block groups:', s.backupBgs.filter((g) => g !== 0).map((g) => `${g} `).join(''));
  }
  if (s.snapshotInode) {
    f('Snapshot inode:', s.snapshotInode);
    f('Snapshot ID:', s.snapshotId);
    f('Snapshot reserved blocks:', s.snapshotReservedBlocks);
  }
  if (s.snapshotList) f('Snapshot list head:', s.snapshotList);
  if (s.errorCount) f('FS Error count:', s.errorCount);
  for (const [which, e] of [['First', s.firstError], ['Last', s.lastError]] as const) {
    if (!e) continue;
    f(`${which} error time:`, asctime(e.time));
    f(`${which} error function:`, e.function);
    f(`${which} error line #:`, e.line);
    if (e.ino) f(`${which} error inode #:`, e.ino);
    if (e.block) f(`${which} error block #:`, e.block);
    if (e.errcode) f(`${which} error err:`, e.errcodeName);
  }
  if (s.featureBits.incompat & 0x100) {
    f('MMP block number:', s.mmpBlock);
    f('MMP update interval:', s.mmpInterval);
  }
  if (s.quotaInodes.user) f('User quota inode:', s.quotaInodes.user);
  if (s.quotaInodes.group) f('Group quota inode:', s.quotaInodes.group);
  if (s.quotaInodes.project) f('Project quota inode:', s.quotaInodes.project);
  if (s.checksumType !== null) {
    f('Checksum type:', s.checksumType === 1 ? 'crc32c' : 'unknown');
    f('Checksum:', `0x${hex(s.checksum!, 8)}`);
  }
  if (s.encryptPwSalt) f('Encryption PW Salt:', s.encryptPwSalt);
  if (s.checksumSeed !== null) f('Checksum seed:', `0x${hex(s.checksumSeed, 8)}`);
  if (s.encoding !== null) f('Character encoding:', s.encoding === 1 ? 'utf8-12.1' : `UNKNOWN_ENCODING_${s.encoding}`);
  if (s.orphanFileInode !== null) f('Orphan file inode:', s.orphanFileInode);
  return L;
}

/** The journal superblock as dumpe2fs prints it (lib/e2p/ljs.c e2p_list_journal_super). */
export function journalLines(j: JournalDescription, fsBlockSize: number): string[] {
  if (!j.magicOk) return ['Journal superblock magic number invalid!'];
  const L: string[] = [];
  const f = (label: string, value: string | number) => L.push(`${label.padEnd(26)}${value}`);
  L.push(`Journal features:        ${j.features.length ? j.features.map((x) => ` ${x}`).join('') : ' (none)'}`);
  const size = Math.floor(j.blockSize / 1024) * j.maxLen;
  f('Total journal size:', size < 8192 ? `${size}k` : `${size >>> 10}M`);
  if (j.blockSize !== fsBlockSize) f('Journal block size:', j.blockSize);
  f('Total journal blocks:', j.maxTransaction + j.fastCommitBlocks);
  f('Max transaction length:', j.maxTransaction);
  f('Fast commit length:', j.fastCommitBlocks);
  if (j.first !== 1) f('Journal first block:', j.first);
  f('Journal sequence:', `0x${hex(j.sequence, 8)}`);
  f('Journal start:', j.start);
  if (j.nrUsers !== 1) f('Journal number of users:', j.nrUsers);
  if (j.featureBits.compat & 0x1) f('Journal checksum type:', 'crc32');
  if (j.featureBits.incompat & 0x18) {
    f('Journal checksum type:', j.checksumTypeName);
    f('Journal checksum:', `0x${hex(j.checksum, 8)}`);
  }
  if (j.nrUsers > 1 || (j.users[0] !== undefined && j.users[0] !== '<none>')) {
    j.users.forEach((u, i) => L.push(i ? `${''.padEnd(26)}${u}` : `${'Journal users:'.padEnd(26)}${u}`));
  }
  if (j.errno !== 0) f('Journal errno:', j.errno);
  return L;
}

/** The MMP block as dumpe2fs prints it (misc/dumpe2fs.c print_mmp_block). */
export function mmpLines(m: MmpDescription): string[] {
  const seq = m.sequence === 0 ? '00000000' : `0x${hex(m.sequence, 6)}`; // printf %#08x
  return [
    'MMP_block:',
    `    mmp_magic: 0x${m.magic.toString(16)}`,
    `    mmp_check_interval: ${m.checkInterval}`,
    `    mmp_sequence: ${seq}`,
    `    mmp_update_date: ${asctime(m.time)}`,
    `    mmp_update_time: ${m.time}`,
    `    mmp_node_name: ${m.nodeName}`,
    `    mmp_device_name: ${m.deviceName}`,
  ];
}

// ---------------------------------------------------------------- groups

function ranges(r: [number, number][]): string {
  return r.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');
}

/** One group as dumpe2fs's list_desc prints it. */
export function groupLines(s: SuperblockDescription, g: GroupDescription): string[] {
  const L: string[] = [];
  let head = `Group ${g.group}: (Blocks ${g.firstBlock}-${g.lastBlock})`;
  if (g.checksum !== null) {
    head += ` csum 0x${hex(g.checksum, 4)}`;
    if (g.checksum !== g.checksumComputed) head += ` (EXPECTED 0x${hex(g.checksumComputed!, 4)})`;
  }
  if (g.flagNames.length) head += ` [${g.flagNames.join(', ')}]`;
  L.push(head);
  const flex = (s.featureBits.incompat & 0x200) !== 0;
  const rel = (p: { block: number; group: number; offset: number }, itable: boolean): string => {
    if (p.group === g.group) return itable && p.offset === 0 ? '' : ` (+${p.offset})`;
    return flex ? ` (bg #${p.group} + ${p.offset})` : '';
  };
  let line = '';
  const hasSuper = g.superblock !== null;
  if (hasSuper) line = `  ${g.group === 0 ? 'Primary' : 'Backup'} superblock at ${g.superblock}`;
  if (g.gdt) {
    line += `, Group descriptors at ${g.gdt[0]}-${g.gdt[1]}`;
    if (g.reservedGdt) {
      L.push(line);
      line = `  Reserved GDT blocks at ${g.reservedGdt[0]}-${g.reservedGdt[1]}`;
    }
  } else if (g.metaBgDescriptor !== null) {
    line += `${hasSuper ? ',' : ' '} Group descriptor at ${g.metaBgDescriptor}`;
  }
  if (hasSuper || g.metaBgDescriptor !== null) L.push(line);
  const csum = (v: number | null) => (v === null ? '' : `, csum 0x${hex(v, 8)}`);
  L.push(`  Block bitmap at ${g.blockBitmap.block}${rel(g.blockBitmap, false)}${csum(g.blockBitmapChecksum)}`);
  L.push(`  Inode bitmap at ${g.inodeBitmap.block}${rel(g.inodeBitmap, false)}${csum(g.inodeBitmapChecksum)}`);
  L.push(`  Inode table at ${g.inodeTable.block}-${g.inodeTable.last}${rel(g.inodeTable, true)}`);
  const units = s.bigalloc ? 'clusters' : 'blocks';
  L.push(`  ${g.freeBlocks} free ${units}, ${g.freeInodes} free inodes, ${g.usedDirs} directories${g.itableUnused ? `, ${g.itableUnused} unused inodes` : ''}`);
  L.push(`  Free blocks: ${ranges(g.freeBlockRanges)}`);
  L.push(`  Free inodes: ${ranges(g.freeInodeRanges)}`);
  return L;
}

// ---------------------------------------------------------------- inodes

/** debugfs's print_xattr_string: quoted C string when printable enough, else hex bytes. */
function xattrString(b: Uint8Array, quotes: boolean): string {
  let printable = 0;
  for (const c of b) if (c >= 0x20 && c <= 0x7e) printable++;
  if (printable <= Math.floor((b.length * 7) / 8)) return Array.from(b, (c) => `${hex(c, 2)} `).join('');
  let s = '';
  for (const c of b) {
    switch (c) {
      case 7: s += '\\a'; break;
      case 8: s += '\\b'; break;
      case 12: s += '\\f'; break;
      case 10: s += '\\n'; break;
      case 9: s += '\\t'; break;
      case 11: s += '\\v'; break;
      case 0x5c: s += '\\\\'; break;
      case 0x27: s += "\\'"; break;
      case 0x22: s += '\\"'; break;
      default: s += c < 32 || c > 126 ? `\\${c.toString(8).padStart(3, '0')}` : String.fromCharCode(c);
    }
  }
  return quotes ? `"${s}"` : s;
}

function xattrLine(x: XattrDescription): string {
  const enc = new TextEncoder();
  let s = `  ${xattrString(enc.encode(x.name), false)} (${x.length})`;
  const len = x.name === 'system.data' ? 0 : x.length;
  if (len !== 0 && len < 40) s += ` = ${xattrString(x.value, true)}`;
  return s;
}

function timeLine(label: string, t: { lo: number; extra: number | null; sec: number }, extended: boolean): string {
  if (extended) return `${label.padStart(6)}: 0x${hex(t.lo, 8)}:${hex(t.extra ?? 0, 8)} -- ${asctime(t.sec)}`;
  return `${label}: 0x${hex(t.lo, 8)} -- ${asctime(t.lo | 0)}`;
}

/** An inode in `debugfs -R stat` layout (debugfs.c internal_dump_inode). */
export function inodeText(d: InodeDescription, large: boolean, metadataCsum: boolean): string {
  const L: string[] = [];
  const ex = d.extraIsize ?? 0;
  const ext = large && ex >= 24;
  L.push(`Inode: ${d.ino}   Type: ${d.type}    Mode:  0${d.permissions.toString(8).padStart(3, '0')}   Flags: 0x${d.flags.toString(16)}`);
  L.push(ext
    ? `Generation: ${d.generation}    Version: 0x${hex(d.versionHi ?? 0, 8)}:${hex(d.versionLo, 8)}`
    : `Generation: ${d.generation}    Version: 0x${hex(d.versionLo, 8)}`);
  const pad5 = (n: number) => String(n).padStart(5, ' ');
  L.push(`User: ${pad5(d.uid | 0)}   Group: ${pad5(d.gid | 0)}${large && ex >= 32 ? `   Project: ${pad5(d.projid ?? 0)}` : ''}   Size: ${d.size}`);
  L.push(`File ACL: ${d.fileAcl}`);
  L.push(`Links: ${d.links}   Blockcount: ${d.blockcount}`);
  L.push(`Fragment:  Address: ${d.fragmentAddress}    Number: 0    Size: 0`);
  const t = d.times;
  L.push(timeLine('ctime', t.ctime, ext), timeLine('atime', t.atime, ext), timeLine('mtime', t.mtime, ext));
  if (ext) L.push(timeLine('crtime', t.crtime ?? { lo: 0, extra: 0, sec: 0 }, true));
  if (t.dtime) {
    L.push(ext
      ? ` dtime: 0x${hex(t.dtime, 8)}:(${hex(t.ctime.extra ?? 0, 8)}) -- ${asctime((t.dtime | 0) + (t.ctime.extra ?? 0 & 3) * 2 ** 32)}`
      : `dtime: 0x${hex(t.dtime, 8)} -- ${asctime(t.dtime | 0)}`);
  }
  if (large) L.push(`Size of extra inode fields: ${ex}`);
  if (d.xattrs.length) {
    L.push('Extended attributes:');
    for (const x of d.xattrs) L.push(xattrLine(x));
  }
  if (metadataCsum) L.push(`Inode checksum: 0x${hex(d.checksum ?? 0, 8)}`);
  let text = L.map((l) => `${l}\n`).join('');
  if (d.fastLink || (d.type === 'symlink' && d.linkTarget && (d.flags & 0x10000000))) {
    const tgt = d.linkTarget ?? new Uint8Array(0);
    const nul = tgt.indexOf(0);
    text += `Fast link dest: "${Buffer.from(nul < 0 ? tgt : tgt.subarray(0, nul)).toString('latin1')}"\n`;
  } else if (d.device) {
    const p2 = (n: number) => String(n).padStart(2, '0');
    const h2 = (n: number) => n.toString(16).padStart(2, '0');
    text += `${d.device.newStyle ? '(New-style) ' : ''}Device major/minor number: ${p2(d.device.major)}:${p2(d.device.minor)} (hex ${h2(d.device.major)}:${h2(d.device.minor)})\n`;
  } else if (d.extents) {
    const parts = d.extents.entries.map((e) => {
      if (e.kind === 'index') return `(ETB${e.level}):${e.block}`;
      if (e.length === 0) return '';
      const u = e.unwritten ? '[u]' : '';
      return e.length === 1 ? `(${e.logical}${u}):${e.physical}` : `(${e.logical}-${e.logical + e.length - 1}${u}):${e.physical}-${e.physical + e.length - 1}`;
    }).filter((p) => p !== '');
    text += `EXTENTS:\n${parts.join(', ')}${parts.length ? '\n' : ''}`;
  } else if (d.inlineDataSize !== null) {
    text += `Size of inline data: ${d.inlineDataSize}\n`;
  } else if (d.blockMap) {
    const parts = d.blockMap.entries.map((e) => (e.kind === 'data'
      ? (e.length === 1 ? `(${e.logical}):${e.physical}` : `(${e.logical}-${e.logical + e.length - 1}):${e.physical}-${e.physical + e.length - 1}`)
      : `(${e.kind}):${e.physical}`));
    text += `BLOCKS:\n${parts.join(', ')}${d.blockMap.total ? `\nTOTAL: ${d.blockMap.total}\n` : ''}\n`;
  }
  return text;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

function valueJson(v: Uint8Array): { text?: string; hex: string } {
  let text: string | undefined;
  try {
    text = utf8Fatal.decode(v);
    if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) text = undefined;
  } catch {
    text = undefined;
  }
  return { ...(text !== undefined ? { text } : {}), hex: Buffer.from(v).toString('hex') };
}

/** The inode description with byte arrays made JSON-friendly (and ACLs as text). */
export function inodeJson(d: InodeDescription): Record<string, unknown> {
  return {
    ...d,
    xattrs: d.xattrs.map((x) => {
      const acl = x.name === 'system.posix_acl_access' || x.name === 'system.posix_acl_default' ? aclText(x.value) : undefined;
      return { name: x.name, index: x.index, length: x.length, valueInode: x.valueInode, inInode: x.inInode, value: valueJson(x.value), ...(acl !== undefined ? { acl } : {}) };
    }),
    linkTarget: d.linkTarget ? valueJson(d.linkTarget) : null,
  };
}
