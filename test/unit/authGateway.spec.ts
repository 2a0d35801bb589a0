import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, parseAccessPolicy } from '../../src/auth/index.js';
import { PermissionDeniedError } from '../../src/core/errors.js';
import { AccessControl } from '../../src/rpc/accessControl.js';

/** An agent's access file: the gateway's identity holds `gateway`; callers hold their team roles. */
const ACCESS = `
tokens:
  - { name: gateway-1, sha256: ${hashToken('gateway-token')} }
  - { name: alice, sha256: ${hashToken('alice-token')} }
grants:
  gateway-1: gateway
  alice: { contoso: operator }
  bob: { contoso: reader }
`;

let dir: string;
let access: AccessControl;
const audit: Record<string, unknown>[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lit-stream-auth-gateway-'));
  await writeFile(join(dir, 'access.yaml'), ACCESS);
  access = new AccessControl(join(dir, 'access.yaml'), { info: (line) => audit.push(line as Record<string, unknown>), error: () => undefined });
  await access.load();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function call(token: string, onBehalfOf?: string | string[]) {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  for (const name of [onBehalfOf ?? []].flat()) metadata.add('lit-stream-on-behalf-of', name);
  return { metadata };
}

describe('the gateway role and lit-stream-on-behalf-of', () => {
  it("lets a gateway act for the caller it names, under that caller's grants, naming both", () => {
    const caller = access.authenticate(call('gateway-token', 'bob'));
    expect(caller).toMatchObject({ identity: { name: 'bob', via: 'gateway' }, label: 'bob', gateway: 'gateway-1' });
    expect(() => access.authorize(caller, 'contoso', 'GetStatus')).not.toThrow();
    // bob reads; he does not operate, whoever forwards his call.
    expect(() => access.authorize(caller, 'contoso', 'Stop')).toThrow(PermissionDeniedError);
    expect(() => access.authorize(caller, 'acme', 'GetStatus')).toThrow(PermissionDeniedError);
  });

  it('gives the gateway no role of its own', () => {
    const policy = parseAccessPolicy(ACCESS, 'yaml');
    const gateway = policy.identifyToken('gateway-token')!;
    expect(policy.decide(gateway, 'contoso', 'GetStatus')).toBe('deny');
  });

  it('refuses a gateway that names nobody, or more than one, with an audit line', () => {
    audit.length = 0;
    expect(() => access.authenticate(call('gateway-token'))).toThrow(/gateway-1 holds the gateway role/);
    expect(() => access.authenticate(call('gateway-token', ['alice', 'bob']))).toThrow(PermissionDeniedError);
    expect(() => access.authenticate(call('gateway-token', 'not a name'))).toThrow(PermissionDeniedError);
    expect(audit).toHaveLength(3);
    expect(audit[0]).toMatchObject({ audit: true, identity: 'gateway-1', outcome: 'REFUSED' });
  });

  it('refuses anyone else who sends the header, with an audit line naming both', () => {
    audit.length = 0;
    expect(() => access.authenticate(call('alice-token', 'bob'))).toThrow(/alice may not send 'lit-stream-on-behalf-of'/);
    expect(audit).toEqual([expect.objectContaining({ audit: true, identity: 'alice', onBehalfOf: 'bob', outcome: 'REFUSED' })]);
    // Without the header alice is alice.
    expect(access.authenticate(call('alice-token'))).toEqual({ identity: { name: 'alice', via: 'token' }, label: 'alice' });
  });

  it('is granted server-wide only, like admin', () => {
    expect(() => parseAccessPolicy('grants:\n  gw: { contoso: gateway }\n', 'yaml')).toThrow(/gateway is granted for every team, not per team/);
  });
});
