// The fuse4fs-ts command line (commander). Every command reports errors as one
// line on stderr, "fuse4fs-ts: <message>", with the exit codes of common.ts;
// a stack trace only with FUSE4FS_DEBUG=1.
import { writeSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CorruptionError, UnsupportedError } from '../ext2/errors.js';
import { runCat, runLs, runTree } from './browse.js';
import { CliError, EXIT, StdoutClosed, describeErrno, imageFlags, isErrno } from './common.js';
import { runExtract } from './extract.js';
import { runInspect } from './inspect.js';
import { runMount, runUmount } from './mount.js';

const EXIT_HELP = `
Exit status:
  0  success
  1  the command failed (no such path, not a directory, damage met while
     reading, a file that could not be written)
  2  usage error (unknown command or option, missing argument)
  8  the image cannot be used at all (missing or unreadable file, not
     ext2/3/4, unsupported feature, damaged superblock or group descriptors)

Errors are one line on stderr; set FUSE4FS_DEBUG=1 for stack traces.`;

function stderrLine(msg: string): void {
  try {
    writeSync(2, `fuse4fs-ts: ${msg.replace(/\s*\n\s*/g, ' ').trim()}\n`);
  } catch {
    // stderr is gone too: nothing to tell
  }
}

export function buildProgram(): Command {
  const program = new Command('fuse4fs-ts');
  program
    .description('Read ext2/ext3/ext4 images without mounting them.')
    .version('0.1.0')
    .showSuggestionAfterError(false)
    .configureOutput({ outputError: () => {} })
    .exitOverride()
    .addHelpText('after', EXIT_HELP);

  const inspect = program.command('inspect')
    .description('show the superblock (like dumpe2fs -h) or one inode (like debugfs "stat")')
    .argument('<image>', 'the image file')
    .argument('[target]', 'a path in the image, or an inode number as <12> or 12')
    .option('--groups', 'also show every block group (like dumpe2fs without -h)')
    .option('--json', 'print JSON instead of text');
  imageFlags(inspect, false);
  inspect.addHelpText('after', '\nTimes print in local time (set TZ=UTC for UTC), as dumpe2fs and debugfs do. inspect never replays a journal.')
    .action((image: string, target: string | undefined, opts) => runInspect(image, target, opts));

  const ls = program.command('ls')
    .description('list a directory (or show one file) in the image')
    .argument('<image>', 'the image file')
    .argument('[path]', 'a path in the image', '/')
    .option('-l, --long', 'long listing: mode, links, uid, gid, size, mtime (ns)')
    .option('-a, --all', 'include "." and ".."')
    .option('-U, --unsorted', 'directory order instead of sorting by name bytes')
    .option('--json', 'print JSON (every entry with its inode facts)');
  imageFlags(ls);
  ls.action((image: string, path: string, opts) => runLs(image, path, opts));

  const cat = program.command('cat')
    .description('write a regular file\'s bytes to stdout (symlinks followed); there is no --json')
    .argument('<image>', 'the image file')
    .argument('<path>', 'a path in the image');
  imageFlags(cat);
  cat.action((image: string, path: string, opts) => runCat(image, path, opts));

  const tree = program.command('tree')
    .description('show a directory tree, names sorted by their bytes')
    .argument('<image>', 'the image file')
    .argument('[path]', 'a directory in the image', '/')
    .option('--depth <n>', 'descend at most n levels')
    .option('--json', 'print the tree as nested JSON');
  imageFlags(tree);
  tree.action((image: string, path: string, opts) => runTree(image, path, opts));

  const extract = program.command('extract')
    .description('copy PATH from the image into the existing directory DEST')
    .argument('<image>', 'the image file')
    .argument('<path>', 'a path in the image; "/" copies the root\'s entries into DEST itself')
    .argument('<dest>', 'an existing directory')
    .option('--no-owner', 'do not chown (the default as root is to keep uid/gid; others never chown)')
    .option('--no-xattrs', 'do not copy extended attributes and ACLs');
  imageFlags(extract);
  extract.addHelpText('after', `
PATH other than "/" lands as DEST/<last component of PATH>; "/" fills DEST with
the root's entries (DEST's own mode, owner and times are left alone). Existing
files are never overwritten. Kept: bytes (sparse), modes incl. setuid/setgid/
sticky, owners, atime/mtime with nanoseconds, symlinks, device nodes, fifos,
sockets, user./trusted./security. xattrs, POSIX ACLs, hardlinks. Needs perl
(utimensat/mknod) and setfattr (package attr) when there are xattrs.`)
    .action((image: string, path: string, dest: string, opts) => runExtract(image, path, dest, opts));

  program.command('mount')
    .description('serve IMAGE read-write (or -o ro) at MOUNTPOINT through FUSE; detaches once mounted unless -f')
    .argument('<image>', 'the image file')
    .argument('<mountpoint>', 'an existing, empty directory')
    .option('-o <options>', 'comma-separated mount options (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-f, --foreground', 'stay in the foreground until unmounted')
    .option('--log <file>', 'append log lines to FILE instead of stderr')
    .addHelpText('after', `
Mount options (fuse2fs / mount(8) style):
  ro, rw                  read-only or read-write (default rw)
  allow_other             let other users in (non-root needs user_allow_other in /etc/fuse.conf)
  default_permissions     kernel permission checks from mode bits (always on)
  uid=N, gid=N            report every file as owned by N
  fakeroot                report root as the owner of every file
  offset=BYTES            the filesystem starts BYTES into the image
  norecovery              do not replay the journal (forces ro)
  errors=continue|remount-ro|panic
  writeback_cache         let the kernel cache writes (it then owns mtime/size)
  cache_size=SIZE         block cache size (e.g. 256M; default 64M)
  commit=SECONDS          commit interval (default 5)
  acl                     enforce POSIX ACLs in the kernel
  entry_timeout=S, attr_timeout=S   kernel cache timeouts (default 60)
  nonempty                allow a non-empty mountpoint
  debug                   log every request
Unmount with: fuse4fs-ts umount MOUNTPOINT (or umount / fusermount3 -u).`)
    .action(async (image: string, mountpoint: string, opts) => { lastActionCode = await runMount(image, mountpoint, opts); });

  program.command('umount')
    .description('unmount a fuse4fs-ts mount (also clears a mount left by a killed server)')
    .argument('<mountpoint>', 'the mount point')
    .option('-l, --lazy', 'detach even if busy')
    .action(async (mountpoint: string, opts) => { lastActionCode = await runUmount(mountpoint, opts); });

  return program;
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  lastActionCode = undefined;
  try {
    await program.parseAsync(argv);
    return lastActionCode ?? EXIT.ok;
  } catch (e) {
    return reportError(e);
  }
}
let lastActionCode: number | undefined;

