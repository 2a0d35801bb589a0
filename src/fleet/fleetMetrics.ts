import { Gauge, type Registry } from 'prom-client';
import type { Membership } from './membership.js';
import type { TeamWatches } from './teamWatches.js';

/** The gateway's own series: its hosts, by whether they answer, and its open watches. */
export function registerFleetMetrics(registry: Registry, membership: Membership, teams: TeamWatches): void {
  new Gauge({
    name: 'lit_stream_fleet_hosts',
    help: "The fleet's hosts, by whether their lit-streamd answers SERVING (state serving) or not (not_serving).",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const serving = membership.hosts.filter((agent) => agent.serving).length;
      this.set({ state: 'serving' }, serving);
      this.set({ state: 'not_serving' }, membership.hosts.length - serving);
    },
  });
  new Gauge({
    name: 'lit_stream_open_watches',
    help: 'WatchStatus calls currently open.',
    registers: [registry],
    collect() {
      this.set(teams.watcherCount);
    },
  });
}
