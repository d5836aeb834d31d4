// The worker_thread side of server.ts: load the filesystem module, wait for
// the mount, then run the synchronous /dev/fuse loop (channel.ts) until the
// kernel reports ENODEV. DESIGN.md "The FUSE session"; protocol note §4.
//
// Messages: worker -> main {type:'ready'} | {type:'failed', message};
// main -> worker {type:'start', fd} | {type:'abort'}.
// The filesystem module must export createFilesystem(arg): FuseOps | Promise<FuseOps>.
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { runChannel } from './channel.js';
import { Dispatcher } from './dispatch.js';
import type { FuseOps } from './ops.js';
import { FdWriter } from './reply.js';
import type { SessionOptions } from './session.js';

export interface WorkerData {
  fsModule: string;
  fsArg: unknown;
  session: Omit<SessionOptions, 'log'>;
}

function log(line: string): void {
  try {
    writeSync(2, line + '\n');
  } catch {
    // stderr gone: nothing to do
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('fuse worker: not running in a worker_thread');
  const data = workerData as WorkerData;
  let ops: FuseOps;
  try {
    const spec = /^[a-z]+:/.test(data.fsModule) ? data.fsModule : pathToFileURL(data.fsModule).href;
    const mod = (await import(spec)) as { createFilesystem?: (arg: unknown) => FuseOps | Promise<FuseOps> };
    if (typeof mod.createFilesystem !== 'function') throw new Error(`${data.fsModule} does not export createFilesystem()`);
    ops = await mod.createFilesystem(data.fsArg);
  } catch (e) {
    port.postMessage({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
    return;
  }
  port.once('message', (m: { type: string; fd?: number }) => {
    if (m.type !== 'start' || typeof m.fd !== 'number') {
      ops.destroy?.();
      port.close();
      return;
    }
    const d = new Dispatcher(ops, new FdWriter(m.fd, log), { ...data.session, log });
    let failure: string | null = null;
    try {
      runChannel(m.fd, d, { log });
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
      log(`fuse: read loop failed: ${failure}`);
    }
    if (!d.destroyed) {
      try {
        ops.destroy?.();
      } catch (e) {
        log(`fuse: destroy failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    port.postMessage({ type: 'stopped', failure });
    port.close();
  });
  port.postMessage({ type: 'ready' });
}

void main();
