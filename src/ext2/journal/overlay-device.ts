// A read-only view of a device with some blocks replaced: what a journal replay
// into memory looks like (read-only opens, inspect, check). Every read — the
// superblock and group descriptors that volume.ts reads directly, cached
// metadata and file data alike — sees the replayed blocks; nothing is written.
import { DeviceError, type BlockDevice } from '../../io/block-device.js';

export class OverlayDevice implements BlockDevice {
  readonly readOnly = true;

  constructor(
    readonly base: BlockDevice,
    readonly blockSize: number,
    /** block number -> its replayed contents (blockSize bytes each). */
    readonly blocks: ReadonlyMap<number, Uint8Array>,
  ) {}

  get size(): number { return this.base.size; }

  read(buf: Uint8Array, pos: number): void {
    this.base.read(buf, pos);
    if (this.blocks.size === 0 || buf.length === 0) return;
    const bs = this.blockSize;
    const end = pos + buf.length;
    const first = Math.floor(pos / bs);
    const last = Math.floor((end - 1) / bs);
    if (last - first + 1 > this.blocks.size) {
      for (const [b, data] of this.blocks) if (b >= first && b <= last) this.patch(buf, pos, end, b, data);
    } else {
      for (let b = first; b <= last; b++) {
        const data = this.blocks.get(b);
        if (data !== undefined) this.patch(buf, pos, end, b, data);
      }
    }
  }

  private patch(buf: Uint8Array, pos: number, end: number, b: number, data: Uint8Array): void {
    const bs = this.blockSize;
    const from = Math.max(pos, b * bs);
    const to = Math.min(end, (b + 1) * bs);
    buf.set(data.subarray(from - b * bs, to - b * bs), from - pos);
  }

  write(_buf: Uint8Array, _pos: number): void {
    throw new DeviceError('write to a read-only replay overlay', 30);
  }

  flush(): void {}

  close(): void {
    this.base.close();
  }
}
