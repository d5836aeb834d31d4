// Unprivileged mounts through fusermount3 (protocol note §3b) need the
// /dev/fuse fd passed back over a socket with SCM_RIGHTS, which Node cannot
// receive natively. Not implemented yet: this gives one clear line instead.
import type { MountOptions, Mounted } from './mount.js';

export async function mountFusermount(mountpoint: string, _o: MountOptions): Promise<Mounted> {
  throw new Error(`cannot mount ${mountpoint}: mounting as a non-root user (through fusermount3) is not supported yet; run as root`);
}
