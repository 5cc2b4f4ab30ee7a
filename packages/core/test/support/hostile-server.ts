import type { Socket } from 'node:net';

/**
 * For hostile Engine endpoints: writes `chunk` to `socket` until the peer goes away, honouring backpressure, and
 * counts in `sent[name]` what was written, so a test can show the client hung up after its bound.
 */
export function forever(sent: Record<string, number>, name: string, socket: Socket, chunk: Buffer): void {
  sent[name] = 0;
  const pump = (): void => {
    while (!socket.destroyed && socket.writable) {
      sent[name] = (sent[name] ?? 0) + chunk.length;
      if (!socket.write(chunk)) return;
    }
  };
  socket.on('drain', pump);
  pump();
}
