import net from 'node:net';

/**
 * A TCP socket for node-postgres (its `stream` option) that reads into one buffer of its
 * own instead of a new one per read (net.Socket's `onread`). A backup's table streams
 * read about a gigabyte per GB of COPY text off their sockets; a fresh 64 KiB buffer per
 * read was the largest source of garbage left on the console's main thread (page faults,
 * and V8's full collections started by external memory).
 *
 * Every read is emitted as 'data', as a plain socket would. Unless a COPY reader that
 * consumes each chunk before the next read is attached (`rawReads`), the chunk is a copy:
 * pg's parser keeps partial messages across reads. Plain TCP only: a TLS connection reads
 * through its own socket, and keeps node's default.
 */
const RAW = Symbol.for('gatehouse.backups.rawReads');
const READ_SIZE = 256 * 1024;

type RawFlag = { [RAW]?: boolean };

export function reusingReadSocket(): net.Socket {
  const buffer = Buffer.allocUnsafeSlow(READ_SIZE);
  const socket: net.Socket & RawFlag = new net.Socket({
    onread: {
      buffer,
      callback: (n: number): boolean => {
        const view = buffer.subarray(0, n);
        socket.emit('data', socket[RAW] ? view : Buffer.from(view));
        return true;
      },
    },
  });
  return socket;
}

/**
 * Marks a socket's reads as consumed at once (a raw COPY reader copies every chunk before
 * it returns), so a reusing socket may hand out its own buffer. Other sockets ignore it.
 */
export function rawReads(socket: object, on: boolean): void {
  (socket as RawFlag)[RAW] = on;
}
