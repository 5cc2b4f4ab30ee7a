import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';

/** What an endpoint does with one request: its path (the query included) and the socket to answer on. */
export type Behaviour = (path: string, socket: Socket) => void;

/**
 * A unix-socket endpoint at `<dir>/<name>.sock` that reads each request's head and hands its path to `behaviour`.
 * The server joins `servers`, for the test file's afterAll to close; the result is its `unix://` address.
 */
export async function serve(dir: string, servers: Server[], name: string, behaviour: Behaviour): Promise<string> {
  const path = join(dir, `${name}.sock`);
  const server = createServer((socket) => {
    let head = '';
    socket.on('error', () => undefined);
    socket.on('data', (data) => {
      if (head.includes('\r\n\r\n')) return;
      head += data.toString('latin1');
      if (head.includes('\r\n\r\n')) behaviour(head.split(' ')[1] ?? '/', socket);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  return `unix://${path}`;
}

/** Answers `socket` with one whole HTTP response: `status` (e.g. `200 OK`) and a JSON `body`, then closes it. */
export function answer(socket: Socket, status: string, body: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

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
