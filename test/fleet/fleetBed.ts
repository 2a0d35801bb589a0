import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { credentials, Metadata } from '@grpc/grpc-js';
import { hashToken } from '../../src/auth/index.js';
import { startGateway, type RunningGateway } from '../../src/daemon/gateway.js';
import { createLogger } from '../../src/daemon/main.js';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { readServiceState, type ServiceState } from '../../src/systemd/serviceState.js';
import { StreamServiceClient } from '../../gen/lit/stream/v1/stream.js';
import { generateTestCertificates, type TestCertificates } from '../support/certs.js';
import { installUnits, waitFor } from '../integration/harness.js';
import { inNamespace, type Namespace, TestNetwork } from './network.js';

/** The port every agent serves on, inside its own namespace. */
export const AGENT_PORT = 50051;
/** The DNS zone the discovery spec serves (dnsmasq); SRV targets are `<host>.feeds.test`. */
export const ZONE = 'feeds.test';

/** Bearer tokens of the callers, by identity name (the access files hold their SHA-256). */
export const TOKENS = { alice: 'alice-token', bob: 'bob-token', carol: 'carol-token', mallory: 'mallory-token' } as const;
/** The gateway's identity towards agents: its client certificate's name. */
export const GATEWAY_SUBJECT = 'gateway.fleet.test';

/**
 * The agents' access file, one for every host (as one file deployed to every host would be): the
 * gateway's certificate holds `gateway`; alice operates contoso, bob reads it, mallory operates it
 * too but is no gateway.
 */
const AGENT_ACCESS = `tokens:
  - { name: alice, sha256: ${hashToken(TOKENS.alice)} }
  - { name: bob, sha256: ${hashToken(TOKENS.bob)} }
  - { name: mallory, sha256: ${hashToken(TOKENS.mallory)} }
certificates:
  - { name: gateway-1, subject: "DNS:${GATEWAY_SUBJECT}" }
grants:
  gateway-1: gateway
  alice: { contoso: operator }
  bob: { contoso: reader }
  mallory: { contoso: operator }
`;

/** The gateway's access file: the same callers, and carol, who may do nothing. */
const GATEWAY_ACCESS = `tokens:
  - { name: alice, sha256: ${hashToken(TOKENS.alice)} }
  - { name: bob, sha256: ${hashToken(TOKENS.bob)} }
  - { name: carol, sha256: ${hashToken(TOKENS.carol)} }
grants:
  alice: { contoso: operator }
  bob: { contoso: reader }
`;

/** Unit files: `contoso`'s template and the streams this host declares (symlinks to it). */
export function contosoUnits(streams: readonly string[]): Record<string, string | { link: string }> {
  const units: Record<string, string | { link: string }> = {
    'lit-stream-contoso@.service': '[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  };
  for (const stream of streams) units[`lit-stream-contoso@${stream}.service`] = { link: 'lit-stream-contoso@.service' };
  return units;
}

/** A lit-streamd run as a child process, with its JSON log lines. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<void>;
}

/** Runs lit-streamd from source with `argv`, entering the namespace as `inNamespace` says. */
export function launchDaemon(command: readonly string[]): DaemonProcess {
  const [file, ...args] = command;
  const child = spawn(file!, args, { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      lines.push({ msg: line });
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-4000)));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  void exited.then(() => {
    if (stderr.trim()) lines.push({ msg: 'stderr', stderr });
  });
  return { child, lines, exited };
}

/** lit-streamd from source: `node --import tsx src/daemon/cli.ts ARGS`. */
export function daemonArgv(args: readonly string[]): string[] {
  return [process.execPath, '--import', 'tsx', 'src/daemon/cli.ts', ...args];
}

/** Waits for a daemon's startup line; fails with its last lines if it exits first. */
export async function started(daemon: DaemonProcess, what: string): Promise<Record<string, unknown>> {
  const isStart = (line: Record<string, unknown>) => typeof line.msg === 'string' && line.msg.startsWith('lit-streamd started');
  await waitFor(
    () => {
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) throw new Error(`${what} exited: ${JSON.stringify(daemon.lines.slice(-5))}`);
      return daemon.lines.some(isStart);
    },
    30_000,
    `${what} to start`,
  );
  return daemon.lines.find(isStart)!;
}

/** Sends SIGTERM (SIGKILL after 10 s) and waits for the exit. */
export async function stopDaemon(daemon: DaemonProcess | undefined): Promise<void> {
  if (!daemon || daemon.child.exitCode !== null || daemon.child.signalCode !== null) return;
  daemon.child.kill('SIGCONT');
  daemon.child.kill('SIGTERM');
  const killer = setTimeout(() => daemon.child.kill('SIGKILL'), 10_000);
  await daemon.exited;
  clearTimeout(killer);
}

