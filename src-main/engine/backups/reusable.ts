/**
 * Buffers whose memory goes back where it came from once their last holder is done with
 * them. A backup moves each byte through three 1 MiB buffers (COPY block, sealed output,
 * socket read); fresh ones cost page faults and, above all, V8 external memory, whose
 * growth triggers full garbage collections on the console's main thread. The seal
 * workers mark their output returnable; the directory storage releases a chunk once it is
 * on disk. A chunk nobody releases (an S3 upload, a test) is simply collected.
 */
const owners = new WeakMap<ArrayBufferLike, (ab: ArrayBuffer) => void>();

/** Marks buf's memory as returnable to `giveBack`; whoever holds buf last calls releaseBuffer. */
export function returnable(buf: Buffer, giveBack: (ab: ArrayBuffer) => void): Buffer {
  owners.set(buf.buffer, giveBack);
  return buf;
}

/** The caller is done with buf and keeps no view of it: its memory may be used again at once. */
export function releaseBuffer(buf: Buffer): void {
  const ab = buf.buffer;
  const giveBack = owners.get(ab);
  if (!giveBack) return;
  owners.delete(ab);
  giveBack(ab as ArrayBuffer);
}
