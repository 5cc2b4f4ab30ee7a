/**
 * `dockmirror mirror list | head -1`: once the reader has gone, every further write fails with EPIPE. Nobody is
 * left to read the rest, so the run ends at once and quietly, with 0 as for any output cut short by its reader;
 * without this, the unhandled error left the top-level await pending and Node exited 13 with a warning.
 */
export function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
}
