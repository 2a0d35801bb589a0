import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ClientReadableStream, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LogEntry, LogSource, type LogsRequest, type LogsResponse } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, rpc, startHarness, waitFor } from './harness.js';

/**
 * Logs through the real server, read from the embedded systemd's own journal. The `feed` worker
 * echoes what the spec writes into a FIFO (stdout, or stderr for lines starting `err:`), so each
 * line is one the spec chose.
 */
const FEED = 'lit-stream-contoso@feed.service';
const FLOODER = 'lit-stream-contoso-eu@flooder.service';
const TICKER = 'lit-stream-contoso@ticker.service';
const BIG = 'lit-stream-contoso@big.service';
/** Fields that tie an entry to a unit for journalctl, but that any process may set in its own entries. */
const FORGED_FIELDS = ['USER_UNIT', 'UNIT', 'OBJECT_SYSTEMD_UNIT', 'OBJECT_SYSTEMD_USER_UNIT', 'COREDUMP_USER_UNIT'];
const UNITS = {
  // In a unit file `$$` is a `$` and `%%` a `%` (systemd.service(5), systemd.unit(5)); %t is the
  // manager's runtime directory.
  [FEED]: `[Service]\nType=exec\nExecStart=/bin/sh -c 'exec 3<>%t/feed.fifo; while IFS= read -r line <&3; do case "$$line" in err:*) printf "%%s\\n" "$\${line#err:}" >&2;; *) printf "%%s\\n" "$$line";; esac; done'\n`,
  // Another team's worker that forges a journal entry claiming to be systemd about contoso's feed.
  'lit-stream-contoso-eu@forger.service':
    "[Service]\nType=exec\nExecStart=/bin/sh -c 'printf \"MESSAGE=forged by contoso-eu\\nUSER_UNIT=lit-stream-contoso@feed.service\\n\" | logger --journald; exec sleep infinity'\n",
  // Another team's worker that writes 25 entries naming contoso's feed in every field journalctl
  // matches a unit's entries by (journalctl(1), -u, --user-unit), then exits.
  [FLOODER]: `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'for field in ${FORGED_FIELDS.join(' ')}; do for i in 1 2 3 4 5; do printf "MESSAGE=forged $$field $$i\\nFORGED_BY=flooder\\n$$field=${FEED}\\n" | logger --journald; done; done'\n`,
  // Writes one entry of 2 MiB through the journal's native protocol, then a line on stdout.
  [BIG]: `[Service]\nType=exec\nExecStart=/usr/bin/python3 ${join(process.cwd(), 'test/fixtures/journalSend.py')} 2097152\n`,
  // Writes a numbered line every 15 ms until stopped.
  [TICKER]: `[Service]\nType=exec\nExecStart=/bin/sh -c 'i=0; while :; do i=$$((i+1)); echo "tick $$i"; sleep 0.015; done'\n`,
};

let h: Harness;
let fifo: string;

beforeAll(async () => {
  h = await startHarness(UNITS);
  // %t in the unit: the manager's runtime directory.
  fifo = join(h.sandbox.runtimeDir, 'feed.fifo');
  execFileSync('mkfifo', [fifo]);
  await h.sandbox.withManager((m) => m.StartUnit(FEED, 'replace'));
  await waitFor(async () => (await h.unitState(FEED)).ActiveState === 'active', 10_000, 'the feed to run');
});

afterAll(async () => {
  await h?.stop();
});

/** Has the feed worker write these lines (raw bytes allowed), one per line. */
async function say(...lines: Array<string | Buffer>): Promise<void> {
  await writeFile(fifo, Buffer.concat(lines.map((line) => Buffer.concat([Buffer.from(line), Buffer.from('\n')]))), { flag: 'a' });
}

const feed = { team: 'contoso', name: 'feed' };

function logsCall(request: Partial<LogsRequest>, deadlineMs?: number): ClientReadableStream<LogsResponse> {
  const full: LogsRequest = { team: 'contoso', name: 'feed', follow: false, afterCursor: '', ...request };
  return h.client.logs(full, new Metadata(), deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs });
}

/** Every entry of a call that ends by itself. */
function readAll(request: Partial<LogsRequest>): Promise<LogEntry[]> {
  return new Promise((resolve, reject) => {
    const entries: LogEntry[] = [];
    const call = logsCall(request, 20_000);
    call.on('data', (response: LogsResponse) => entries.push(...response.entries));
    call.on('error', reject);
    call.on('end', () => resolve(entries));
  });
}

