import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { generateTestCertificates } from '../support/certs.js';
import { type Harness, startHarness } from './harness.js';

/**
 * The Python SDK (clients/python), installed as its README says — `pip install
 * --no-build-isolation`, offline, into a virtualenv that sees Debian's python3-grpcio and
 * python3-protobuf — then its pytest suite and the doctests of its docstrings (the seed page's
 * examples) run against lit-streamd on a real systemd. The installed copy is what is tested: the
 * checkout's sources are not on the path. The server speaks TLS and accepts tokens and client
 * certificates, so the SDK's whole LIT_STREAM_* environment is used for real. Its /metrics tell the
 * tests what the server holds open (watches, journal followers) once the SDK has cancelled a call.
 */
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-grpcio, python3-protobuf, python3-pytest
const OPERATOR_TOKEN = 'python-sdk-operator';
const READER_TOKEN = 'python-sdk-reader';

/** The seed's world (contoso has exactly bitcoin) and a team for the failures and the logs. */
const UNITS: Record<string, string | { link: string }> = {
  'lit-stream-contoso@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  'lit-stream-contoso@bitcoin.service': { link: 'lit-stream-contoso@.service' },
  'lit-stream-acme@.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n',
  'lit-stream-acme@ethereum.service': { link: 'lit-stream-acme@.service' },
  'lit-stream-acme@crash.service': "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 1'\n",
  'lit-stream-acme@masked.service': { link: '/dev/null' },
  'lit-stream-acme@chatty.service': "[Service]\nType=exec\nExecStart=/bin/sh -c 'echo first line; echo to stderr >&2; exec sleep infinity'\n",
  // A stream to enable and disable: a regular file with [Install].
  'lit-stream-boot@ticker.service': '[Service]\nType=exec\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=default.target\n',
};

let work: string;
let h: Harness;
let venvPython: string;
const CLIENT_SUBJECT = 'ingest-bot.acme.internal';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lit-stream-python-'));
  const [certs, python] = await Promise.all([generateTestCertificates({ clientSubject: CLIENT_SUBJECT }), installSdk()]);
  venvPython = python;
  const pem = { 'ca.pem': certs.ca.cert, 'server.pem': certs.server.cert, 'server.key': certs.server.key, 'client.pem': certs.client.cert, 'client.key': certs.client.key };
  for (const [name, contents] of Object.entries(pem)) await writeFile(join(work, name), contents);
  const accessFile = join(work, 'access.json');
  await writeFile(
    accessFile,
    JSON.stringify({
      tokens: [
        { name: 'operator', sha256: hashToken(OPERATOR_TOKEN) },
        { name: 'reader', sha256: hashToken(READER_TOKEN) },
      ],
      certificates: [{ name: 'ingest-bot', subject: CLIENT_SUBJECT }],
      grants: { operator: ['metrics', { contoso: 'operator', acme: 'operator', boot: 'operator', nobody: 'reader' }], reader: { acme: 'reader' }, 'ingest-bot': { acme: 'operator' } },
    }),
  );
  h = await startHarness(UNITS, {
    accessFile,
    tlsCert: join(work, 'server.pem'),
    tlsKey: join(work, 'server.key'),
    clientCa: join(work, 'ca.pem'),
    metricsListen: '127.0.0.1:0',
    clientCredentials: credentials.createSsl(certs.ca.cert),
  });
});
afterAll(async () => {
  await h?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the Python SDK lit.sdk.services.stream', () => {
  it("passes its tests and the seed's examples against lit-streamd, installed with pip offline", async () => {
    const report = join(work, 'pytest.xml');
    const run = await promisify(execFile)(
      venvPython,
      ['-m', 'pytest', '-p', 'no:cacheprovider', `--junitxml=${report}`, 'tests'],
      {
        cwd: join(work, 'clients/python'),
        env: {
          ...process.env,
          LIT_STREAM_ADDR: h.address,
          LIT_STREAM_TOKEN: OPERATOR_TOKEN,
          LIT_STREAM_CA: join(work, 'ca.pem'),
          LIT_STREAM_TEST_READER_TOKEN: READER_TOKEN,
          LIT_STREAM_TEST_CLIENT_CERT: join(work, 'client.pem'),
          LIT_STREAM_TEST_CLIENT_KEY: join(work, 'client.key'),
          LIT_STREAM_TEST_METRICS: h.server.metricsAddress!,
          PYTHONDONTWRITEBYTECODE: '1',
        },
        timeout: 120_000,
      },
    ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`pytest failed:\n${error.stdout ?? ''}\n${error.stderr ?? error.message}`);
    });
    const totals = (await readFile(report, 'utf8')).match(/<testsuite [^>]*>/)?.[0] ?? '';
    const count = (name: string) => Number(totals.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1]);
    expect({ errors: count('errors'), failures: count('failures'), skipped: count('skipped') }, run.stdout).toEqual({
      errors: 0,
      failures: 0,
      skipped: 0,
    });
    // Doctests of every module with examples (the seed page's), the format vectors, the API tests.
    expect(count('tests')).toBeGreaterThanOrEqual(50);
    expect(run.stdout).toMatch(/ passed/);
  });
});

/** Copies clients/ (the SDK, its tests and the shared format vectors) and pip-installs the SDK into a venv. */
async function installSdk(): Promise<string> {
  await cp('clients/python', join(work, 'clients/python'), {
    recursive: true,
    filter: (source) => !/(^|\/)(build|__pycache__|[^/]*\.egg-info)$/.test(source),
  });
  await cp('clients/testdata', join(work, 'clients/testdata'), { recursive: true });
  const venv = join(work, 'venv');
  await promisify(execFile)(PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', venv]);
  const python = join(venv, 'bin/python');
  await promisify(execFile)(python, ['-m', 'pip', 'install', '--no-build-isolation', '--no-index', '--quiet', join(work, 'clients/python')], {
    env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    timeout: 120_000,
  });
  return python;
}
