// Thin wrappers around the e2fsprogs tools the tests use as oracles: e2fsck,
// dumpe2fs, debugfs (and mke2fs). Each one throws a clear error naming the
// package to install when the tool is missing; hasTool() lets a test skip.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const PACKAGES: Record<string, string> = {
  e2fsck: 'e2fsprogs', dumpe2fs: 'e2fsprogs', debugfs: 'e2fsprogs', mke2fs: 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs', getfattr: 'attr', setfattr: 'attr', getfacl: 'acl', setfacl: 'acl',
  mount: 'mount', umount: 'mount', losetup: 'mount',
};

const found = new Map<string, string | null>();

/** Absolute path of a tool on PATH (plus /sbin and /usr/sbin), or null. */
export function findTool(name: string): string | null {
  const cached = found.get(name);
  if (cached !== undefined) return cached;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  let hit: string | null = null;
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      hit = join(dir, name);
      break;
    } catch {
      // not here
    }
  }
  found.set(name, hit);
  return hit;
}

export function hasTool(name: string): boolean {
  return findTool(name) !== null;
}

/** Path of the tool, or a thrown Error saying what to install. */
export function requireTool(name: string): string {
  const path = findTool(name);
  if (path === null) {
    const pkg = PACKAGES[name] ?? name;
    throw new Error(`${name} not found on PATH: install it (apt-get install -y ${pkg})`);
  }
  return path;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout then stderr */
  output: string;
}

/** Runs a tool with a fixed C locale; never throws on a non-zero exit. */
export function runTool(name: string, args: readonly string[], input?: string): ToolResult {
  const r: SpawnSyncReturns<string> = spawnSync(requireTool(name), args, {
    encoding: 'utf8',
    input,
    maxBuffer: 256 << 20,
    // E2FSCK_CONFIG=/dev/null: no local e2fsck.conf changes the verdict
    env: { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC', E2FSCK_CONFIG: '/dev/null' },
  });
  if (r.error) throw new Error(`${name}: ${r.error.message}`);
  const stdout = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  return { code: r.status ?? (r.signal ? 128 : 1), stdout, stderr, output: stdout + stderr };
}

function ok(name: string, args: readonly string[], r: ToolResult): string {
  if (r.code !== 0) {
    throw new Error(`${name} ${args.join(' ')} exited ${r.code}:\n${r.output.trim()}`);
  }
  return r.stdout;
}

/** `e2fsck -fn IMAGE`: read-only full check. code 0 = clean, 4 = errors left. */
export function e2fsck(image: string, args: readonly string[] = ['-fn']): { code: number; output: string } {
  const r = runTool('e2fsck', [...args, image]);
  return { code: r.code, output: r.output };
}

/** `dumpe2fs -h IMAGE`: the superblock summary as text. */
export function dumpe2fsHeader(image: string): string {
  const args = ['-h', image];
  return ok('dumpe2fs', args, runTool('dumpe2fs', args));
}

/**
 * dumpe2fs -h parsed into "Field name" -> value ("Block size" -> "4096",
 * "Filesystem features" -> "has_journal ext_attr ...").
 */
export function superblockFields(image: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of dumpe2fsHeader(image).split('\n')) {
    const m = /^([A-Za-z][^:]*):\s*(.*)$/.exec(line);
    if (m && !(m[1]! in out)) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

export function features(image: string): string[] {
  return (superblockFields(image)['Filesystem features'] ?? '').split(/\s+/).filter(Boolean);
}

export interface DebugfsOptions {
  /** open read-write (-w) */
  write?: boolean;
}

/**
 * `debugfs -R CMD IMAGE`, returning stdout. debugfs exits 0 even when the
 * command fails (it prints the error on stderr), so this throws when stderr
 * has anything beyond the version banner.
 */
export function debugfs(image: string, cmd: string, opts: DebugfsOptions = {}): string {
  const args = [...(opts.write ? ['-w'] : []), '-R', cmd, image];
  const r = runTool('debugfs', args);
  ok('debugfs', args, r);
  const errors = debugfsErrors(r.stderr);
  if (errors) throw new Error(`debugfs -R ${JSON.stringify(cmd)} ${image}: ${errors}`);
  return r.stdout;
}

/**
 * Several debugfs commands in one run (-f). Returns the combined output, in
 * which debugfs echoes each command as "debugfs: CMD". Throws on command errors.
 */
export function debugfsCommands(image: string, cmds: readonly string[], opts: DebugfsOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'fuse4fs-ts-debugfs-'));
  try {
    const file = join(dir, 'cmds');
    writeFileSync(file, cmds.join('\n') + '\n');
    const args = [...(opts.write ? ['-w'] : []), '-f', file, image];
    const r = runTool('debugfs', args);
    ok('debugfs', args, r);
    const errors = debugfsErrors(r.stderr);
    if (errors) throw new Error(`debugfs -f (${cmds.length} commands) ${image}: ${errors}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function debugfsErrors(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^debugfs [0-9.]+ \(/.test(l) && !/^debugfs: /.test(l))
    .join('\n');
}

/** `mke2fs ARGS` (e.g. ['-q', '-t', 'ext4', '-d', dir, img, '8M']); throws on failure. */
export function mke2fs(args: readonly string[]): string {
  return ok('mke2fs', args, runTool('mke2fs', ['-F', ...args]));
}
