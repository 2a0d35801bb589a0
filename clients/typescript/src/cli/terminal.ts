import { clearLine, clearScreenDown, cursorTo, moveCursor } from 'node:readline';
import * as util from 'node:util';
import type { CellStyle } from './table.js';

/** Where the command writes, and what it knows about it: a terminal (and its size) or a pipe. */
export type OutputStream = NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number; readonly rows?: number };

export interface Io {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type Paint = (style: CellStyle | undefined, text: string) => string;

/**
 * Colours only on a terminal, never when NO_COLOR is set to anything but the empty string
 * (https://no-color.org) nor on TERM=dumb. Decided here, per stream, so that styleText's own
 * checks (which differ between Node 20 releases) do not decide it a second time.
 */
export function wantsColour(stream: OutputStream, env: Io['env']): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

type Format = Parameters<typeof util.styleText>[0];

const STYLES: Record<CellStyle, Format> = {
  good: ['green', 'bold'],
  bad: ['red', 'bold'],
  warn: ['yellow', 'bold'],
  strong: 'bold',
  dim: 'dim',
  header: 'underline',
};

/**
 * A painter for one stream: node:util's styleText when colours are wanted, the text as it is
 * otherwise (and on Node releases before 20.12, which lack styleText).
 */
export function painter(stream: OutputStream, env: Io['env']): Paint {
  const styleText = util.styleText as typeof util.styleText | undefined;
  if (!wantsColour(stream, env) || !styleText) return (_style, text) => text;
  return (style, text) => (style && text ? styleText(STYLES[style], text, { validateStream: false }) : text);
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;

/**
 * One line that says what we are waiting for, redrawn in place on a terminal while systemd works
 * and erased when done. Lines printed meanwhile go above it (`print`), so it never mixes with them.
 */
export class Spinner {
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(
    private readonly stream: OutputStream,
    /** What we wait for; undefined when nothing is left to wait for. */
    private readonly text: () => string | undefined,
  ) {}

  start(): void {
    this.draw();
    this.timer = setInterval(() => this.draw(), FRAME_MS);
  }

  /** Erases the spinner, lets `write` print, then draws the spinner again below. */
  print(write: () => void): void {
    this.erase();
    write();
    if (this.timer) this.draw();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.erase();
  }

  private draw(): void {
    const text = this.text();
    if (text === undefined) return this.erase();
    // One line only: a line wider than the terminal would wrap, and erasing it would leave the rest.
    const width = (this.stream.columns || 80) - 1;
    const line = `${FRAMES[this.frame++ % FRAMES.length]} ${text}`;
    cursorTo(this.stream, 0);
    this.stream.write([...line].slice(0, width).join(''));
    clearLine(this.stream, 1);
    this.shown = true;
  }

  private erase(): void {
    if (!this.shown) return;
    cursorTo(this.stream, 0);
    clearLine(this.stream, 0);
    this.shown = false;
  }
}

/**
 * A block of lines redrawn in place on a terminal (the live table of `watch`): each draw moves
 * back to the block's first line and replaces it. The block is kept shorter than the terminal
 * (a block that scrolled could not be reached again) and auto-wrap is off while it is shown
 * (DECAWM, ECMA-48 private mode 7), so a line wider than the terminal is cut rather than wrapped
 * onto a line the next draw would not erase.
 */
export class LiveRegion {
  private drawn = 0;

  constructor(private readonly stream: OutputStream) {
    stream.write('\x1b[?7l');
  }

  draw(lines: readonly string[]): void {
    const rows = this.stream.rows || 24;
    const shown = lines.length < rows ? lines : [...lines.slice(0, rows - 2), `… ${lines.length - rows + 2} more lines`];
    if (this.drawn > 0) moveCursor(this.stream, 0, -this.drawn);
    cursorTo(this.stream, 0);
    clearScreenDown(this.stream);
    this.stream.write(shown.map((line) => `${line}\n`).join(''));
    this.drawn = shown.length;
  }

  /** Leaves the last drawing on the screen and the terminal as it was. */
  close(): void {
    this.stream.write('\x1b[?7h');
  }
}
