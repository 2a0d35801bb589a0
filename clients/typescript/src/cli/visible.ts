/**
 * Text a worker wrote, made safe to print on a terminal: every character that a terminal would act
 * on instead of showing is written as a visible C-style escape, as journalctl shows unprintable
 * data (its cescape()): `\x1b` for ESC, `\a`, `\b`, `\f`, `\n`, `\r`, `\v`, `\xNN` for
 * the other C0 controls and DEL, `\u{9b}` for the C1 controls (an 8-bit CSI), and `\u{202e}` and
 * the like for what reorders or breaks a line (bidirectional overrides, line and paragraph
 * separators). Tabs stay. A worker can then neither clear the operator's screen, retitle the
 * window (OSC), ring the bell, nor start a line of its own that looks like systemd's. Output for
 * programs (`-o json`) carries the exact text instead.
 */
export function visible(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escape) : text;
}

const NAMED: Readonly<Record<string, string>> = { '\u0007': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\v': '\\v' };

/** C0 controls but tab, DEL, C1 controls, bidi embeddings/overrides/isolates and marks, LS and PS. */
const UNSAFE_CLASS = '[\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';
const UNSAFE = new RegExp(UNSAFE_CLASS);
const UNSAFE_ALL = new RegExp(UNSAFE_CLASS, 'g');

function escape(character: string): string {
  const named = NAMED[character];
  if (named) return named;
  const code = character.codePointAt(0)!;
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}
