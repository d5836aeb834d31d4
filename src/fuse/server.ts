// The main-thread side of a FUSE server: start the worker (worker.ts) that
// owns the filesystem and /dev/fuse, mount, forward SIGINT/SIGTERM to an
// unmount, and resolve once the worker has seen ENODEV and exited.
// process.exit() would hang while a read is parked, and closing the fd does
// not unmount: so unmount first, then wait (protocol note §3a pitfall 6).
import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { maxPagesLimit, mountFuse, unmountFuse, type MountOptions } from './mount.js';
import type { Logger } from './reply.js';
import { DEFAULT_MAX_WRITE, type SessionOptions } from './session.js';
import type { WorkerData } from './worker.js';

export interface ServeOptions {
  mountpoint: string;
  /** Path or URL of a module exporting createFilesystem(arg): FuseOps | Promise<FuseOps>. */
  fsModule: string;
  /** Structured-clonable argument for createFilesystem. */
  fsArg?: unknown;
  session?: Omit<SessionOptions, 'log'>;
  mount?: MountOptions;
  /** Unmount on SIGINT/SIGTERM. Default true. */
  handleSignals?: boolean;
  log?: Logger;
}

export interface ServerHandle {
  readonly mountpoint: string;
  /** Resolves with 0 after a clean unmount, 1 if the worker failed. */
  readonly done: Promise<number>;
  /** Unmount (lazily if busy and `lazy`); `done` resolves afterwards. */
  unmount(opts?: { lazy?: boolean }): Promise<void>;
}

function startWorker(data: WorkerData): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from source (tests through tsx): register tsx inside the worker
    // first; Node 20 does not apply --import hooks to worker entry points.
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./worker.ts', here).href;
    const boot = `const { workerData } = require('node:worker_threads');
(async () => { const { register } = await import(workerData.__tsxApi); register(); await import(workerData.__entry); })()
  .catch((e) => { process.nextTick(() => { throw e; }); });`;
    return new Worker(boot, { eval: true, workerData: { ...data, __tsxApi: tsxApi, __entry: entry } });
  }
  return new Worker(new URL('./worker.js', here), { workerData: data });
}

type FromWorker = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'stopped'; failure: string | null };

export async function startServer(o: ServeOptions): Promise<ServerHandle> {
  const log = o.log ?? ((l: string) => console.error(l));
  const limit = maxPagesLimit();
  const session = { maxPagesLimit: limit, ...o.session };
  const maxRead = Math.min(session.maxWrite ?? DEFAULT_MAX_WRITE, limit * 4096);
  const worker = startWorker({ fsModule: o.fsModule, fsArg: o.fsArg ?? null, session });

  const exited = new Promise<number>((res) => worker.once('exit', (code) => res(code)));
  let failure: string | null = null;
  worker.on('error', (e) => { failure = e.message; log(`fuse: worker error: ${e.message}`); });
  const first = await new Promise<FromWorker>((res) => {
    worker.once('message', res);
    void exited.then(() => res({ type: 'failed', message: failure ?? 'worker exited early' }));
  });
  if (first.type !== 'ready') {
    await worker.terminate();
    throw new Error(`filesystem failed to start: ${first.type === 'failed' ? first.message : 'unexpected message'}`);
  }
  worker.on('message', (m: FromWorker) => { if (m.type === 'stopped' && m.failure) failure = m.failure; });

  let fd: number;
  try {
    ({ fd } = await mountFuse(o.mountpoint, { ...o.mount, maxRead: o.mount?.maxRead ?? maxRead }));
  } catch (e) {
    worker.postMessage({ type: 'abort' });
    await exited;
    throw e;
  }
  worker.postMessage({ type: 'start', fd });

  let unmounting: Promise<void> | null = null;
  const unmount = (uo: { lazy?: boolean } = {}): Promise<void> => {
    unmounting ??= unmountFuse(o.mountpoint, uo).finally(() => { unmounting = null; });
    return unmounting;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`fuse: ${sig}: unmounting ${o.mountpoint}`);
    unmount().catch((e: Error) => {
      log(`fuse: ${e.message}; detaching lazily`);
      return unmount({ lazy: true }).catch((e2: Error) => log(`fuse: ${e2.message}`));
    });
  };
  if (o.handleSignals !== false) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  const done = exited.then(async (code) => {
    if (o.handleSignals !== false) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (failure !== null || code !== 0) {
      // Nobody serves the mount any more: detach it before closing the fd.
      await unmountFuse(o.mountpoint, { lazy: true }).catch(() => {});
    }
    closeSync(fd);
    return failure !== null || code !== 0 ? 1 : 0;
  });
  return { mountpoint: o.mountpoint, done, unmount };
}

/** Mount, serve until unmounted (or signalled), resolve with an exit code. */
export async function serve(o: ServeOptions): Promise<number> {
  const h = await startServer(o);
  return h.done;
}
