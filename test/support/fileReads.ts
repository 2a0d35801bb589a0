import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** fs functions that read a file, a directory or a file's metadata, by module. */
const PROMISE_READS = ['readFile', 'readdir', 'open', 'opendir', 'stat', 'lstat', 'readlink', 'access', 'realpath'] as const;
const CALLBACK_READS = ['readFile', 'readdir', 'open', 'opendir', 'stat', 'lstat', 'readlink', 'access', 'realpath', 'exists'] as const;
const SYNC_READS = [
  'readFileSync',
  'readdirSync',
  'openSync',
  'opendirSync',
  'statSync',
  'lstatSync',
  'readlinkSync',
  'accessSync',
  'realpathSync',
  'existsSync',
] as const;

export interface FileReads {
  /** Every path read under the watched prefixes so far, in order. */
  readonly paths: string[];
  /** Stops recording; the fs functions are the originals again. */
  stop(): void;
}

/**
 * Records every path under `prefixes` (e.g. `/proc/`, `/sys/`) that this process reads through
 * node:fs — promises, callbacks and sync alike, however the code under test imported them: the
 * functions are replaced on the modules' objects and syncBuiltinESMExports() makes the named ESM
 * imports (`import { readFile } from 'node:fs/promises'`) see the replacements. The server runs in
 * this process (the harness), so its reads are counted; files read through a FileHandle it opened
 * before recording began are not.
 */
export function recordFileReads(prefixes: readonly string[]): FileReads {
  const paths: string[] = [];
  const restore: Array<() => void> = [];
  const note = (path: unknown) => {
    const text = path instanceof URL ? path.pathname : Buffer.isBuffer(path) ? path.toString() : String(path);
    if (prefixes.some((prefix) => text.startsWith(prefix))) paths.push(text);
  };
  const wrap = (module: object, names: readonly string[]) => {
    const target = module as Record<string, unknown>;
    for (const name of names) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      const wrapped = function (this: unknown, path: unknown, ...rest: unknown[]) {
        note(path);
        return (original as (...args: unknown[]) => unknown).call(this, path, ...rest);
      };
      target[name] = wrapped;
      restore.push(() => (target[name] = original));
    }
  };
  wrap(fs.promises, PROMISE_READS);
  wrap(fs, [...CALLBACK_READS, ...SYNC_READS]);
  syncBuiltinESMExports();
  return {
    paths,
    stop() {
      for (const undo of restore.splice(0)) undo();
      syncBuiltinESMExports();
    },
  };
}
