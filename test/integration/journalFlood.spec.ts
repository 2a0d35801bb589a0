import { execFileSync } from 'node:child_process';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LogEntry, LogSource, type LogsResponse } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, startHarness, waitFor } from './harness.js';

/**
 * One team's flood beside another team's quiet stream, on the embedded systemd: every worker of a
 * user manager is in the one system unit journald rate-limits by (user@<uid>.service), so with a
 * rate limit the flood would use up the quiet stream's budget too. The embedded journald runs
 * without one (embeddedSystemd.ts); the quiet stream's lines all arrive, in order.
 */
const FLOOD_LINES = 100_000;
const QUIET_LINES = 100;
const FLOOD_TEXT = 'flooding fabrikam with one line after another, as fast as it can';
const UNITS = {
  // As fast as journald takes them (awk blocks on its stdout when journald falls behind). One
  // process writes them all and then says so, so "flood done" is proof the lines were written: a
  // flood that never ran (a pipeline whose first command could not start printed its done line
  // all the same, and the journal then held none of its lines) is told from one the journal lost.
  'lit-stream-fabrikam@flood.service': `[Service]\nType=exec\nExecStart=/usr/bin/awk 'BEGIN { for (i = 0; i < ${FLOOD_LINES}; i++) print "${FLOOD_TEXT}"; print "flood done: " i " lines written"; fflush(); system("exec sleep infinity") }'\n`,
  // A line every 20 ms, each saying when it was written (ms since the epoch).
  'lit-stream-contoso@quiet.service': `[Service]\nType=exec\nExecStart=/bin/sh -c 'i=0; while [ $$i -lt ${QUIET_LINES} ]; do i=$$((i+1)); echo "quiet $$i $$(date +%%s%%3N)"; sleep 0.02; done; exec sleep infinity'\n`,
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness(UNITS);
});
afterAll(async () => {
  await h?.stop();
});

/** The flood's lines in the sandbox's journal, read directly (not through the server), matching `match` if given. */
function floodLinesInJournal(...match: string[]): number {
  return execFileSync('journalctl', [`--directory=${h.sandbox.journalDirectory}`, '-o', 'cat', ...match], { maxBuffer: 256 * 1024 * 1024 })
    .toString()
    .split('\n')
    .filter((line) => line === FLOOD_TEXT).length;
}

function read(team: string, name: string, tailLines: number): Promise<LogEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: LogEntry[] = [];
    const call = h.client.logs({ team, name, follow: false, afterCursor: '', tailLines }, new Metadata(), { deadline: Date.now() + 30_000 });
    call.on('data', (response: LogsResponse) => entries.push(...response.entries));
    call.on('error', reject);
    call.on('end', () => resolve(entries));
  });
}

describe("a flood beside a quiet stream (one team's worker writing as fast as it can)", () => {
  it("leaves every line of the quiet stream arriving, in order; and says how fast and how late", async () => {
    const began = Date.now();
    await h.sandbox.withManager(async (m) => {
      await m.StartUnit('lit-stream-fabrikam@flood.service', 'replace');
      await m.StartUnit('lit-stream-contoso@quiet.service', 'replace');
    });
    const quiet = async () => (await read('contoso', 'quiet', QUIET_LINES + 10)).filter((entry) => entry.message.startsWith('quiet '));
    await waitFor(async () => (await quiet()).length === QUIET_LINES, 60_000, `the quiet stream's ${QUIET_LINES} lines`);
    await waitFor(async () => (await read('fabrikam', 'flood', 1))[0]?.message === `flood done: ${FLOOD_LINES} lines written`, 120_000, 'the flood to be written whole');
    const floodSeconds = (Date.now() - began) / 1000;
    const lines = await quiet();
    expect(lines.map((entry) => Number(entry.message.split(' ')[1]))).toEqual(Array.from({ length: QUIET_LINES }, (_, i) => i + 1));
    const delays = lines.map((entry) => entry.time!.getTime() - Number(entry.message.split(' ')[2]));
    // Every line of the flood is in the journal too: slowed by its own stdout, never dropped.
    // (journalctl has printed one or two entries twice when reading across files rotated during
    // the flood, so at least, not exactly, this many.)
    const flooded = floodLinesInJournal('_SYSTEMD_USER_UNIT=lit-stream-fabrikam@flood.service');
    const gaps = [...(await read('contoso', 'quiet', 1000)), ...(await read('fabrikam', 'flood', 1000))].filter((entry) => entry.source === LogSource.LOG_SOURCE_JOURNAL);
    // The numbers for the record (bench/README.md and the closing note quote them).
    console.log(
      `flood: ${FLOOD_LINES} lines written in ${floodSeconds.toFixed(1)} s (about ${Math.round(FLOOD_LINES / floodSeconds)} lines/s), ` +
        `${flooded} of them in the journal; quiet: ${lines.length}/${QUIET_LINES} lines arrived, ` +
        `delay median ${delays.sort((a, b) => a - b)[delays.length >> 1]} ms, max ${delays.at(-1)} ms`,
    );
    // Short of it: say whether the lines are in the journal under another unit, or not at all.
    expect(flooded, `flood lines in the journal, whoever journald says wrote them: ${flooded < FLOOD_LINES ? floodLinesInJournal() : flooded}`).toBeGreaterThanOrEqual(FLOOD_LINES);
    expect(gaps).toEqual([]);
  }, 180_000);
});
