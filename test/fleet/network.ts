import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `ip ARGS…` (iproute2); rejects with its stderr. */
export async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (error) {
    throw new Error(`ip ${args.join(' ')} failed: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`);
  }
}

/** One network namespace of the test network: a host of its own, with one address on the bridge. */
export interface Namespace {
  /** Its name for `ip netns` (`/run/netns/NAME`). */
  readonly name: string;
  /** Its address on the bridge. */
  readonly address: string;
  /** Where `ip netns exec NAME` finds this namespace's /etc overrides (resolv.conf). */
  readonly etc: string;
  /** The root namespace's end of its veth pair, on the bridge. */
  readonly link: string;
}

/**
 * A network of hosts on one machine (ip-netns(8), veth(4), a bridge): each namespace has a veth
 * pair, one end `eth0` inside with an address of the test subnet, the other on a bridge in the
 * root namespace, which holds the subnet's `.1` so the test process reaches every host. Names
 * carry this process's pid and a random id, so parallel runs never collide; a watchdog shell (like
 * the embedded systemd's) removes everything of this network if the test process dies without
 * `destroy()`.
 *
 * Processes enter a namespace with `inNamespace()`: `nsenter --net` for hosts (systemd and
 * lit-streamd), which changes nothing but the network, so cgroups and /sys stay the machine's
 * (`ip netns exec` mounts a fresh sysfs without the cgroup hierarchies systemd needs); `ip netns
 * exec` where /etc/netns/NAME matters (a gateway given its own resolv.conf).
 */
export class TestNetwork {
  readonly id = randomBytes(2).toString('hex');
  /** Every name of this network starts with this (namespaces), or with `lsb`/`lsv` + id (links). */
  readonly prefix = `lit-fleet-${process.pid}-${this.id}`;
  readonly bridge = `lsb${this.id}`;
  /** The subnet's first three octets: 10.200-249.x, away from the machine's own networks. */
  readonly subnet = `10.${200 + (parseInt(this.id.slice(0, 2), 16) % 50)}.${parseInt(this.id.slice(2), 16)}`;
  readonly namespaces: Namespace[] = [];
  private readonly watchdog: ChildProcess;
  /** Whether setResolver() made /etc/netns itself (then teardown removes it once empty). */
  private madeEtcNetns = false;
  private destroyed: Promise<void> | undefined;

  private constructor() {
    // Removes what is left of this network once our stdin closes, which happens however we exit.
    const script = `cat >/dev/null
for ns in $(ip netns list | awk '{print $1}' | grep "^$1-"); do
  ip netns pids "$ns" | xargs -r kill -9
  ip netns del "$ns"
  rm -rf "/etc/netns/$ns"
done
for link in $(ip -o link show | sed -n "s/^[0-9]*: \\($3[^:@]*\\).*/\\1/p"); do ip link del "$link"; done
ip link del "$2" 2>/dev/null
true`;
    this.watchdog = spawn('/bin/sh', ['-c', script, 'network-watchdog', this.prefix, this.bridge, `lsv${this.id}`], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.watchdog.unref();
    (this.watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  }

  static async create(): Promise<TestNetwork> {
    const network = new TestNetwork();
    try {
      await ip('link', 'add', network.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${network.subnet}.1/24`, 'dev', network.bridge);
      await ip('link', 'set', network.bridge, 'up');
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  /** A new namespace `label` (e.g. `feed-1`) at `.host` of the subnet, its loopback and eth0 up. */
  async addNamespace(label: string, host: number): Promise<Namespace> {
    const name = `${this.prefix}-${label}`;
    const address = `${this.subnet}.${host}`;
    const outside = `lsv${this.id}${host}`;
    const namespace = { name, address, etc: `/etc/netns/${name}`, link: outside };
    await ip('netns', 'add', name);
    this.namespaces.push(namespace);
    await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
    await ip('link', 'set', outside, 'master', this.bridge);
    await ip('link', 'set', outside, 'up');
    await ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', name, 'link', 'set', 'eth0', 'up');
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    return namespace;
  }

  /** Gives `ip netns exec` processes of the namespace their own /etc/resolv.conf. */
  async setResolver(namespace: Namespace, nameserver: string): Promise<void> {
    if (!existsSync('/etc/netns')) {
      await mkdir('/etc/netns');
      this.madeEtcNetns = true;
    }
    await mkdir(namespace.etc, { recursive: true });
    await writeFile(`${namespace.etc}/resolv.conf`, `nameserver ${nameserver}\noptions timeout:1 attempts:1\n`);
  }

  /** The pids of every process in the namespace (`ip netns pids`). */
  async pidsIn(namespace: Namespace): Promise<number[]> {
    const out = await ip('netns', 'pids', namespace.name).catch(() => '');
    return out.split('\n').filter(Boolean).map(Number);
  }

  /** Names of this network's namespaces and links that exist now (what teardown must leave none of). */
  async leftovers(): Promise<string[]> {
    const namespaces = (await ip('netns', 'list')).split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name.startsWith(this.prefix));
    const links = (await ip('-o', 'link', 'show')).split('\n').map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '').filter((name) => name === this.bridge || name.startsWith(`lsv${this.id}`));
    return [...namespaces, ...links];
  }

  /** Kills what still runs in the namespaces, removes them (their veth pairs go with them) and the bridge. */
  destroy(): Promise<void> {
    return (this.destroyed ??= this.teardown());
  }

  private async teardown(): Promise<void> {
    for (const namespace of this.namespaces) {
      for (const pid of await this.pidsIn(namespace)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      // The link first: deleting one end of a veth pair deletes both at once, whereas a deleted
      // namespace is cleaned up by the kernel later, when its last process is gone.
      await ip('link', 'del', namespace.link).catch(() => undefined);
      await ip('netns', 'del', namespace.name).catch(() => undefined);
      await rm(namespace.etc, { recursive: true, force: true });
    }
    await ip('link', 'del', this.bridge).catch(() => undefined);
    // Another run's namespace may have its files there too: only an empty one goes.
    if (this.madeEtcNetns) await rmdir('/etc/netns').catch(() => undefined);
    this.watchdog.stdin?.end();
  }
}

/**
 * The command line that runs `argv` inside the namespace: `nsenter --net` (util-linux) by default,
 * which changes the network and nothing else; `ip netns exec` with `etc`, which also mounts the
 * namespace's /etc/netns/NAME files (resolv.conf) over /etc's.
 */
export function inNamespace(namespace: Namespace, argv: readonly string[], { etc = false } = {}): string[] {
  return etc ? ['ip', 'netns', 'exec', namespace.name, ...argv] : ['nsenter', `--net=/run/netns/${namespace.name}`, ...argv];
}