function reportError(e: unknown): number {
  if (process.env.FUSE4FS_DEBUG === '1' && e instanceof Error && !(e instanceof CommanderError)) {
    try { writeSync(2, `${e.stack ?? e.message}\n`); } catch { /* ignore */ }
  }
  if (e instanceof StdoutClosed) return EXIT.ok;
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
    if (e.exitCode === 0) return EXIT.ok;
    stderrLine(e.message.replace(/^error: /, ''));
    return EXIT.usage;
  }
  if (e instanceof CliError) {
    stderrLine(e.message);
    return e.exitCode;
  }
  if (e instanceof CorruptionError || e instanceof UnsupportedError) {
    stderrLine(e.message);
    return EXIT.failure;
  }
  if (isErrno(e)) {
    if (e.code === 'EPIPE') return EXIT.ok;
    stderrLine(`${e.path ? `${e.path}: ` : ''}${describeErrno(e)}`);
    return EXIT.failure;
  }
  const msg = e instanceof Error ? e.message : String(e);
  stderrLine(`internal error: ${msg}${process.env.FUSE4FS_DEBUG === '1' ? '' : ' (FUSE4FS_DEBUG=1 shows the stack trace)'}`);
  return EXIT.failure;
}

// Run when started as `node [--import tsx] src/cli/main.ts` (bin/fuse4fs-ts imports main() instead).
const invokedDirectly = /(?:^|[\\/])cli[\\/]main\.(?:ts|js)$/.test(process.argv[1] ?? '');

if (invokedDirectly) void main(process.argv).then((code) => { process.exitCode = code; });
