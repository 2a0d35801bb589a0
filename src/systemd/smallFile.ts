import { open } from 'node:fs/promises';

/** Bytes read at a time: a process's status or smaps_rollup, a cgroup's cgroup.procs fit once. */
const CHUNK = 8_192;
/** More than any line of the files read this way: a read that leaves this much room was the last. */
const LINE_ROOM = 256;

/**
 * The text of a small file of /proc or /sys, read with one open, as few reads as it takes and one
 * close. These files report a size of 0 (they are generated as they are read), so readFile() stats
 * the file and then reads until a read returns nothing: five round trips to libuv's threads where
 * three do, for each of the many small files a walk of the usage sampler reads. A read of such a
 * file (a seq_file) fills the buffer with whole lines, or returns what is left (single_open files:
 * status, smaps_rollup): one that leaves room for another line was the last.
 */
export async function readSmallFile(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK, null);
      if (bytesRead > 0) chunks.push(chunk.subarray(0, bytesRead));
      if (bytesRead <= CHUNK - LINE_ROOM) break;
    }
    return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
  } finally {
    await handle.close();
  }
}
