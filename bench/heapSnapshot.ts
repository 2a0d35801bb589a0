import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/**
 * The live heap of a Node process, measured from outside: the process runs with
 * `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR` (SNAPSHOT_NODE_ARGS), the soak sends it the
 * signal and reads the snapshot it writes. V8 collects all garbage before it takes a snapshot and
 * leaves unreachable objects out, so the sum of the nodes' self sizes is what survives a full
 * collection, which `process.memoryUsage().heapUsed` at an arbitrary moment is not.
 * (Node: https://nodejs.org/docs/latest-v20.x/api/cli.html#--heapsnapshot-signalsignal;
 * the format: node_fields / node_types in `snapshot.meta`, one flat `nodes` array.)
 */
export interface HeapSummary {
  /** Sum of every node's self size: the heap that survives a full GC. */
  readonly liveBytes: number;
  readonly nodes: number;
  /** Objects grouped as DevTools' Summary view groups them (constructor name, or `(closure)`, `(string)`…). */
  readonly byConstructor: ReadonlyMap<string, { count: number; selfBytes: number }>;
}

export const SNAPSHOT_SIGNAL = 'SIGUSR2';

export function snapshotNodeArgs(dir: string): string[] {
  return [`--heapsnapshot-signal=${SNAPSHOT_SIGNAL}`, `--diagnostic-dir=${dir}`];
}

/**
 * Signals `pid` to write a heap snapshot into `dir` (where it was told to by snapshotNodeArgs),
 * waits until it is written, summarises it and deletes the file. The process is busy (its event
 * loop blocked) while V8 collects and writes: seconds for a heap of tens of MB.
 */
export async function liveHeapOf(pid: number, dir: string, timeoutMs = 120_000): Promise<HeapSummary> {
  const before = new Set(await snapshotFiles(dir));
  process.kill(pid, SNAPSHOT_SIGNAL);
  const deadline = performance.now() + timeoutMs;
  let file: string | undefined;
  while (!file) {
    file = (await snapshotFiles(dir)).find((name) => !before.has(name));
    if (!file) await waitOrFail(deadline, `no heap snapshot from pid ${pid} in ${dir}`);
  }
  const path = join(dir, file);
  try {
    // Written while the process holds it open; complete once it has closed it.
    while (await isOpenBy(pid, path)) await waitOrFail(deadline, `heap snapshot ${path} still being written`);
    return summarizeHeapSnapshot(JSON.parse(await readFile(path, 'utf8')) as HeapSnapshot);
  } finally {
    await rm(path, { force: true });
  }
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Node types whose objects DevTools groups under one pseudo-constructor, as it names them. */
const GROUPED: Record<string, string> = {
  hidden: '(system)',
  array: '(array)',
  string: '(string)',
  'concatenated string': '(string)',
  'sliced string': '(string)',
  code: '(compiled code)',
  closure: '(closure)',
  regexp: '(regexp)',
  number: '(heap number)',
  symbol: '(symbol)',
  bigint: '(bigint)',
  'object shape': '(object shape)',
};

export function summarizeHeapSnapshot(snapshot: HeapSnapshot): HeapSummary {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const { nodes, strings } = snapshot;
  const byConstructor = new Map<string, { count: number; selfBytes: number }>();
  let liveBytes = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const size = nodes[i + sizeAt]!;
    liveBytes += size;
    const type = types[nodes[i + typeAt]!]!;
    if (type === 'synthetic') continue; // the roots: no size of their own
    const key = GROUPED[type] ?? strings[nodes[i + nameAt]!]!;
    const group = byConstructor.get(key);
    if (group) {
      group.count++;
      group.selfBytes += size;
    } else byConstructor.set(key, { count: 1, selfBytes: size });
  }
  return { liveBytes, nodes: nodes.length / width, byConstructor };
}

export interface ConstructorGrowth {
  readonly constructor: string;
  readonly count: number;
  readonly countChange: number;
  readonly selfBytes: number;
  readonly selfBytesChange: number;
}

/** The `top` constructors whose objects' self size grew most from `from` to `to`. */
export function heapGrowth(from: HeapSummary, to: HeapSummary, top = 15): ConstructorGrowth[] {
  const names = new Set([...from.byConstructor.keys(), ...to.byConstructor.keys()]);
  const none = { count: 0, selfBytes: 0 };
  return [...names]
    .map((name) => {
      const a = from.byConstructor.get(name) ?? none;
      const b = to.byConstructor.get(name) ?? none;
      return { constructor: name, count: b.count, countChange: b.count - a.count, selfBytes: b.selfBytes, selfBytesChange: b.selfBytes - a.selfBytes };
    })
    .sort((x, y) => y.selfBytesChange - x.selfBytesChange)
    .slice(0, top);
}

async function snapshotFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.heapsnapshot'));
}

async function isOpenBy(pid: number, path: string): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.includes(path);
}

async function waitOrFail(deadline: number, what: string): Promise<void> {
  if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
  await new Promise((resolve) => setTimeout(resolve, 200));
}
