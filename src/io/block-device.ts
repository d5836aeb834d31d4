// The I/O manager interface (the model: e2fsprogs lib/ext2fs/ext2_io.h).
// Positions and lengths are in bytes; devices do no caching of their own.
import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync, constants } from 'node:fs';

export interface BlockDevice {
  /** Size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** Fill `buf` from byte position `pos`; bytes past the end read as zero. */
  read(buf: Uint8Array, pos: number): void;
  write(buf: Uint8Array, pos: number): void;
  /** Make previous writes durable (fdatasync). */
  flush(): void;
  close(): void;
}

export class DeviceError extends Error {
  constructor(message: string, readonly errno = 5) {
    super(message);
    this.name = 'DeviceError';
  }
}

/** A regular file or block device, through synchronous positioned I/O. */
export class FileDevice implements BlockDevice {
  readonly size: number;
  private fd: number;
  private closed = false;

  constructor(readonly path: string, readonly readOnly: boolean, readonly baseOffset = 0) {
    this.fd = openSync(path, readOnly ? constants.O_RDONLY : constants.O_RDWR);
    const st = fstatSync(this.fd);
    const total = st.isBlockDevice() ? blockDeviceSize(this.fd) : st.size;
    this.size = Math.max(0, total - baseOffset);
  }

  read(buf: Uint8Array, pos: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, this.baseOffset + pos + done);
      if (n === 0) {
        buf.fill(0, done);
        return;
      }
      done += n;
    }
  }

  write(buf: Uint8Array, pos: number): void {
    if (this.readOnly) throw new DeviceError('write to a read-only device', 30);
    let done = 0;
    while (done < buf.length) {
      done += writeSync(this.fd, buf, done, buf.length - done, this.baseOffset + pos + done);
    }
  }

  flush(): void {
    if (!this.readOnly) fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

function blockDeviceSize(fd: number): number {
  // Without an ioctl we find the size by probing reads; block devices are rare here.
  let lo = 0;
  let hi = 1;
  const b = new Uint8Array(1);
  while (readSync(fd, b, 0, 1, hi * 512 - 1) === 1) { lo = hi; hi *= 2; }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (readSync(fd, b, 0, 1, mid * 512 - 1) === 1) lo = mid; else hi = mid;
  }
  return lo * 512;
}

/** An in-memory device (tests, and images loaded whole). */
export class MemoryDevice implements BlockDevice {
  constructor(readonly data: Uint8Array, readonly readOnly = false) {}
  get size(): number { return this.data.length; }
  read(buf: Uint8Array, pos: number): void {
    const end = Math.min(this.data.length, pos + buf.length);
    if (pos >= end) { buf.fill(0); return; }
    buf.set(this.data.subarray(pos, end));
    if (end - pos < buf.length) buf.fill(0, end - pos);
  }
  write(buf: Uint8Array, pos: number): void {
    if (this.readOnly) throw new DeviceError('write to a read-only device', 30);
    if (pos + buf.length > this.data.length) throw new DeviceError(`write past end of device at ${pos}`, 28);
    this.data.set(buf, pos);
  }
  flush(): void {}
  close(): void {}
}
