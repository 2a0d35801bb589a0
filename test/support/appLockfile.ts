import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * A stranger's app for the packaging spec: `package.json` and `package-lock.json` of an app that
 * depends on the client package's tarball and on a few packages of this repository's tree (e.g.
 * `@types/node`), every version as this repository's package-lock.json resolved it, so `npm ci
 * --offline` installs it from npm's cache alone. (`npm ci` of this repository fills the cache with
 * tarballs but not with the registry's package metadata, which a plain `npm install --offline`
 * would need; a lockfile with versions and integrities needs none.)
 *
 * The client's dependency tree is taken from the lock's entry for its workspace, so the test also
 * proves the tarball declares every dependency it needs: a missing one is missing in the app.
 */
export function writeAppWithClient(dir: string, clientTarball: string, clientWorkspace: string, extra: readonly string[]): void {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockEntry> };
  const tree = new LockTree(lock.packages);
  const client = tree.entry(clientWorkspace);
  const tarball = relative(dir, clientTarball);
  const dependencies: Record<string, string> = { [client.name!]: `file:${tarball}` };
  const packages: Record<string, LockEntry> = {
    [`node_modules/${client.name}`]: {
      version: client.version,
      resolved: `file:${tarball}`,
      integrity: `sha512-${createHash('sha512').update(readFileSync(clientTarball)).digest('base64')}`,
      license: client.license,
      dependencies: client.dependencies,
      bin: client.bin,
    },
  };
  // The workspace's own nested node_modules (none while everything hoists) go under the package.
  for (const [path, entry] of tree.closure(clientWorkspace)) {
    packages[path.replace(`${clientWorkspace}/`, `node_modules/${client.name}/`)] = installed(entry);
  }
  for (const name of extra) {
    const path = tree.resolve('', name);
    dependencies[name] = tree.entry(path).version!;
    packages[path] = installed(tree.entry(path));
    for (const [nested, entry] of tree.closure(path)) packages[nested] = installed(entry);
  }
  const manifest = { name: 'app', version: '1.0.0', private: true, type: 'module', dependencies };
  const appLock = { name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'app', version: '1.0.0', dependencies }, ...packages } };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(appLock, null, 2)}\n`);
}

interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly resolved?: string;
  readonly integrity?: string;
  readonly license?: string;
  readonly link?: boolean;
  readonly dev?: boolean;
  readonly devOptional?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly bin?: Record<string, string>;
}

class LockTree {
  constructor(private readonly packages: Record<string, LockEntry>) {}

  entry(path: string): LockEntry {
    const entry = this.packages[path];
    if (!entry) throw new Error(`package-lock.json has no ${path}`);
    return entry;
  }

  /** Where Node finds `name` from the package at `fromPath`: the nearest node_modules upwards. */
  resolve(fromPath: string, name: string): string {
    for (let base = fromPath; ; ) {
      const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
      if (this.packages[candidate] && !this.packages[candidate].link) return candidate;
      if (base === '') throw new Error(`package-lock.json: ${name}, needed by ${fromPath || 'the root'}, is not in the tree`);
      const cut = base.lastIndexOf('/node_modules/');
      base = cut === -1 ? '' : base.slice(0, cut);
    }
  }

  /** Every entry the package at `fromPath` needs at run time (dependencies, optional, peer), recursively. */
  closure(fromPath: string): Map<string, LockEntry> {
    const found = new Map<string, LockEntry>();
    const visit = (path: string) => {
      const { dependencies, optionalDependencies, peerDependencies } = this.entry(path);
      for (const name of Object.keys({ ...peerDependencies, ...optionalDependencies, ...dependencies })) {
        let at: string;
        try {
          at = this.resolve(path, name);
        } catch (error) {
          if (optionalDependencies?.[name] !== undefined) continue; // e.g. another platform's binary
          throw error;
        }
        if (found.has(at)) continue;
        found.set(at, this.entry(at));
        visit(at);
      }
    };
    visit(fromPath);
    return found;
  }
}

/** A lock entry as an app's production dependency: whatever this repository used it for, not dev. */
function installed({ dev: _dev, devOptional: _devOptional, ...entry }: LockEntry): LockEntry {
  return entry;
}