/** A following call and what it has received so far. */
function follow(request: Partial<LogsRequest> = {}) {
  const received: LogsResponse[] = [];
  let error: ServiceError | undefined;
  const call = logsCall({ tailLines: 0, ...request, follow: true });
  call.on('data', (response: LogsResponse) => received.push(response));
  call.on('error', (e: ServiceError) => (error = e));
  return {
    call,
    get error() {
      return error;
    },
    messages: () => received.flatMap((response) => response.entries.map((entry) => entry.message)),
    received,
  };
}

/** The server's journalctl processes (the server runs in this process). */
function journalctls(): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
      if (comm === 'journalctl' && Number(rest?.split(' ')[1]) === process.pid && !rest?.startsWith('Z')) count++;
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

const worker = (entries: LogEntry[]) => entries.filter((entry) => entry.source === LogSource.LOG_SOURCE_WORKER);

describe('Logs: a stream\'s lines from the journal', () => {
  it('sends the newest lines (10 unless asked), oldest first, each with time, priority, pid and cursor', async () => {
    await say(...Array.from({ length: 15 }, (_, i) => `tail ${i}`));
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === 'tail 14', 10_000, 'the last line');
    const ten = worker(await readAll({}));
    expect(ten.map((entry) => entry.message)).toEqual(Array.from({ length: 10 }, (_, i) => `tail ${i + 5}`));
    const mainPid = (await h.unitState(FEED)).MainPID;
    for (const entry of ten) {
      expect(entry.priority).toBe(6);
      expect(entry.pid).toBe(mainPid);
      expect(entry.cursor).toMatch(/^s=[0-9a-f]+;i=[0-9a-f]+;/);
      expect(Math.abs(entry.time!.getTime() - Date.now())).toBeLessThan(60_000);
    }
    expect(worker(await readAll({ tailLines: 3 })).map((entry) => entry.message)).toEqual(['tail 12', 'tail 13', 'tail 14']);
  });

  it("includes systemd's own lines about the stream, marked as such", async () => {
    const entries = await readAll({ tailLines: 1000 });
    const fromSystemd = entries.filter((entry) => entry.source === LogSource.LOG_SOURCE_SYSTEMD).map((entry) => entry.message);
    expect(fromSystemd).toContain(`Started ${FEED}.`);
  });

  it('follows: a new line reaches a following caller', async () => {
    const follower = follow({ tailLines: 1 });
    try {
      // Its first line (the newest) means it has joined the follower.
      await waitFor(() => follower.received.length > 0, 10_000, 'the follower to join');
      await say('followed line');
      await waitFor(() => follower.messages().includes('followed line'), 5_000, 'the new line through Logs');
      expect(follower.error).toBeUndefined();
    } finally {
      follower.call.cancel();
    }
  });

  it('resumes after a cursor with no line lost or repeated, then follows', async () => {
    await say('resume 1', 'resume 2', 'resume 3');
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === 'resume 3', 10_000, 'resume 3');
    const [last] = worker(await readAll({ tailLines: 1 }));
    await say('resume 4', 'resume 5');
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === 'resume 5', 10_000, 'resume 5');
    expect(worker(await readAll({ afterCursor: last!.cursor })).map((entry) => entry.message)).toEqual(['resume 4', 'resume 5']);
    // Resuming and following while the stream writes all the time: lines are written before the
    // call, while the server joins the shared follower and reads the backlog, and after it hands
    // over to the follower. Each must come once, in order, none missing.
    let written = 5;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await say(`resume ${++written}`);
        await new Promise((resolve) => setTimeout(resolve, 2)); // paces the writer, waits for nothing
      }
    })();
    const follower = follow({ afterCursor: last!.cursor });
    const numbers = () => follower.messages().filter((message) => message.startsWith('resume ')).map((message) => Number(message.slice(7)));
    try {
      const openedAt = written;
      await waitFor(() => numbers().filter((n) => n > openedAt).length >= 50, 20_000, 'fifty lines written after the call began');
    } finally {
      writing = false;
      await writer;
    }
    try {
      await waitFor(() => numbers().includes(written), 10_000, 'the last line written');
      expect(numbers()).toEqual(Array.from({ length: written - 3 }, (_, i) => i + 4));
    } finally {
      follower.call.cancel();
    }
  });

  it('keeps priorities, stderr, bytes that are not UTF-8, and cuts a 64 KiB line with a marker', async () => {
    await say('<3>an error', 'err:to stderr', Buffer.from([0xff, 0xfe, 0x20, 0x6f, 0x6b]), 'x'.repeat(64 * 1024), 'after the long one');
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === 'after the long one', 10_000, 'the lines');
    const entries = worker(await readAll({ tailLines: 6 }));
    const byText = (text: string) => entries.find((entry) => entry.message === text);
    expect(byText('an error')?.priority).toBe(3);
    expect(byText('to stderr')?.priority).toBe(6);
    expect(byText('\uFFFD\uFFFD ok')).toBeDefined();
    // journald splits the line at its LineMax (48 KiB); the server cuts what it sends at 16 KiB.
    const long = entries.filter((entry) => entry.message.startsWith('xxxx'));
    expect(long.length).toBeGreaterThanOrEqual(1);
    expect(long[0]!.message).toMatch(/^x{16384}… \[cut: \d+ bytes in all\]$/);
    for (const entry of long) expect(Buffer.byteLength(entry.message)).toBeLessThanOrEqual(16 * 1024 + 64);
  });

  it('sends an entry too long to read whole (2 MiB through the native protocol) cut with its length, never skips it', async () => {
    await h.sandbox.withManager((m) => m.StartUnit(BIG, 'replace'));
    await waitFor(async () => worker(await readAll({ name: 'big', tailLines: 1 }))[0]?.message === 'after-big', 10_000, 'the line after the big one');
    const lines = worker(await readAll({ name: 'big', tailLines: 10 })).map((entry) => entry.message);
    expect(lines.slice(-2)).toEqual([expect.stringMatching(/^x{16384}… \[cut: 2097152 bytes in all\]$/), 'after-big']);
  });

  it('shares one journalctl among 100 followers of a stream, all of whom get each line, and ends it when they leave', async () => {
    expect(journalctls()).toBe(0);
    const followers = Array.from({ length: 100 }, () => follow({ tailLines: 1 }));
    try {
      // Each has had its first line (the newest), so each has joined the follower.
      await waitFor(() => followers.every((f) => f.received.length > 0), 20_000, '100 followers to join');
      expect(journalctls()).toBe(1);
      await say('to all hundred');
      await waitFor(() => followers.every((f) => f.messages().includes('to all hundred')), 10_000, 'the line to reach all 100');
      expect(journalctls()).toBe(1);
    } finally {
      for (const f of followers) f.call.cancel();
    }
    await waitFor(() => journalctls() === 0, 10_000, 'the shared journalctl to end');
  });

  it('ends its journalctl when the one follower cancels, and the call ends CANCELLED', async () => {
    const follower = follow();
    // The follower's journalctl --follow itself, not the one-entry read that comes before it.
    await waitFor(() => h.server.journalFollowers.processes === 1 && journalctls() === 1, 10_000, 'the follower to start');
    follower.call.cancel();
    await waitFor(() => journalctls() === 0, 10_000, 'journalctl to end');
    await waitFor(() => follower.error !== undefined, 5_000, 'the call to end');
    expect(follower.error?.code).toBe(status.CANCELLED);
  });

  it('leaves no journalctl behind when follows are cancelled at any moment while they start', async () => {
    expect(journalctls()).toBe(0);
    // Cancelled 0–20 ms after they open: before, while and after each joins the unit's follower.
    // No line is written meanwhile, so nothing but the cancellation can end a share.
    const calls: ReturnType<typeof follow>[] = [];
    for (let i = 0; i < 24; i++) {
      const follower = follow();
      calls.push(follower);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
      follower.call.cancel();
    }
    await waitFor(() => h.server.journalFollowers.processes === 0 && journalctls() === 0, 10_000, 'every follower to end');
    await waitFor(() => calls.every((f) => f.error?.code === status.CANCELLED), 5_000, 'every call to end CANCELLED');
  });

  it('counts as dropped only lines it never sent: a long backlog read while the stream writes fast', async () => {
    // A backlog the client takes slowly (it pauses), while the worker writes more than a
    // follower's buffer holds (1,000 lines): lines the backlog itself then sends are not dropped.
    await say('backlog start');
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === 'backlog start', 10_000, 'the first line');
    const [start] = worker(await readAll({ tailLines: 1 }));
    const backlog = Array.from({ length: 3_000 }, (_, i) => `backlog ${i} ${'b'.repeat(300)}`);
    await say(...backlog);
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === backlog.at(-1), 20_000, 'the backlog');
    const follower = follow({ afterCursor: start!.cursor });
    follower.call.pause();
    await waitFor(() => h.server.journalFollowers.processes === 1, 10_000, 'the follower to start');
    const live = Array.from({ length: 1_500 }, (_, i) => `live ${i}`);
    await say(...live);
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === live.at(-1), 20_000, 'the live lines in the journal');
    follower.call.resume();
    const dropped = () => follower.received.reduce((sum, response) => sum + response.droppedLines, 0);
    const sent = () => follower.messages().filter((message) => message.startsWith('backlog ') || message.startsWith('live '));
    try {
      await waitFor(() => sent().length + dropped() >= backlog.length + live.length, 30_000, 'every line sent or counted as dropped');
      expect(new Set(sent()).size).toBe(sent().length); // none twice
      expect(sent().length + dropped()).toBe(backlog.length + live.length);
    } finally {
      follower.call.cancel();
    }
  });

  it("never shows another team's worker posing as systemd about this stream", async () => {
    await h.sandbox.withManager((m) => m.StartUnit('lit-stream-contoso-eu@forger.service', 'replace'));
    // The forged entry is in the journal, matched by the field it forged...
    await waitFor(
      () => execFileSync('journalctl', [`--directory=${h.sandbox.journalDirectory}`, `--user-unit=${FEED}`, '-o', 'cat']).toString().includes('forged by contoso-eu'),
      10_000,
      'the forged entry',
    );
    // ...but Logs sends only what the unit's processes or its manager wrote.
    const entries = await readAll({ tailLines: 1000 });
    expect(entries.map((entry) => entry.message)).not.toContain('forged by contoso-eu');
  });

  it("gives the victim's newest lines exactly, whatever another team's worker writes in its name", async () => {
    await say(...Array.from({ length: 6 }, (_, i) => `victim ${i + 1}`));
    await waitFor(async () => worker(await readAll({ tailLines: 1 }))[0]?.message === 'victim 6', 10_000, 'the victim lines');
    const before = await readAll({ tailLines: 7 });
    const start = before.find((entry) => entry.message === 'victim 1');
    const resumeFrom = before[before.indexOf(start!) - 1]!;
    // The flooder writes its entries after the victim's lines: each is among the newest that
    // journalctl matches for the victim's unit.
    await h.sandbox.withManager((m) => m.StartUnit(FLOODER, 'replace'));
    await waitFor(
      () => execFileSync('journalctl', [`--directory=${h.sandbox.journalDirectory}`, '-o', 'cat', 'FORGED_BY=flooder']).toString().split('\n').filter((text) => /^forged [A-Z_]+ \d$/.test(text)).length === 25,
      10_000,
      'the 25 forged entries in the journal',
    );
    const victim = Array.from({ length: 6 }, (_, i) => `victim ${i + 1}`);
    expect((await readAll({ tailLines: 6 })).map((entry) => entry.message)).toEqual(victim);
    expect((await readAll({ afterCursor: resumeFrom.cursor, tailLines: 6 })).map((entry) => entry.message)).toEqual(victim);
    const status = await rpc(h.client, h.client.getStatus, { ...feed, logLines: 6 });
    expect(status.logs.map((entry) => entry.message)).toEqual(victim);
  });

  it('resumes after a cursor exactly once, in order, while another caller follows and the stream writes every 15 ms', async () => {
    await h.sandbox.withManager((m) => m.StartUnit(TICKER, 'replace'));
    const ticks = (entries: readonly { message: string }[]) => entries.flatMap((entry) => (/^tick (\d+)$/.exec(entry.message) ? [Number(entry.message.slice(5))] : []));
    const other = follow({ name: 'ticker' });
    try {
      await waitFor(() => ticks(other.received.flatMap((response) => response.entries)).length > 20, 10_000, 'the other follower to get lines');
      for (let round = 0; round < 8; round++) {
        // The newest line, read straight from the journal files: the shared follower learns of
        // it only when journald tells followers (every 250 ms or so), so it is behind the cursor.
        const [last] = await readAll({ name: 'ticker', tailLines: 1 });
        const from = ticks([last!])[0]!;
        const resumed = follow({ name: 'ticker', afterCursor: last!.cursor, tailLines: undefined });
        try {
          await waitFor(() => ticks(resumed.received.flatMap((response) => response.entries)).length >= 30, 10_000, 'thirty lines after the cursor');
          const got = ticks(resumed.received.flatMap((response) => response.entries));
          expect(got.slice(0, 30)).toEqual(Array.from({ length: 30 }, (_, i) => from + 1 + i));
          expect(resumed.received.every((response) => response.droppedLines === 0)).toBe(true);
        } finally {
          resumed.call.cancel();
        }
        // Without follow: the lines after the cursor, from the next one on, none twice.
        const after = ticks(await readAll({ name: 'ticker', afterCursor: last!.cursor }));
        expect(after.length).toBeGreaterThanOrEqual(30);
        expect(after).toEqual(after.map((_, i) => from + 1 + i));
      }
    } finally {
      other.call.cancel();
      await h.sandbox.withManager((m) => m.StopUnit(TICKER, 'replace'));
    }
  });

  it('refuses what it cannot do with the right code', async () => {
    const codeOf = async (request: Partial<LogsRequest>) => readAll(request).then(() => status.OK, (error: ServiceError) => error.code);
    expect(await codeOf({ name: 'no-such-stream' })).toBe(status.NOT_FOUND);
    expect(await codeOf({ name: 'bad*name' })).toBe(status.INVALID_ARGUMENT);
    expect(await codeOf({ afterCursor: '--all' })).toBe(status.INVALID_ARGUMENT);
    expect(await codeOf({ tailLines: 1_000_000 })).toBe(status.OK); // capped at 10,000, not refused
  });
});

