import type { CallScope, HostError, StreamWatch, WatchEvent, WatchListener } from '../core/backend.js';
import { waitWithin } from '../core/waitWithin.js';
import type { StreamStatus } from '../core/status.js';
import type { Agent } from './agent.js';
import { HostWatch } from './hostWatch.js';

/** What one watcher of the gateway wants: the team's streams, or one, of every host or one. */
export interface WatchFilter {
  readonly name?: string;
  readonly host?: string;
}

interface Watcher extends WatchFilter {
  readonly listener: WatchListener;
}

/** Who declares a stream, among the hosts that answered; and the hosts that did not. */
export interface Declaration {
  readonly hosts: readonly Agent[];
  readonly unanswered: readonly HostError[];
}

/**
 * A team across the fleet: one HostWatch per host (however many callers watch or route), and the
 * gateway's watchers of the team. It answers routing from memory (which hosts declare a stream)
 * and gives each new watcher a snapshot of the hosts that are up, in name then host order, with
 * each host that is not told as lost right after.
 */
export class TeamWatch {
  private readonly hosts = new Map<string, HostWatch>();
  private readonly watchers = new Set<Watcher>();
  /** When a caller last needed the team (ms since the epoch): idle teams are closed. */
  lastUsed = Date.now();
  /** The unfiltered snapshot, kept until the next change: watchers who open meanwhile share it (and its encoding). */
  private snapshot: StreamStatus[] | undefined;

  constructor(
    readonly team: string,
    agents: readonly Agent[],
    private caller: string | undefined,
  ) {
    for (const agent of agents) this.addHost(agent);
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Remembers who needs the team now: the next call to a host is made on their behalf. */
  use(caller: string | undefined): void {
    this.lastUsed = Date.now();
    if (caller === undefined || caller === this.caller) return;
    this.caller = caller;
    for (const host of this.hosts.values()) host.caller = caller;
  }

  addHost(agent: Agent): void {
    if (this.hosts.has(agent.host)) return;
    this.hosts.set(agent.host, new HostWatch(agent, this.team, this.caller, (event) => this.publish(event)));
  }

  /**
   * A host left the fleet: its streams are no longer the fleet's (REMOVED), not a host error. So
   * too when it had stopped answering: a watcher told it was lost still holds what it last said.
   */
  removeHost(host: string): void {
    const watch = this.hosts.get(host);
    if (!watch) return;
    this.hosts.delete(host);
    watch.close();
    for (const status of watch.lastKnown().values()) this.publish({ kind: 'removed', status });
  }

  /**
   * Waits until every host (or `host` alone) has answered, or until the per-host deadline (and the
   * caller's limits): a host that has not answered by then is left out of what follows.
   */
  async ready(call: CallScope, deadlineMs: number, host?: string): Promise<void> {
    const asked = [...this.hosts.values()].filter((watch) => host === undefined || watch.host === host);
    // Every host up (the usual case once the team is in use): nothing to wait for, no timer.
    if (asked.every((watch) => watch.state === 'up')) return;
    const waiting = asked.map((watch) => watch.answered());
    const deadline = Math.min(Date.now() + deadlineMs, call.deadline ?? Infinity);
    await waitWithin<void>(
      (resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        void Promise.all(waiting).then(() => {
          clearTimeout(timer);
          resolve();
        });
      },
      // The caller's deadline is in `deadline` above: a host that misses it is left out, not an error.
      { signal: call.signal },
      ` while waiting for the fleet's hosts to answer for team '${this.team}'`,
    );
  }

  /** The hosts that declare `name` now (of those that are up), and those that are not up. */
  declaring(name: string): Declaration {
    const hosts: Agent[] = [];
    const unanswered: HostError[] = [];
    for (const watch of this.hosts.values()) {
      if (watch.state !== 'up') unanswered.push(watch.whyNotUp());
      else if (watch.current().has(name)) hosts.push(watch.agent);
    }
    return { hosts, unanswered };
  }

  /**
   * Adds a watcher: its snapshot (of the hosts up now), then every change through `listener`,
   * starting with a `hostLost` for each host that is not up. Nothing falls between the two: both
   * happen in this one synchronous step.
   */
  subscribe(filter: WatchFilter, listener: WatchListener): StreamWatch {
    const watcher: Watcher = { ...filter, listener };
    const initial = this.snapshotFor(filter);
    this.watchers.add(watcher);
    for (const watch of this.hosts.values()) {
      if (watch.state !== 'up' && (filter.host === undefined || filter.host === watch.host)) listener({ kind: 'hostLost', hostError: watch.whyNotUp() });
    }
    return { initial, stop: () => this.watchers.delete(watcher) };
  }

  close(): void {
    for (const watch of this.hosts.values()) watch.close();
    this.hosts.clear();
    this.watchers.clear();
  }

  private snapshotFor(filter: WatchFilter): StreamStatus[] {
    if (filter.name === undefined && filter.host === undefined && this.snapshot) return this.snapshot;
    const statuses: StreamStatus[] = [];
    for (const watch of this.hosts.values()) {
      if (filter.host !== undefined && watch.host !== filter.host) continue;
      for (const status of watch.current().values()) if (filter.name === undefined || status.name === filter.name) statuses.push(status);
    }
    statuses.sort(byNameThenHost);
    if (filter.name === undefined && filter.host === undefined) this.snapshot = statuses;
    return statuses;
  }

  private publish(event: WatchEvent): void {
    this.snapshot = undefined;
    const host = event.kind === 'hostLost' ? event.hostError.host : event.status.host;
    const name = event.kind === 'hostLost' ? undefined : event.status.name;
    for (const watcher of this.watchers) {
      if (watcher.host !== undefined && watcher.host !== host) continue;
      if (watcher.name !== undefined && name !== undefined && watcher.name !== name) continue;
      watcher.listener(event);
    }
  }
}

/** The fleet's order of rows: by name, then host. */
export function byNameThenHost(a: { name: string; host?: string }, b: { name: string; host?: string }): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  const [x, y] = [a.host ?? '', b.host ?? ''];
  return x < y ? -1 : x > y ? 1 : 0;
}
