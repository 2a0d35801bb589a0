import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { AccessRulesError, formatFieldPath, validateAccessRules, type FieldPath } from './accessRules.js';
import { AccessPolicy } from './policy.js';

/**
 * Reads an access file: JSON, or YAML when the file name ends in .yaml or .yml. Every mistake is
 * reported as `file:line:column: field: problem`, and nothing in a file is ever half-applied.
 */

export type AccessFileFormat = 'json' | 'yaml';

/** The access file cannot be used; `line` and `column` (1-based) point at the fault when known. */
export class AccessFileError extends Error {
  override readonly name = 'AccessFileError';
  constructor(
    readonly source: string,
    /** The field at fault, e.g. `grants.ingest-bot.contoso`, or '' for a syntax error. */
    readonly field: string,
    readonly problem: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    const where = line === undefined ? source : `${source}:${line}:${column ?? 1}`;
    super(`${where}: ${field === '' ? '' : `${field}: `}${problem}`);
  }
}

export function formatOfPath(path: string): AccessFileFormat {
  const extension = extname(path).toLowerCase();
  return extension === '.yaml' || extension === '.yml' ? 'yaml' : 'json';
}

export async function loadAccessFile(path: string): Promise<AccessPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AccessFileError(path, '', `cannot be read: ${(error as Error).message}`);
  }
  return parseAccessPolicy(text, formatOfPath(path), path);
}

/** The policy an access file's text describes. `source` names the text in error messages. */
export function parseAccessPolicy(text: string, format: AccessFileFormat, source = `(${format} access file)`): AccessPolicy {
  // A byte order mark some editors write is not content (JSON.parse would stop at it).
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const { value, document, lines } = format === 'yaml' ? readYaml(content, source) : readJson(content, source);
  try {
    return new AccessPolicy(validateAccessRules(value));
  } catch (error) {
    if (!(error instanceof AccessRulesError)) throw error;
    const position = locate(document, lines, error.path, error.at);
    throw new AccessFileError(source, formatFieldPath(error.path), error.problem, position?.line, position?.col);
  }
}

interface Parsed {
  readonly value: unknown;
  /** The YAML syntax tree, used only to find where a field is. */
  readonly document: Document.Parsed;
  readonly lines: LineCounter;
}

/**
 * YAML with the failsafe schema (YAML 1.2, 10.1): every scalar is a string, so a digest of digits
 * is never read as a number, `no` never as false, `0123` never as 123. Duplicate keys, several
 * documents, tags and aliases are errors.
 */
function readYaml(text: string, source: string): Parsed {
  const lines = new LineCounter();
  const document = parseDocument(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) {
    const at = lines.linePos(problem.pos[0]);
    const what = problem.code === 'DUPLICATE_KEY' ? ` (${keyAt(text, problem.pos[0])})` : '';
    throw new AccessFileError(source, '', `invalid YAML: ${problem.message}${what}`, at.line, at.col);
  }
  return { value: toPlain(document.contents, [], lines, source), document, lines };
}

/** A YAML node as JSON.parse would give it, refusing what an access file has no use for. */
function toPlain(node: unknown, path: FieldPath, lines: LineCounter, source: string): unknown {
  const fail = (at: Node, problem: string): never => {
    const position = at.range ? lines.linePos(at.range[0]) : undefined;
    throw new AccessFileError(source, formatFieldPath(path), problem, position?.line, position?.col);
  };
  if (node === null || node === undefined) return null;
  if (isAlias(node)) return fail(node, `aliases (*${node.source}) are not supported: write the value out`);
  if (isMap(node)) {
    // Own properties on a prototype-less object: a key `__proto__` is a key, not a prototype.
    const result: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || typeof key.value !== 'string') {
        return fail((key ?? node) as Node, 'keys must be plain strings');
      }
      result[key.value] = toPlain(pair.value, [...path, key.value], lines, source);
    }
    return result;
  }
  if (isSeq(node)) return node.items.map((item, index) => toPlain(item, [...path, index], lines, source));
  if (isScalar(node)) {
    if (node.tag !== undefined) return fail(node, `tags (${node.tag}) are not supported`);
    // `key:` with nothing after it is empty, not the empty string.
    if (node.type === 'PLAIN' && node.value === '') return null;
    return node.value;
  }
  return fail(node as Node, 'unsupported YAML node');
}

/**
 * Strict JSON (JSON.parse) for the values. The same text is also read as YAML, which JSON is a
 * subset of, for two things JSON.parse does not give: duplicate keys, which JSON.parse silently
 * resolves to the last one, and where each field is.
 */
function readJson(text: string, source: string): Parsed {
  const lines = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const offset = /at position (\d+)/.exec(message)?.[1];
    const at = offset === undefined ? undefined : lines.linePos(Number(offset));
    throw new AccessFileError(source, '', `invalid JSON: ${message}`, at?.line, at?.col);
  }
  const duplicate = document.errors.find((error) => error.code === 'DUPLICATE_KEY');
  if (duplicate) {
    const at = lines.linePos(duplicate.pos[0]);
    throw new AccessFileError(source, '', `invalid JSON: the key ${keyAt(text, duplicate.pos[0])} appears twice in one object`, at.line, at.col);
  }
  return { value, document, lines };
}

/** The key written at `offset`, quoted or plain, for an error message. */
function keyAt(text: string, offset: number): string {
  const key = /^(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^\s:,{}[\]]+)/.exec(text.slice(offset))?.[0] ?? '';
  return key.length > 50 ? `${key.slice(0, 50)}…` : key;
}

/** Where a field is in the text: its key or its value; the nearest enclosing node if missing. */
function locate(document: Document.Parsed, lines: LineCounter, path: FieldPath, at: 'key' | 'value'): { line: number; col: number } | undefined {
  for (let length = path.length; length >= 0; length--) {
    const node = nodeAt(document, path.slice(0, length), length === path.length ? at : 'value');
    const offset = node?.range?.[0];
    if (offset !== undefined) return lines.linePos(offset);
  }
  return undefined;
}

function nodeAt(document: Document.Parsed, path: FieldPath, at: 'key' | 'value'): Node | undefined {
  if (path.length === 0) return (document.contents ?? undefined);
  if (at === 'key') {
    const parent = nodeAt(document, path.slice(0, -1), 'value');
    const key = path[path.length - 1];
    if (!isMap(parent)) return undefined;
    const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
    return (pair?.key ?? undefined) as Node | undefined;
  }
  const node: unknown = document.getIn(path, true);
  return isScalar(node) || isMap(node) || isSeq(node) || isAlias(node) ? node : undefined;
}
