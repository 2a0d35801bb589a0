import { EventEmitter } from 'node:events';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { HostError } from '../core/backend.js';
import { Agent } from './agent.js';
import { agentCredentials } from './credentials.js';
import { type Discovered, DnsDiscovery } from './dnsDiscovery.js';
import type { FleetConfig } from './fleetFile.js';

/** One discovery entry's last answer, and why the last resolution failed if it did. */
interface DiscoveryState {
  readonly discovery: DnsDiscovery;
  hosts: Discovered;
  error: string | undefined;
}

/**
 * Who is in the fleet: the fleet file's static hosts and what its discovery entries resolve to,
 * each host one Agent. Events: `added` (Agent), `removed` (Agent, closed right after), `serving`
 * (a host began or stopped answering). A host that leaves the zone leaves the fleet (not an error);
 * a resolution that fails keeps the entry's last hosts, and says so in the log and in
 * `discoveryErrors` (host = the entry, e.g. `srv:_lit-stream._tcp.feeds.example`).
 *
 * Nothing here is state that matters: it is rebuilt from the file and DNS at start and on reload.
 */
export class Membership extends EventEmitter {
  private readonly agents = new Map<string, Agent>();
  private discoveries = new Map<string, DiscoveryState>();
  private config: FleetConfig | undefined;
  /** What every agent is made with; a new one (another identity or deadline) replaces every agent. */
  private agentSetup: { key: string; credentials: ChannelCredentials; deadlineMs: number } | undefined;

  constructor(private readonly log: Logger) {
    super();
    this.setMaxListeners(0);
  }

  /** The hosts now, by name. */
  get hosts(): readonly Agent[] {
    return [...this.agents.values()];
  }

  agent(host: string): Agent | undefined {
    return this.agents.get(host);
  }

  get deadlineMs(): number {
    return this.config?.deadlineMs ?? 0;
  }

  /** Discovery entries whose last resolution failed (their last hosts are kept meanwhile). */
  discoveryErrors(): HostError[] {
    return [...this.discoveries.entries()]
      .filter(([, state]) => state.error !== undefined)
      .map(([label, state]) => ({ host: label, code: 'UNAVAILABLE' as const, message: state.error! }));
  }

  /**
   * Takes a fleet file's configuration (at start, and on each reload): agents made or closed to
   * match, discovery entries started or stopped; resolves once each new entry has answered once.
   */
  async apply(config: FleetConfig): Promise<void> {
    // The TLS files are read at each reload: a certificate renewed in place is a new identity.
    const made = await agentCredentials(config.tls);
    const setupKey = JSON.stringify({ identity: made.identity, deadlineMs: config.deadlineMs });
    if (this.agentSetup?.key !== setupKey) {
      this.agentSetup = { key: setupKey, credentials: made.credentials, deadlineMs: config.deadlineMs };
      // Every agent was made with the old identity or deadline: make them again.
      for (const agent of [...this.agents.values()]) this.remove(agent);
    }
    this.config = config;
    const labels = new Set(config.discover.map((entry) => entry.label));
    for (const [label, state] of this.discoveries) {
      if (!labels.has(label)) {
        state.discovery.close();
        this.discoveries.delete(label);
      }
    }
    const starting: Promise<void>[] = [];
    for (const entry of config.discover) {
      if (this.discoveries.has(entry.label)) continue;
      const state: DiscoveryState = {
        hosts: new Map(),
        error: undefined,
        discovery: new DnsDiscovery(
          entry,
          (hosts) => {
            if (state.error !== undefined) this.log.info({ discover: entry.label, hosts: hosts.size }, 'fleet discovery answers again');
            state.hosts = hosts;
            state.error = undefined;
            this.sync();
          },
          (error) => {
            state.error = error.message;
            this.log.warn({ discover: entry.label, err: error.message, kept: state.hosts.size }, 'fleet discovery failed: keeping its last hosts');
          },
        ),
      };
      this.discoveries.set(entry.label, state);
      starting.push(state.discovery.start());
    }
    this.sync();
    await Promise.all(starting);
  }

  close(): void {
    for (const state of this.discoveries.values()) state.discovery.close();
    this.discoveries.clear();
    for (const agent of [...this.agents.values()]) this.remove(agent);
  }

  /** Makes the agents match the static hosts and every entry's last answer. */
  private sync(): void {
    const wanted = new Map<string, string>();
    for (const state of this.discoveries.values()) for (const [name, address] of state.hosts) wanted.set(name, address);
    // A static host keeps its address even when discovery names a host the same.
    for (const host of this.config?.hosts ?? []) wanted.set(host.name, host.address);
    for (const agent of [...this.agents.values()]) {
      if (wanted.get(agent.host) !== agent.address) this.remove(agent);
    }
    for (const [name, address] of wanted) {
      if (!this.agents.has(name)) this.add(name, address);
    }
  }

  private add(host: string, address: string): void {
    const setup = this.agentSetup!;
    const agent = new Agent(host, address, { credentials: setup.credentials, deadlineMs: setup.deadlineMs });
    agent.on('serving', (serving: boolean) => this.emit('serving', agent, serving));
    this.agents.set(host, agent);
    this.log.info({ host, address }, 'fleet host added');
    this.emit('added', agent);
  }

  private remove(agent: Agent): void {
    this.agents.delete(agent.host);
    this.log.info({ host: agent.host, address: agent.address }, 'fleet host removed');
    this.emit('removed', agent);
    agent.close();
  }
}