describe('Logs when journald drops lines of a stream (its rate limit)', () => {
  // 500 lines at once, past journald's limit of 50 a second here; after the second is over, one
  // more: journald then files its notice of those it dropped, and that line.
  const FLOOD = 'lit-stream-contoso@flood.service';
  const units = {
    [FLOOD]: `[Service]\nType=exec\nExecStart=/bin/sh -c 'i=0; while [ $$i -lt 500 ]; do echo "flood $$i"; i=$$((i+1)); done; sleep 1.5; echo "after the flood"; exec sleep infinity'\n`,
  };
  let limited: Harness;
  beforeAll(async () => {
    limited = await startHarness(units, {}, { journaldRateLimit: { intervalMs: 1000, burst: 50 } });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  it("sends journald's notice as a journal line with the count it dropped, where the gap is, to readers and followers", async () => {
    const read = (request: Partial<LogsRequest>) =>
      new Promise<LogEntry[]>((resolve, reject) => {
        const entries: LogEntry[] = [];
        const call = limited.client.logs({ team: 'contoso', name: 'flood', follow: false, afterCursor: '', ...request }, new Metadata(), { deadline: Date.now() + 20_000 });
        call.on('data', (response: LogsResponse) => entries.push(...response.entries));
        call.on('error', reject);
        call.on('end', () => resolve(entries));
      });
    const following: LogEntry[] = [];
    const follower = limited.client.logs({ team: 'contoso', name: 'flood', follow: true, afterCursor: '', tailLines: 0 }, new Metadata());
    follower.on('data', (response: LogsResponse) => following.push(...response.entries));
    follower.on('error', () => undefined);
    try {
      await waitFor(() => limited.server.journalFollowers.processes === 1, 10_000, 'the follower to start');
      await limited.sandbox.withManager((m) => m.StartUnit(FLOOD, 'replace'));
      await waitFor(async () => (await read({ tailLines: 1 }))[0]?.message === 'after the flood', 20_000, 'the line after the flood');
      // journald tells followers of new entries a moment (some 0.5 s) after it files them.
      await waitFor(() => following.some((entry) => entry.message === 'after the flood'), 10_000, 'the follower to have the line after the flood');
      for (const entries of [await read({ tailLines: 1000 }), following]) {
        const gap = entries.find((entry) => entry.source === LogSource.LOG_SOURCE_JOURNAL);
        expect(gap?.message).toMatch(/^Suppressed \d+ messages from /);
        expect(Number(gap?.suppressedLines)).toBeGreaterThan(0);
        const kept = entries.filter((entry) => entry.message.startsWith('flood ')).length;
        expect(kept).toBeLessThan(500);
        // Where the lines are missing: after the last kept one, before the next.
        expect(entries.indexOf(gap!)).toBeLessThan(entries.findIndex((entry) => entry.message === 'after the flood'));
      }
    } finally {
      follower.cancel();
    }
  });
});

describe('Logs when the journal cannot be read', () => {
  it('answers FAILED_PRECONDITION saying how to fix it, and GetStatus still answers', async () => {
    const empty = await startHarness(UNITS, { journalDirectory: join(h.sandbox.root, 'config') });
    try {
      const error = await new Promise<ServiceError>((resolve) => {
        const call = empty.client.logs({ ...feed, follow: false, afterCursor: '' }, new Metadata(), { deadline: Date.now() + 20_000 });
        call.on('data', () => undefined);
        call.on('error', resolve);
      });
      expect(error.code).toBe(status.FAILED_PRECONDITION);
      expect(error.details).toMatch(/no journal files in .*config/);
      const response = await new Promise<{ logsUnavailable: string }>((resolve, reject) =>
        empty.client.getStatus({ ...feed, logLines: 10 }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      expect(response.logsUnavailable).toMatch(/no journal files/);
    } finally {
      await empty.stop();
    }
  });
});
