// Socket reads into one buffer per connection. By default every socket read allocates a new
// buffer, and V8 counts those bytes towards its next full mark-compact: under a 128 KiB write
// load that cost more CPU than the rest of the receive path. net.Socket's `onread` option reads
// into a caller's buffer instead, but only a Socket we construct takes it, so the accepted socket
// (the server must listen with pauseOnConnect, so it never started reading) hands its native
// handle to a new Socket, as Node's own handle passing does.
import { Socket, type SocketConstructorOpts } from "node:net";

/** A read of 256 KiB takes two 128 KiB writes' PDUs at once: fewer reads and callbacks. */
export const READ_BUFFER_BYTES = 256 * 1024;

/**
 * `chunk` is valid only during the call when `transient` (the next read overwrites it); otherwise
 * the callee may keep it.
 */
export type ChunkHandler = (chunk: Buffer, transient: boolean) => void;

/**
 * Returns the socket to use from now on: `accepted`'s connection with its reads delivered to
 * `onChunk`. Falls back to `accepted` and its 'data' events when its handle cannot be taken
 * (a Node without `_handle`), so the target never depends on the optimisation.
 */
export function readIntoBuffer(accepted: Socket, onChunk: ChunkHandler): Socket {
  const holder = accepted as unknown as { _handle?: object | null };
  const handle = holder._handle;
  if (handle === undefined || handle === null || accepted.destroyed) {
    accepted.on("data", (chunk: Buffer) => onChunk(chunk, false));
    accepted.resume();
    return accepted;
  }
  // The accepted Socket lets go of the handle first, so destroying it (which settles the net
  // server's connection count) does not close the connection.
  holder._handle = null;
  accepted.destroy();
  const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  // A native stream handle, as Node's own handle passing gives the constructor (the typings only
  // know BoundSocket handles).
  const options: Omit<SocketConstructorOpts, "handle"> & { handle: object } = {
    handle,
    onread: {
      buffer,
      callback: (nread: number, buf: Uint8Array): boolean => {
        onChunk((buf as Buffer).subarray(0, nread), true);
        return true;
      },
    },
  };
  return new Socket(options as SocketConstructorOpts);
}