/**
 * One host of the fleet: its own network namespace, its own embedded systemd (in that namespace:
 * its workers are on that host's network) with its streams declared, and its own lit-streamd
 * serving mTLS on the namespace's address, with the agents' access file.
 */
export class FleetHost {
  agent: DaemonProcess | undefined;

  constructor(
    /** The gateway's name for the host (the fleet file's `name`). */
    readonly name: string,
    readonly namespace: Namespace,
    readonly sandbox: EmbeddedSystemd,
    private readonly files: BedFiles,
  ) {}

  get address(): string {
    return `${this.namespace.address}:${AGENT_PORT}`;
  }

  /** Starts (or restarts) the agent; resolves once it serves. */
  async startAgent(): Promise<void> {
    this.agent = launchDaemon(
      inNamespace(
        this.namespace,
        daemonArgv([
          '--listen', this.address,
          '--bus', this.sandbox.busAddress,
          '--journal-directory', this.sandbox.journalDirectory,
          // Not the gateway's name for it: answers through the gateway carry the fleet file's.
          '--host-name', `agent-of-${this.name}`,
          '--settle-ms', '0',
          '--access-file', this.files.agentAccess,
          '--tls-cert', this.files.agentCert,
          '--tls-key', this.files.agentKey,
          '--client-ca', this.files.ca,
        ]),
      ),
    );
    await started(this.agent, `the agent of ${this.name}`);
  }

  /** systemd's own view of one of the host's units, read over its bus (not through any lit-streamd). */
  unitState(stream: string): Promise<ServiceState> {
    return this.sandbox.withManager(async (manager) => readServiceState(await manager.getUnitProperties(`lit-stream-contoso@${stream}.service`)));
  }

  async stop(): Promise<void> {
    await stopDaemon(this.agent);
    await this.sandbox.shutdown();
  }
}

/** Paths of the bed's certificates and access files. */
export interface BedFiles {
  readonly dir: string;
  readonly ca: string;
  readonly agentCert: string;
  readonly agentKey: string;
  readonly gatewayCert: string;
  readonly gatewayKey: string;
  readonly agentAccess: string;
  readonly gatewayAccess: string;
}

export interface HostSpec {
  readonly name: string;
  readonly streams: readonly string[];
}

/**
 * The test bed: a TestNetwork of hosts (each a FleetHost), certificates from one CA (the agents'
 * server certificate names every host's address and `<host>.feeds.test`; the gateway's client
 * certificate is `gateway.fleet.test`), and a gateway in the test process over a fleet file of
 * them all, on loopback with the gateway's access file. `stop()` leaves nothing behind.
 */
export class FleetBed {
  readonly hosts: FleetHost[] = [];
  gateway!: RunningGateway;
  readonly gatewayLogs: Record<string, unknown>[] = [];
  private readonly clients: StreamServiceClient[] = [];

  private constructor(
    readonly network: TestNetwork,
    readonly files: BedFiles,
    readonly certificates: TestCertificates,
  ) {}

