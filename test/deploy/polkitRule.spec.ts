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

/**
 * The opt-in rule for Enable and Disable, as docs/security.md shows it (the one place it is written):
 * the ```js block that names 49-lit-stream-unit-files.rules.
 */
const SECURITY_DOC = fileURLToPath(new URL('../../docs/security.md', import.meta.url));
const OPT_IN_FILE = '49-lit-stream-unit-files.rules';

async function optInRule(): Promise<string> {
  const blocks = [...(await readFile(SECURITY_DOC, 'utf8')).matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const rule = blocks.filter((block) => block.includes(OPT_IN_FILE));
  if (rule.length !== 1) throw new Error(`docs/security.md should show ${OPT_IN_FILE} in one js block, found ${rule.length}`);
  return rule[0]!;
}

/** The two files together, as polkitd reads them: 49- first. What changes, and what must not. */
const WITH_OPT_IN: readonly Case[] = [
  ...['manage-unit-files', 'reload-daemon'].map(
    (action): Case => ({ title: `systemd's ${action}, granted`, user: 'lit-stream', action: `org.freedesktop.systemd1.${action}`, answer: Result.YES }),
  ),
  { title: "systemd's set-environment, still refused", user: 'lit-stream', action: 'org.freedesktop.systemd1.set-environment', answer: Result.NO },
  allowed('lit-stream-contoso@x.service', 'start'),
  refused('another service, still', 'ssh.service', 'start'),
  refused('verb kill, still', 'lit-stream-contoso@x.service', 'kill'),
  { title: 'another user, unit files', user: 'nobody', action: 'org.freedesktop.systemd1.manage-unit-files', answer: Result.NOT_HANDLED },
  { title: "lit-stream asking for another service's action, still", user: 'lit-stream', action: 'org.freedesktop.policykit.exec', answer: Result.NOT_HANDLED },
];

/**
 * What polkitd adds to the rules' answers: systemd's policy says manage-unit-files implies
 * manage-units (org.freedesktop.policykit.imply), and polkitd grants an implied action to whoever
 * holds the implying one, before any rule is asked. The opt-in rule declines the implied checks
 * that name a unit (WITH_OPT_IN holds them refused); one that names none is granted: the hole
 * docs/security.md states.
 */
const IMPLIED_BY_OPT_IN: readonly Case[] = [
  { title: 'manage-units naming no unit (a manager-wide call such as StartTransientUnit): granted by implication', user: 'lit-stream', action: MANAGE_UNITS, answer: Result.YES },
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
      ({ answers, log } = await askPolkitd(work, { '50-lit-stream.rules': source }, CASES));
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

describe(`the opt-in ${OPT_IN_FILE} of docs/security.md, in front of deploy/50-lit-stream.rules`, () => {
  let optIn: string;
  let shipped: string;

  beforeAll(async () => {
    [optIn, shipped] = await Promise.all([optInRule(), readFile(RULES, 'utf8')]);
  });

  it('is plain ES5 too, and sorts before the shipped rule (which refuses what it grants)', () => {
    expect(optIn.replace(/^\s*\/\/.*$/gm, '')).not.toMatch(/=>|\blet\b|\bconst\b|\bclass\b|`/);
    expect([OPT_IN_FILE, '50-lit-stream.rules'].sort()[0]).toBe(OPT_IN_FILE);
  });

  describe('with a stand-in polkit (node:vm): the first answer in file-name order', () => {
    it.each(WITH_OPT_IN.map((c) => [c.title, c] as const))('%s', (_, c) => {
      const rules = [...loadRules(optIn), ...loadRules(shipped)];
      const details: Record<string, string | undefined> = { unit: c.unit, verb: c.verb };
      let answer: Answer | undefined;
      for (const rule of rules) {
        answer = rule({ id: c.action, lookup: (key) => details[key] }, { user: c.user }) ?? undefined;
        if (answer !== undefined) break;
      }
      expect(answer ?? null).toBe(c.answer);
    });
  });

  describe.skipIf(polkitdMissing !== undefined)(`in polkitd itself${polkitdMissing ? ` (skipped: ${polkitdMissing})` : ''}`, () => {
    let answers: number[];
    let log: string;
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'lit-stream-polkit-'));
      ({ answers, log } = await askPolkitd(work, { [OPT_IN_FILE]: optIn, '50-lit-stream.rules': shipped }, [...WITH_OPT_IN, ...IMPLIED_BY_OPT_IN]));
    }, 30_000);
    afterAll(async () => {
      if (work) await rm(work, { recursive: true, force: true });
    });

    it.each([...WITH_OPT_IN, ...IMPLIED_BY_OPT_IN].map((c, index) => [c.title, c, index] as const))('%s', (_, c, index) => {
      expect(answers[index], log).toBe(new Map<Answer, number>([[Result.YES, 0], [Result.NO, 1], [Result.NOT_HANDLED, 2]]).get(c.answer));
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
async function askPolkitd(work: string, rules: Readonly<Record<string, string>>, cases: readonly Case[]): Promise<{ answers: number[]; log: string }> {
  // polkitd drops to its own user (polkitd), which must reach the bus socket in here.
  await chmod(work, 0o755);
  await mkdir(join(work, 'rules.d'));
  await mkdir(join(work, 'services'));
  for (const [file, source] of Object.entries(rules)) await writeFile(join(work, 'rules.d', file), source);
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
