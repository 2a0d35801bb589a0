import type { Agent } from './agent.js';
import type { Membership } from './membership.js';
import { TeamWatch } from './teamWatch.js';

/** How long a team nobody watches or routes to keeps its upstream watches open. */
export const TEAM_IDLE_MS = 5 * 60_000;

/**
 * The fleet's teams in use: one TeamWatch per team, opened when a caller first needs the team
 * (a watch, or a call to route), following the membership as hosts come and go, and closed once
 * nobody has watched or routed to it for TEAM_IDLE_MS.
 */
export class TeamWatches {
  private readonly teams = new Map<string, TeamWatch>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly membership: Membership,
    private readonly idleMs = TEAM_IDLE_MS,
  ) {
    membership.on('added', (agent: Agent) => {
      for (const team of this.teams.values()) team.addHost(agent);
    });
    membership.on('removed', (agent: Agent) => {
      for (const team of this.teams.values()) team.removeHost(agent.host);
    });
    this.sweeper = setInterval(() => this.closeIdle(), Math.min(idleMs, 60_000));
    this.sweeper.unref();
  }

  /** The team's watch, opened if need be, marked used by `caller`. */
  of(team: string, caller: string | undefined): TeamWatch {
    let watch = this.teams.get(team);
    if (!watch) this.teams.set(team, (watch = new TeamWatch(team, this.membership.hosts, caller)));
    watch.use(caller);
    return watch;
  }

  /** Watchers of the gateway, over every team. */
  get watcherCount(): number {
    let count = 0;
    for (const team of this.teams.values()) count += team.watcherCount;
    return count;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const team of this.teams.values()) team.close();
    this.teams.clear();
  }

  private closeIdle(): void {
    const before = Date.now() - this.idleMs;
    for (const [name, team] of this.teams) {
      if (team.watcherCount === 0 && team.lastUsed < before) {
        team.close();
        this.teams.delete(name);
      }
    }
  }
}