  static async start(specs: readonly HostSpec[], { deadline = '1s' } = {}): Promise<FleetBed> {
    const network = await TestNetwork.create();
    let bed: FleetBed | undefined;
    try {
      const namespaces: Namespace[] = [];
      for (const [index, spec] of specs.entries()) namespaces.push(await network.addNamespace(spec.name, 11 + index));
      const dir = await mkdtemp(join(tmpdir(), 'lit-stream-fleet-'));
      const certificates = await generateTestCertificates({
        clientSubject: GATEWAY_SUBJECT,
        serverAltNames: [...namespaces.map((namespace) => `IP:${namespace.address}`), ...specs.map((spec) => `DNS:${spec.name}.${ZONE}`)],
      });
      const files = await writeFiles(dir, certificates);
      bed = new FleetBed(network, files, certificates);
      const booted = await Promise.all(
        specs.map(async (spec, index) => {
          const namespace = namespaces[index]!;
          const sandbox = await EmbeddedSystemd.boot({ launchPrefix: inNamespace(namespace, []) });
          const host = new FleetHost(spec.name, namespace, sandbox, files);
          bed!.hosts.push(host);
          await installUnits(sandbox, contosoUnits(spec.streams));
          await host.startAgent();
          return host;
        }),
      );
      bed.hosts.sort((a, b) => booted.indexOf(a) - booted.indexOf(b));
      const fleetFile = join(dir, 'fleet.yaml');
      await writeFile(
        fleetFile,
        [
          'hosts:',
          ...booted.flatMap((host) => [`  - name: ${host.name}`, `    address: ${host.address}`]),
          `deadline: ${deadline}`,
          `tls: { ca: ca.pem, cert: gateway.pem, key: gateway.key }`,
          '',
        ].join('\n'),
      );
      const sink = new Writable({
        write: (chunk, _encoding, done) => {
          for (const line of String(chunk).split('\n')) if (line) bed!.gatewayLogs.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      });
      bed.gateway = await startGateway({ listen: '127.0.0.1:0', log: createLogger('debug', sink), fleetFile, accessFile: files.gatewayAccess });
      return bed;
    } catch (error) {
      if (bed) await bed.stop();
      else await network.destroy();
      throw error;
    }
  }

  /** Another namespace on the bridge (a DNS server's, a second gateway's), removed by stop(). */
  addNamespace(label: string): Promise<Namespace> {
    return this.network.addNamespace(label, 100 + this.network.namespaces.length);
  }

  host(name: string): FleetHost {
    const host = this.hosts.find((candidate) => candidate.name === name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** A client of the gateway (closed by stop()). */
  gatewayClient(): StreamServiceClient {
    const client = new StreamServiceClient(this.gateway.address, credentials.createInsecure());
    this.clients.push(client);
    return client;
  }

  /** A client of one agent, as a direct caller with a token would be (closed by stop()). */
  agentClient(host: FleetHost, identity: 'gateway' | 'none' = 'none'): StreamServiceClient {
    const { ca, client } = this.certificates;
    const tls = identity === 'gateway' ? credentials.createSsl(ca.cert, client.key, client.cert) : credentials.createSsl(ca.cert);
    const agent = new StreamServiceClient(host.address, tls);
    this.clients.push(agent);
    return agent;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.close();
    await this.gateway?.shutdown(2_000);
    await Promise.all(this.hosts.map((host) => host.stop()));
    await this.network.destroy();
    await rm(this.files.dir, { recursive: true, force: true });
  }
}

/** Metadata with a caller's bearer token (and, to forge a forwarded call, someone to act for). */
export function as(identity: keyof typeof TOKENS, onBehalfOf?: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${TOKENS[identity]}`);
  if (onBehalfOf !== undefined) metadata.set('lit-stream-on-behalf-of', onBehalfOf);
  return metadata;
}

async function writeFiles(dir: string, certificates: TestCertificates): Promise<BedFiles> {
  const files: BedFiles = {
    dir,
    ca: join(dir, 'ca.pem'),
    agentCert: join(dir, 'agent.pem'),
    agentKey: join(dir, 'agent.key'),
    gatewayCert: join(dir, 'gateway.pem'),
    gatewayKey: join(dir, 'gateway.key'),
    agentAccess: join(dir, 'agent-access.yaml'),
    gatewayAccess: join(dir, 'gateway-access.yaml'),
  };
  await Promise.all([
    writeFile(files.ca, certificates.ca.cert),
    writeFile(files.agentCert, certificates.server.cert),
    writeFile(files.agentKey, certificates.server.key),
    writeFile(files.gatewayCert, certificates.client.cert),
    writeFile(files.gatewayKey, certificates.client.key),
    writeFile(files.agentAccess, AGENT_ACCESS),
    writeFile(files.gatewayAccess, GATEWAY_ACCESS),
  ]);
  return files;
}

/** Resolves when `child` has exited (or at once if it has). */
export async function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

/**
 * A real DNS server for the zone (dnsmasq(8), in its own namespace): an SRV record
 * `_lit-stream._tcp.feeds.test` per host, pointing at `<host>.feeds.test:50051`, and that name's A
 * record. `--local` makes it the zone's authority (a name it has no record of is NXDOMAIN, never
 * forwarded); nothing else is read (no config file, resolv.conf or /etc/hosts). dnsmasq reads SRV
 * records only at start, so a change of the zone is a new dnsmasq.
 */
export class DnsServer {
  private process: ChildProcess | undefined;

  constructor(readonly namespace: Namespace) {}

  get address(): string {
    return this.namespace.address;
  }

  /** Serves the zone with exactly these hosts (replacing what it served). */
  async serve(hosts: readonly FleetHost[]): Promise<void> {
    await this.stop();
    const records = hosts.flatMap((host) => [
      `--srv-host=_lit-stream._tcp.${ZONE},${host.name}.${ZONE},${AGENT_PORT}`,
      `--host-record=${host.name}.${ZONE},${host.namespace.address}`,
    ]);
    const argv = inNamespace(this.namespace, [
      'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=',
      '--user=root', `--listen-address=${this.namespace.address}`, '--bind-interfaces', `--local=/${ZONE}/`, '--log-facility=-',
      ...records,
    ]);
    const child = (this.process = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    // Up once it answers a query for the zone.
    const { Resolver } = await import('node:dns/promises');
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([this.namespace.address]);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr}`);
        return resolver.resolveSrv(`_lit-stream._tcp.${ZONE}`).then(
          () => true,
          (error: NodeJS.ErrnoException) => error.code === 'ENOTFOUND' || error.code === 'ENODATA',
        );
      },
      10_000,
      'dnsmasq to answer',
    );
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exitOf(child);
  }
}
