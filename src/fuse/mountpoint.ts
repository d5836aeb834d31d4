// Mountpoint checks with one clear line each: missing, not a directory, not
// empty (unless nonempty), already a mount point (stacked mounts: protocol
// note §3a pitfall 8), or a dead FUSE mount (ENOTCONN).
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

/** Unescape the octal escapes (\040 for space, ...) of /proc/self/mountinfo. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points listed in /proc/self/mountinfo (field 5). */
export function mountPoints(): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(unescapeMountinfo(f[4]!));
  }
  return out;
}

export function isMountPoint(path: string): boolean {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    real = resolve(path);
  }
  return mountPoints().includes(real);
}

/** null if `path` can be mounted on, else a one-line reason. */
export function checkMountpoint(path: string, nonempty = false): string | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `mountpoint ${path} does not exist`;
    if (code === 'ENOTCONN') return `mountpoint ${path} is a dead FUSE mount (ENOTCONN): run umount -l ${path}`;
    return `mountpoint ${path}: ${code ?? String(e)}`;
  }
  if (!st.isDirectory()) return `mountpoint ${path} is not a directory`;
  if (isMountPoint(path)) return `mountpoint ${path} is already a mount point`;
  if (!nonempty) {
    try {
      if (readdirSync(path).length > 0) return `mountpoint ${path} is not empty (use the nonempty option)`;
    } catch (e) {
      return `mountpoint ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
    }
  }
  return null;
}
