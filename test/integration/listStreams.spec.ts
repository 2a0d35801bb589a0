import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActiveState, LoadState } from '../../gen/lit/stream/v1/stream.js';
import { type Harness, rpc, rpcError, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await rpc(h.client, h.client.start, { team: 'contoso', name: 'bitcoin' });
});
afterAll(async () => {
  await h?.stop();
});

const list = (team: string, pageSize = 0, pageToken = '') => rpc(h.client, h.client.listStreams, { team, pageSize, pageToken });

describe('ListStreams', () => {
  it("lists exactly the team's declared streams, by name", async () => {
    const { streams, nextPageToken } = await list('contoso');
    // Not the template, not the symlink to acme's template, not contoso-eu's `secret`.
    expect(streams.map((s) => s.name)).toEqual(['bitcoin', 'crash', 'ethereum', 'masked', 'slow']);
    expect(nextPageToken).toBe('');
    expect(streams.every((s) => s.team === 'contoso')).toBe(true);
  });

  it('gives each stream its unit and the state systemd reports', async () => {
    const { streams } = await list('contoso');
    const bitcoin = streams.find((s) => s.name === 'bitcoin');
    expect(bitcoin).toMatchObject({
      unit: 'lit-stream-contoso@bitcoin.service',
      loadState: LoadState.LOAD_STATE_LOADED,
      activeState: ActiveState.ACTIVE_STATE_ACTIVE,
      subState: 'running',
    });
    const ethereum = streams.find((s) => s.name === 'ethereum');
    expect(ethereum?.activeState).toBe(ActiveState.ACTIVE_STATE_INACTIVE);
    expect(streams.find((s) => s.name === 'masked')?.loadState).toBe(LoadState.LOAD_STATE_MASKED);
  });

  it("keeps teams apart: contoso-eu sees only its own, contoso never sees contoso-eu's", async () => {
    expect((await list('contoso-eu')).streams.map((s) => s.name)).toEqual(['secret']);
    expect((await list('contoso')).streams.map((s) => s.name)).not.toContain('secret');
  });

  it('lists nothing for a team with only a template, or with nothing at all', async () => {
    expect((await list('acme')).streams).toEqual([]);
    expect((await list('nobody')).streams).toEqual([]);
  });

  it('pages through the streams without repeats or gaps', async () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await list('contoso', 2, token);
      expect(page.streams.length).toBeLessThanOrEqual(2);
      seen.push(...page.streams.map((s) => s.name));
      token = page.nextPageToken;
      pages++;
    } while (token !== '');
    expect(pages).toBe(3);
    expect(seen).toEqual(['bitcoin', 'crash', 'ethereum', 'masked', 'slow']);
  });

  it("refuses a page token issued for another team", async () => {
    const { nextPageToken } = await list('contoso', 1);
    const error = await rpcError(h.client, h.client.listStreams, { team: 'contoso-eu', pageSize: 1, pageToken: nextPageToken });
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toContain('page_token');
  });

  it('picks up a stream declared after the server started (after a daemon-reload)', async () => {
    await h.sandbox.linkUnit('lit-stream-contoso@litecoin.service', 'lit-stream-contoso@.service');
    await h.sandbox.reload();
    expect((await list('contoso')).streams.map((s) => s.name)).toContain('litecoin');
    await h.sandbox.removeUnit('lit-stream-contoso@litecoin.service');
    await h.sandbox.reload();
    expect((await list('contoso')).streams.map((s) => s.name)).not.toContain('litecoin');
  });
});
