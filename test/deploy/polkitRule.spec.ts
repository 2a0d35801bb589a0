import { execFile } from 'node:child_process';
import { access, chmod, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RULES = fileURLToPath(new URL('../../deploy/50-lit-stream.rules', import.meta.url));

/** polkit.Result (polkit(8), "AUTHORIZATION RULES"): NOT_HANDLED is null, the others strings. */
const Result = {
  NO: 'no',
  YES: 'yes',
  AUTH_SELF: 'auth_self',
  AUTH_SELF_KEEP: 'auth_self_keep',
  AUTH_ADMIN: 'auth_admin',
  AUTH_ADMIN_KEEP: 'auth_admin_keep',
  NOT_HANDLED: null,
} as const;
type Answer = (typeof Result)[keyof typeof Result];

interface Case {
  readonly title: string;
  readonly user: 'lit-stream' | 'nobody';
  readonly action: string;
  readonly unit?: string;
  readonly verb?: string;
  readonly answer: Answer;
}

const MANAGE_UNITS = 'org.freedesktop.systemd1.manage-units';
const allowed = (unit: string, verb: string): Case => ({ title: `${verb} ${unit}`, user: 'lit-stream', action: MANAGE_UNITS, unit, verb, answer: Result.YES });
const refused = (title: string, unit: string | undefined, verb: string | undefined): Case => ({ title, user: 'lit-stream', action: MANAGE_UNITS, unit, verb, answer: Result.NO });

/** What the rule answers; the same table runs on the stand-in and on polkitd. */
const CASES: readonly Case[] = [
  allowed('lit-stream-contoso@x.service', 'start'),
  allowed('lit-stream-contoso@x.service', 'stop'),
  allowed('lit-stream-contoso@x.service', 'restart'),
  allowed('lit-stream-contoso-eu@BTC_usd-1.service', 'start'),
  allowed(`lit-stream-${'a'.repeat(32)}@${'b'.repeat(64)}.service`, 'stop'),
  // Units that are not stream instances.
  refused('another service', 'ssh.service', 'start'),
  refused("a stream's socket", 'lit-stream-contoso@x.socket', 'start'),
  refused("a team's template", 'lit-stream-contoso@.service', 'start'),
  refused('a lit-stream- unit that is no stream', 'lit-stream-backup.service', 'start'),
  refused('lit-streamd itself', 'lit-streamd.service', 'stop'),
  refused('an upper-case team', 'lit-stream-Contoso@x.service', 'start'),
  refused('a team ending in -', 'lit-stream-contoso-@x.service', 'start'),
  refused('a 33-character team', `lit-stream-${'a'.repeat(33)}@x.service`, 'start'),
  refused('a 65-character stream name', `lit-stream-contoso@${'b'.repeat(65)}.service`, 'start'),
  refused("a stream name with '.'", 'lit-stream-contoso@x.y.service', 'start'),
  refused('a path', 'lit-stream-contoso@../../ssh.service', 'start'),
  refused('a glob', 'lit-stream-contoso@*.service', 'stop'),
  refused('a unit with a second prefix', 'x-lit-stream-contoso@x.service', 'start'),
  refused('no unit', undefined, 'start'),
  // Verbs other than the three the server uses.
  ...['reload-or-restart', 'reload-or-try-restart', 'try-restart', 'reload', 'kill', 'reset-failed', 'set-property', 'freeze', 'thaw', 'clean', 'enable', 'mask', 'Start'].map((verb) =>
    refused(`verb ${verb}`, 'lit-stream-contoso@x.service', verb),
  ),
  refused('no verb', 'lit-stream-contoso@x.service', undefined),
  // Other systemd actions: refused outright for lit-stream.
  ...['manage-unit-files', 'reload-daemon', 'set-environment'].map(
    (action): Case => ({ title: `systemd's ${action}`, user: 'lit-stream', action: `org.freedesktop.systemd1.${action}`, answer: Result.NO }),
  ),
  // Not the rule's business: other users, other services' actions.
  { title: 'another user starting a stream', user: 'nobody', action: MANAGE_UNITS, unit: 'lit-stream-contoso@x.service', verb: 'start', answer: Result.NOT_HANDLED },
  { title: 'another user, another action', user: 'nobody', action: 'org.freedesktop.systemd1.reload-daemon', answer: Result.NOT_HANDLED },
  { title: "lit-stream asking for another service's action", user: 'lit-stream', action: 'org.freedesktop.policykit.exec', answer: Result.NOT_HANDLED },
];

type Rule = (action: { id: string; lookup(key: string): string | undefined }, subject: { user: string }) => Answer | undefined;

/** The rules the file adds, run as polkitd runs them: a script calling polkit.addRule. */
function loadRules(source: string): Rule[] {
  const rules: Rule[] = [];
  const polkit = {
    Result,
    addRule: (rule: Rule) => rules.push(rule),
    addAdminRule: () => {
      throw new Error('the file must not change who counts as an administrator');
    },
    log: () => {},
    spawn: () => {
      throw new Error('the rule must not run programs');
    },
  };
  runInNewContext(source, { polkit }, { filename: RULES });
  return rules;
}

const polkitdMissing = await missingForPolkitd();

describe('deploy/50-lit-stream.rules', () => {
  let source: string;
  let rule: Rule;

  beforeAll(async () => {
    source = await readFile(RULES, 'utf8');
    const rules = loadRules(source);
    expect(rules).toHaveLength(1);
    rule = rules[0]!;
  });

  it('is plain ES5, as polkitd\'s duktape runs it: no arrow functions, let, const, classes or template strings', () => {
    const code = source.replace(/^\s*\/\/.*$/gm, '');
    expect(code).not.toMatch(/=>|\blet\b|\bconst\b|\bclass\b|`/);
  });

  describe('with a stand-in polkit (node:vm)', () => {
    it.each(CASES.map((c) => [c.title, c] as const))('%s', (_, c) => {
      const details: Record<string, string | undefined> = { unit: c.unit, verb: c.verb };
      const answer = rule({ id: c.action, lookup: (key) => details[key] }, { user: c.user }) ?? null;
      expect(answer).toBe(c.answer);
    });

    it('refuses a unit name with a trailing newline', () => {
      expect(rule({ id: MANAGE_UNITS, lookup: (key) => ({ unit: 'lit-stream-contoso@x.service\n', verb: 'start' })[key] }, { user: 'lit-stream' })).toBe(Result.NO);
    });
  });

  describe.skipIf(polkitdMissing !== undefined)(`in polkitd itself, in a private mount and PID namespace${polkitdMissing ? ` (skipped: ${polkitdMissing})` : ''}`, () => {
    let answers: number[];
    let log: string;
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'lit-stream-polkit-'));
      ({ answers, log } = await askPolkitd(work, source, CASES));
    }, 30_000);
    afterAll(async () => {
      if (work) await rm(work, { recursive: true, force: true });
    });

    /** pkcheck(1): 0 authorized, 1 not authorized, 2 only with authentication (the action's default). */
    const EXIT_STATUS = new Map<Answer, number>([[Result.YES, 0], [Result.NO, 1], [Result.NOT_HANDLED, 2]]);

    it.each(CASES.map((c, index) => [c.title, c, index] as const))('%s', (_, c, index) => {
      expect(answers[index], log).toBe(EXIT_STATUS.get(c.answer));
    });
  });
});

/** Why polkitd cannot be run here, or undefined when it can. */
async function missingForPolkitd(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root, for a private mount namespace';
  for (const tool of ['/usr/lib/polkit-1/polkitd', '/usr/bin/pkcheck', '/usr/bin/dbus-daemon', '/usr/bin/setpriv', '/usr/bin/unshare']) {
    try {
      await access(tool, constants.X_OK);
    } catch {
      return `${tool} is not installed (Debian: polkitd, dbus-daemon, util-linux)`;
    }
  }
  return undefined;
}

/**
 * Asks a real polkitd (duktape, with the distribution's actions and rules) about each case. In a
 * mount namespace of its own, the rule is bind-mounted over /etc/polkit-1/rules.d and a passwd with
 * a lit-stream user over /etc/passwd; polkitd is D-Bus-activated on a private bus. The subjects
 * are `sleep` processes running as lit-stream and as nobody. The PID namespace ends every process
 * when the script exits.
 */
async function askPolkitd(work: string, rules: string, cases: readonly Case[]): Promise<{ answers: number[]; log: string }> {
  // polkitd drops to its own user (polkitd), which must reach the bus socket in here.
  await chmod(work, 0o755);
  await mkdir(join(work, 'rules.d'));
  await mkdir(join(work, 'services'));
  await writeFile(join(work, 'rules.d', '50-lit-stream.rules'), rules);
  await writeFile(join(work, 'passwd'), `${await readFile('/etc/passwd', 'utf8')}lit-stream:x:61999:61999:lit-stream control plane:/:/usr/sbin/nologin\n`);
  await writeFile(join(work, 'group'), `${await readFile('/etc/group', 'utf8')}lit-stream:x:61999:\n`);
  await writeFile(
    join(work, 'bus.conf'),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=${work}/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>${work}/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`,
  );
  await writeFile(
    join(work, 'services', 'org.freedesktop.PolicyKit1.service'),
    '[D-BUS Service]\nName=org.freedesktop.PolicyKit1\nExec=/usr/lib/polkit-1/polkitd --no-debug\n',
  );
  await writeFile(join(work, 'cases.tsv'), cases.map((c) => [c.user, c.action, c.unit ?? '', c.verb ?? ''].join('\t')).join('\n') + '\n');
  await writeFile(
    join(work, 'ask.sh'),
    `set -euo pipefail
work=$1
mount --bind "$work/rules.d" /etc/polkit-1/rules.d
mount --bind "$work/passwd" /etc/passwd
mount --bind "$work/group" /etc/group
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus"
# --fork returns once the bus listens; polkitd starts on the first pkcheck (bus activation).
dbus-daemon --config-file="$work/bus.conf" --fork --nopidfile >/dev/null
declare -A subject
for user in lit-stream nobody; do
  setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups sleep 600 &
  subject[$user]=$!
  # Ask only once the process runs as that user: after setpriv has exec'd sleep.
  until [ "$(cat "/proc/\${subject[$user]}/comm" 2>/dev/null)" = sleep ]; do sleep 0.01; done
done
while IFS=$'\\t' read -r user action unit verb; do
  args=(--process "\${subject[$user]}" --action-id "$action")
  [ -z "$unit" ] || args+=(--detail unit "$unit")
  [ -z "$verb" ] || args+=(--detail verb "$verb")
  status=0
  pkcheck "\${args[@]}" >/dev/null 2>>"$work/pkcheck.log" || status=$?
  echo "$status"
done <"$work/cases.tsv"
`,
  );
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      'unshare',
      ['--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', 'bash', join(work, 'ask.sh'), work],
      { encoding: 'utf8', timeout: 25_000 },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
    );
  });
  const log = await readFile(join(work, 'pkcheck.log'), 'utf8').catch(() => '');
  return { answers: stdout.trim().split('\n').map(Number), log };
}
