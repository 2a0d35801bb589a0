/** A column of a text table: its header and whether its cells line up on the right (numbers). */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

/** A cell's text, and the style to paint it with once it is padded (so colours never shift columns). */
export interface Cell {
  readonly text: string;
  readonly style?: CellStyle;
}

export type CellStyle = 'good' | 'bad' | 'warn' | 'strong' | 'dim' | 'header';

/**
 * Lays out rows under headers, as `systemctl list-units` does: columns as wide as their widest
 * cell, one space between them, no trailing spaces. `paint` colours each padded cell (or returns
 * it as is, off a terminal).
 */
export function layoutTable(
  columns: readonly Column[],
  rows: readonly (readonly (Cell | string)[])[],
  paint: (style: CellStyle | undefined, text: string) => string = (_style, text) => text,
): string[] {
  const cellsOf = (row: readonly (Cell | string)[]) => row.map((cell) => (typeof cell === 'string' ? { text: cell } : cell));
  const body = rows.map(cellsOf);
  const head = columns.map((column) => ({ text: column.header, style: 'header' as const }));
  const widths = columns.map((column, index) => Math.max(width(column.header), ...body.map((row) => width(row[index]?.text ?? ''))));
  return [head, ...body].map((row) => {
    const padded = columns.map((column, index) => {
      const cell = row[index] ?? { text: '' };
      const gap = ' '.repeat(widths[index]! - width(cell.text));
      const last = index === columns.length - 1;
      const text = column.align === 'right' ? gap + cell.text : last ? cell.text : cell.text + gap;
      return paint(cell.style, text);
    });
    return padded.join(' ').trimEnd();
  });
}

/** Display width: code points, which is right for the ASCII and the few symbols we print. */
function width(text: string): number {
  return [...text].length;
}
