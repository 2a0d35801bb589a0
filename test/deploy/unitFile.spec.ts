import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const UNIT = join(DEPLOY, 'lit-streamd.service');
const SYSUSERS = join(DEPLOY, 'lit-stream.sysusers.conf');

interface Outcome {
  readonly code: number;
  /** stdout and stderr together, as a person at a terminal would read them. */
  readonly output: string;
}

/** Runs a command to its end, whatever its exit status. */
function run(command: string, args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (error as { code?: unknown }).code : 0;
      if (typeof code !== 'number') reject(error ?? new Error(`${command} did not exit`));
      else resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/**
 * systemd-analyze verify, offline: it loads the file into a test manager of its own, so PID 1 need
 * not be systemd. --man=no: Documentation= is not looked up with man(1). --recursive-errors=no:
 * only this unit's errors count, not those of units it pulls in (network-online.target...).
 * (systemd-analyze(1), "systemd-analyze verify FILE...")
 */
const verify = (file: string) => run('systemd-analyze', ['verify', '--man=no', '--recursive-errors=no', file]);

/** systemd-analyze security on the file alone; exits non-zero when the exposure is over 2.0. */
const security = (file: string) => run('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', file]);

/** The `[Service]` settings: key → values in order (a key may be given several times). */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) section = header[1]!;
    const setting = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (section === 'Service' && setting) settings.set(setting[1]!, [...(settings.get(setting[1]!) ?? []), setting[2]!]);
  }
  return settings;
}

