// The /dev/fuse read loop, for a worker_thread: synchronous read(2) into the
// dispatcher's one buffer (>= max(8192, max_write + 4096)), dispatch, reply,
// repeat. shared/notes/fuse-kernel-protocol.md §4 ("worker-thread synchronous
// loop"), §3a pitfall 1 (EPERM before mount), §1.5 (ENODEV at unmount).
import { readSync } from 'node:fs';
import type { Dispatcher } from './dispatch.js';
import type { Logger } from './reply.js';

export interface ChannelOptions {
  /** How long to keep retrying EPERM (mount(2) not attached yet), ms. Default 10 s. */
  attachTimeoutMs?: number;
  log?: Logger;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/**
 * Serve requests until the kernel ends the session (ENODEV after unmount,
 * ECONNABORTED after an abort). Blocks the calling thread throughout.
 * Returns the number of requests handled.
 */
export function runChannel(fd: number, d: Dispatcher, opts: ChannelOptions = {}): number {
  const buf = d.buffer;
  const attachTimeout = opts.attachTimeoutMs ?? 10_000;
  let waited = 0;
  let handled = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      switch (code) {
        case 'EINTR':
        case 'EAGAIN':
        case 'ENOENT': // the request was interrupted before we read it
          continue;
        case 'EPERM': // mount(2) has not attached the fd yet
          if (waited >= attachTimeout) throw new Error(`/dev/fuse fd ${fd} was never mounted (EPERM for ${waited} ms)`);
          sleepMs(5);
          waited += 5;
          continue;
        case 'ENODEV': // unmounted
        case 'ECONNABORTED': // aborted through fusectl
          return handled;
        default:
          throw e;
      }
    }
    if (n === 0) return handled;
    handled++;
    d.handle(n);
  }
}
