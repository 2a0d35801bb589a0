import { closeSync } from 'node:fs';
import { isatty } from 'node:tty';

/** stdin, stdout and stderr: those that were a terminal when the process started. */
const ON_A_TERMINAL = [0, 1, 2].filter((fd) => isatty(fd));

/**
 * Whether the terminal the process was started on has gone: its window was closed, or the
 * session that owned it ended. The kernel hangs the terminal up then, and from that moment it
 * answers every request with EIO, so a descriptor that was a terminal is one no longer (isatty).
 */
export function terminalGone(): boolean {
  return ON_A_TERMINAL.some((fd) => !isatty(fd));
}

/**
 * Closes stdin, stdout and stderr where they are a terminal that has gone, so that the process can
 * exit: Node 20 puts each terminal back as it found it at exit and aborts (SIGABRT, then SIGSEGV)
 * when the terminal refuses (src/node.cc ResetStdio: tcsetattr fails with EIO on a hung-up
 * terminal; nodejs/node#51519, fixed in Node 22 by nodejs/node#58200). It skips a descriptor that
 * was closed. Call it last, just before process.exit().
 */
export function releaseGoneTerminal(): void {
  for (const fd of ON_A_TERMINAL) {
    if (isatty(fd)) continue;
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing to put back there either.
    }
  }
}