describe('deploy/lit-streamd.service', () => {
  let unit: string;
  let scratch: string;

  beforeAll(async () => {
    unit = await readFile(UNIT, 'utf8');
    scratch = await mkdtemp(join(tmpdir(), 'lit-stream-deploy-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** A changed copy of the unit, under its own name, in a directory of its own. */
  async function brokenCopy(label: string, change: (text: string) => string): Promise<string> {
    const changed = change(unit);
    expect(changed, `${label} changed nothing`).not.toBe(unit);
    await mkdir(join(scratch, label));
    const file = join(scratch, label, 'lit-streamd.service');
    await writeFile(file, changed);
    return file;
  }

  describe('systemd-analyze verify', () => {
    it('passes the unit: exit 0, and not one line about it', async () => {
      const { code, output } = await verify(UNIT);
      expect(output.split('\n').filter((line) => line.includes('lit-streamd'))).toEqual([]);
      expect(code).toBe(0);
    });

    it('reports a misspelt option, with its line (so the check above can fail)', async () => {
      const file = await brokenCopy('misspelt', (text) => text.replace(/^NoNewPrivileges=yes$/m, 'NoNewPrivilege=yes'));
      const { output } = await verify(file);
      const line = unit.split('\n').findIndex((text) => text === 'NoNewPrivileges=yes') + 1;
      expect(output).toContain(`${file}:${line}: Unknown key 'NoNewPrivilege' in section [Service]`);
    });

    it('fails on a command that cannot be executed', async () => {
      const file = await brokenCopy('no-executable', (text) => text.replace('ExecStart=/usr/bin/env ', 'ExecStart=/usr/bin/no-such-env '));
      const { code, output } = await verify(file);
      expect(output).toContain('Command /usr/bin/no-such-env is not executable');
      expect(code).not.toBe(0);
    });
  });

  describe('systemd-analyze security', () => {
    it('rates the sandbox at an exposure of 2.0 or less', async () => {
      const { code, output } = await security(UNIT);
      expect(output).toMatch(/Overall exposure level for lit-streamd\.service: [0-2]\.\d/);
      expect(code).toBe(0);
    });

    it('fails a copy without the sandbox (so the check above can fail)', async () => {
      const file = await brokenCopy('unsandboxed', (text) => text.split('# --- Privileges')[0]!);
      const { code, output } = await security(file);
      expect(output).toMatch(/Overall exposure level for lit-streamd\.service: ([3-9]|10)\.\d/);
      expect(code).not.toBe(0);
    });
  });

  describe('what it says', () => {
    it.each([
      ['User', 'lit-stream'],
      ['Group', 'lit-stream'],
      ['ExecStart', '/usr/bin/env node /opt/lit-stream/bin/lit-streamd.js --bus system --listen ${LIT_STREAM_LISTEN}'],
      ['Environment', 'LIT_STREAM_LISTEN=127.0.0.1:50051'],
      ['Environment', 'LIT_STREAM_ACCESS_FILE=/etc/lit-stream/access.yaml'],
      ['EnvironmentFile', '-/etc/lit-stream/lit-streamd.env'],
      ['ExecReload', '/bin/kill -HUP $MAINPID'],
      ['RuntimeDirectory', 'lit-stream'],
      ['Restart', 'on-failure'],
      ['NoNewPrivileges', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
      ['ProtectKernelTunables', 'yes'],
      ['ProtectKernelModules', 'yes'],
      ['ProtectKernelLogs', 'yes'],
      ['ProtectControlGroups', 'yes'],
      ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'],
      ['RestrictNamespaces', 'yes'],
      ['LockPersonality', 'yes'],
      ['SystemCallFilter', '@system-service'],
      ['ReadOnlyPaths', '-/etc/lit-stream /opt/lit-stream'],
    ])('sets %s=%s', (key, value) => {
      expect(serviceSettings(unit).get(key)).toContain(value);
    });

    it('leaves MemoryDenyWriteExecute= off, saying why: V8 JIT-compiles into writable, then executable memory', () => {
      expect(serviceSettings(unit).has('MemoryDenyWriteExecute')).toBe(false);
      expect(unit).toMatch(/^# MemoryDenyWriteExecute=yes is NOT set: V8 .*JavaScript to machine code/m);
    });

    it('has no DynamicUser=: the polkit rule needs a stable user name', () => {
      expect(serviceSettings(unit).has('DynamicUser')).toBe(false);
    });

    it('says why for every [Service] setting: each follows a comment, or its partner (User=, Group=)', () => {
      const lines = unit.split('\n');
      const start = lines.indexOf('[Service]');
      const end = lines.indexOf('[Install]');
      const uncommented = lines.slice(start + 1, end).filter((line, index, section) => {
        const before = section[index - 1] ?? lines[start]!;
        const partners = before.startsWith('User=') && line.startsWith('Group=');
        const sameKey = before.split('=')[0] === line.split('=')[0];
        return /^[A-Za-z]+=/.test(line) && !before.startsWith('#') && !partners && !sameKey;
      });
      expect(start).toBeGreaterThan(0);
      expect(uncommented).toEqual([]);
    });

    it('runs what the layout of deploy/README.md installs', async () => {
      const readme = await readFile(join(DEPLOY, 'README.md'), 'utf8');
      expect(readme).toContain('/opt/lit-stream');
      expect(readme).toContain('/etc/systemd/system/lit-streamd.service');
      expect(readme).toContain('/etc/polkit-1/rules.d/50-lit-stream.rules');
    });
  });
});

describe('deploy/lit-stream.sysusers.conf', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lit-stream-sysusers-'));
    await mkdir(join(root, 'etc'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('makes a system user and group lit-stream that cannot log in (systemd-sysusers into an empty root)', async () => {
    const { code, output } = await run('systemd-sysusers', [`--root=${root}`, SYSUSERS]);
    expect(output).toContain("Creating user 'lit-stream'");
    expect(code).toBe(0);
    const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
    const group = await readFile(join(root, 'etc/group'), 'utf8');
    const [, uid, gid, home, shell] = /^lit-stream:x:(\d+):(\d+):[^:]*:([^:]*):([^:\n]*)$/m.exec(passwd) ?? [];
    expect(Number(uid)).toBeLessThan(1000); // the system range (login.defs SYS_UID_MAX)
    expect(group).toMatch(new RegExp(`^lit-stream:x:${gid}:$`, 'm'));
    expect(home).toBe('/');
    expect(shell).toMatch(/nologin$/);
  });
});

describe('deploy/lit-stream-gateway.service and deploy/fleet.example.yaml', () => {
  const GATEWAY_UNIT = join(DEPLOY, 'lit-stream-gateway.service');

  it('is a unit systemd loads without complaint, sandboxed to an exposure of 2.0 or less', async () => {
    const verified = await verify(GATEWAY_UNIT);
    expect(verified.output.trim()).toBe('');
    expect(verified.code).toBe(0);
    const rated = await security(GATEWAY_UNIT);
    expect(rated.output).toMatch(/Overall exposure level for lit-stream-gateway\.service: [0-2]\.\d/);
    expect(rated.code).toBe(0);
  });

  it('runs lit-streamd as a gateway over the fleet file, with its own access file, reloaded by SIGHUP', async () => {
    const settings = serviceSettings(await readFile(GATEWAY_UNIT, 'utf8'));
    expect(settings.get('Environment')).toEqual(
      expect.arrayContaining(['LIT_STREAM_FLEET=/etc/lit-stream/fleet.yaml', 'LIT_STREAM_ACCESS_FILE=/etc/lit-stream/gateway-access.yaml']),
    );
    expect(settings.get('ExecStart')?.[0]).toContain('/opt/lit-stream/bin/lit-streamd.js');
    expect(settings.get('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    // It touches no unit: no journal group, no bus.
    expect(settings.has('SupplementaryGroups')).toBe(false);
  });

  it('ships an example fleet file the gateway reads', async () => {
    const { parseFleetFile } = await import('../../src/fleet/fleetFile.js');
    const fleet = parseFleetFile(await readFile(join(DEPLOY, 'fleet.example.yaml'), 'utf8'), '/etc/lit-stream/fleet.yaml');
    expect(fleet.hosts.map((host) => host.name)).toEqual(['feed-1', 'feed-2']);
    expect(fleet.discover).toEqual([expect.objectContaining({ kind: 'srv', name: '_lit-stream._tcp.feeds.example', intervalMs: 30_000 })]);
    expect(fleet.deadlineMs).toBe(2_000);
    expect(fleet.tls?.cert).toBe('/etc/lit-stream/tls/gateway.pem');
  });
});
