import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { byName, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, paginate } from '../../src/core/paging.js';

interface Item {
  name: string;
}

function streams(count: number): Item[] {
  return Array.from({ length: count }, (_, i) => ({ name: `s${String(i).padStart(5, '0')}` })).sort(byName);
}

function walk(team: string, items: readonly Item[], pageSize: number): Item[][] {
  const pages: Item[][] = [];
  let token = '';
  do {
    const page = paginate(team, items, pageSize, token);
    pages.push(page.items);
    token = page.nextPageToken;
    if (pages.length > items.length + 1) throw new Error('paging does not terminate');
  } while (token !== '');
  return pages;
}

describe('paging through a team’s streams', () => {
  it('returns 100 streams per page when the page size is 0', () => {
    expect(DEFAULT_PAGE_SIZE).toBe(100);
    const page = paginate('contoso', streams(250), 0, '');
    expect(page.items).toHaveLength(100);
    expect(page.nextPageToken).not.toBe('');
  });

  it('caps the page size at 1000', () => {
    expect(MAX_PAGE_SIZE).toBe(1000);
    const page = paginate('contoso', streams(1500), 5000, '');
    expect(page.items).toHaveLength(1000);
    expect(page.nextPageToken).not.toBe('');
  });

  it('returns exactly the requested number of streams when more exist', () => {
    expect(paginate('contoso', streams(10), 3, '').items.map((s) => s.name)).toEqual(['s00000', 's00001', 's00002']);
  });

  it.each([[-1], [-100], [1.5], [Number.NaN]])('rejects the page size %s', (size) => {
    expect(() => paginate('contoso', streams(3), size, '')).toThrow(InvalidArgumentError);
  });

  it.each([
    [0, 1],
    [1, 1],
    [7, 3],
    [25, 5],
    [25, 25],
    [101, 0],
    [250, 0],
  ])('returns each of %d streams exactly once, in order, with page size %d', (count, pageSize) => {
    const items = streams(count);
    const pages = walk('contoso', items, pageSize);
    expect(pages.flat()).toEqual(items);
    const size = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
    for (const page of pages.slice(0, -1)) expect(page).toHaveLength(size);
  });

  it('ends with an empty next_page_token on the last page', () => {
    const last = paginate('contoso', streams(2), 10, '');
    expect(last.items).toHaveLength(2);
    expect(last.nextPageToken).toBe('');
  });

  it('does not hand out a token when the page ends exactly at the last stream', () => {
    const items = streams(6);
    const first = paginate('contoso', items, 3, '');
    const second = paginate('contoso', items, 3, first.nextPageToken);
    expect(second.items.map((s) => s.name)).toEqual(['s00003', 's00004', 's00005']);
    expect(second.nextPageToken).toBe('');
  });

  it('returns an empty last page for a team with no streams', () => {
    expect(paginate('contoso', [], 0, '')).toEqual({ items: [], nextPageToken: '' });
  });

  it("rejects a token issued for another team", () => {
    const items = streams(5);
    const token = paginate('contoso', items, 2, '').nextPageToken;
    expect(() => paginate('fabrikam', items, 2, token)).toThrow(InvalidArgumentError);
    expect(() => paginate('contoso-eu', items, 2, token)).toThrow(/page_token/);
  });

  it.each([
    ['a random word', 'garbage'],
    ['punctuation', '!!!'],
    ['base64 of non-JSON', Buffer.from('hello').toString('base64url')],
    ['base64 of JSON null', Buffer.from('null').toString('base64url')],
    ['base64 of a JSON number', Buffer.from('42').toString('base64url')],
    ['a token without "after"', Buffer.from(JSON.stringify({ team: 'contoso' })).toString('base64url')],
    [
      'a token whose "after" is not a stream name',
      Buffer.from(JSON.stringify({ team: 'contoso', after: '../x' })).toString('base64url'),
    ],
    ['a token whose "after" is empty', Buffer.from(JSON.stringify({ team: 'contoso', after: '' })).toString('base64url')],
  ])('rejects %s as a page token', (_what, token) => {
    expect(() => paginate('contoso', streams(5), 2, token)).toThrow(InvalidArgumentError);
  });

  it('continues after the last returned stream even if that stream was deleted meanwhile', () => {
    const before = streams(6);
    const first = paginate('contoso', before, 2, '');
    expect(first.items.map((s) => s.name)).toEqual(['s00000', 's00001']);
    const after = before.filter((s) => s.name !== 's00001');
    const second = paginate('contoso', after, 2, first.nextPageToken);
    expect(second.items.map((s) => s.name)).toEqual(['s00002', 's00003']);
  });

  it('returns an empty last page when every remaining stream was deleted meanwhile', () => {
    const before = streams(4);
    const first = paginate('contoso', before, 2, '');
    const second = paginate('contoso', before.slice(0, 2), 2, first.nextPageToken);
    expect(second).toEqual({ items: [], nextPageToken: '' });
  });

  it('includes a stream created meanwhile when it sorts after the page already returned', () => {
    const before = [{ name: 'a' }, { name: 'b' }, { name: 'd' }];
    const first = paginate('contoso', before, 2, '');
    const after = [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }];
    const second = paginate('contoso', after, 2, first.nextPageToken);
    expect(second.items.map((s) => s.name)).toEqual(['c', 'd']);
    expect(second.nextPageToken).toBe('');
  });
});

describe('byName', () => {
  it('sorts streams by name in code-point order (uppercase before lowercase)', () => {
    const sorted = [{ name: 'b' }, { name: 'B' }, { name: 'a' }, { name: '_' }, { name: '-' }].sort(byName);
    expect(sorted.map((s) => s.name)).toEqual(['-', 'B', '_', 'a', 'b']);
  });
});
