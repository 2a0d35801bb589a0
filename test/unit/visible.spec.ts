import { describe, expect, it } from 'vitest';
import { visible } from '../../clients/typescript/src/cli/visible.js';

describe("a worker's text as lit-streamctl shows it on a terminal", () => {
  it('leaves ordinary text, tabs and other scripts alone', () => {
    for (const text of ['plain line', 'tab\there', 'café ✓ 日本語 — done', 'C:\\path\\x1b']) expect(visible(text)).toBe(text);
  });

  it('writes every control character as a visible C-style escape', () => {
    expect(visible('\x1b[2J\x1b[H')).toBe('\\x1b[2J\\x1b[H');
    expect(visible('\x1b]0;title\x07')).toBe('\\x1b]0;title\\a');
    expect(visible('a\rb\nc\bd\fe\vf\0g\x7f')).toBe('a\\rb\\nc\\bd\\fe\\vf\\x00g\\x7f');
    expect(visible('\u009b2J')).toBe('\\u{9b}2J');
  });

  it('writes what reorders or breaks a line as an escape too', () => {
    expect(visible('a\u202eb\u2066c\u2028d\u2029e\u200ff')).toBe('a\\u{202e}b\\u{2066}c\\u{2028}d\\u{2029}e\\u{200f}f');
  });
});
