import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REQUIRED_ROLE } from '../../src/auth/roles.js';
import { USAGE } from '../../src/daemon/config.js';

/**
 * The README and docs/ say what the code does: the quick-start lines are the ones CI runs, every
 * RPC, role, option and metric the code has is documented with the value the code gives it, the
 * README's client examples compile against the client packages, and every link leads somewhere.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const README = read('README.md');
const PROTO_RPCS = [...read('proto/lit/stream/v1/stream.proto').matchAll(/^\s*rpc\s+(\w+)\s*\(/gm)].map((m) => m[1]!);

/** The fenced code blocks of a Markdown text in the given language. */
function codeBlocks(markdown: string, language: string): string[] {
  return [...markdown.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1]!);
}

/** The rows of the first Markdown table after `heading`, as trimmed cells. */
function tableAfter(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

/** `Start`, `Restart` → ['Start', 'Restart'] */
const rpcNamesIn = (cell: string) => [...cell.matchAll(/`([A-Z]\w+)`/g)].map((m) => m[1]!);

describe('README', () => {
  it("quick start has the server line and exactly the test line .ci/run runs", () => {
    const testLine = /^TEST_LINE='(.+)'$/m.exec(read('.ci/run'))?.[1];
    expect(testLine).toBeDefined();
    const commands = codeBlocks(README, 'sh').flatMap((block) => block.split('\n').map((line) => line.replace(/\s+#.*$/, '')));
    expect(commands).toContain(testLine);
    expect(commands).toContain('./scripts/setup.sh server && npm start');
  });

  it("API table has a row for every RPC of the proto, with the role src/auth/roles.ts requires", () => {
    const rows = tableAfter(README, '## The API');
    const documented = new Map(rows.flatMap(([rpcs = '', , role = '']) => rpcNamesIn(rpcs).map((rpc) => [rpc, role] as const)));
    expect([...documented.keys()].sort()).toEqual([...PROTO_RPCS].sort());
    for (const [rpc, role] of documented) expect(role, rpc).toBe(REQUIRED_ROLE.get(rpc));
  });

  it('TypeScript examples compile against @lit-stream/client', () => {
    const examples = codeBlocks(README, 'js');
    expect(examples.length).toBeGreaterThan(0);
    const diagnostics = typecheck(examples);
    expect(diagnostics).toEqual([]);
  }, 60_000);

  it('Python examples are valid Python importing only what lit.sdk.services.stream exports', () => {
    const exported = new Set([...read('clients/python/src/lit/sdk/services/stream/__init__.py').matchAll(/^\s+"(\w+)",$/gm)].map((m) => m[1]!));
    const examples = codeBlocks(README, 'python');
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      execFileSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: example });
      const imported = /^from lit\.sdk\.services\.stream import (.+)$/m.exec(example)?.[1]?.split(',').map((name) => name.trim()) ?? [];
      expect(imported.filter((name) => !exported.has(name))).toEqual([]);
    }
  });
});

describe('docs/', () => {
  it('security.md gives each role exactly the RPCs src/auth/roles.ts gives it', () => {
    const rows = tableAfter(read('docs/security.md'), '## Roles');
    const byRole = (role: string) => rpcNamesIn(rows.find(([name = '']) => name.startsWith(`\`${role}\``))?.[1] ?? '').sort();
    const required = (role: string) => [...REQUIRED_ROLE].filter(([, r]) => r === role).map(([rpc]) => rpc).sort();
    expect(byRole('reader')).toEqual(required('reader'));
    expect(byRole('logs')).toEqual(required('logs'));
    expect(byRole('operator')).toEqual(required('operator'));
  });

  it("configuration.md lists every option and environment variable of lit-streamd's --help", () => {
    const configuration = read('docs/configuration.md');
    // Each option begins a line of the usage text: `  --listen HOST:PORT…`, `  -h, --help …`.
    const options = [...USAGE.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]+)/gm)].map((m) => m[1]!);
    const variables = [...USAGE.matchAll(/\b(LIT_STREAM_[A-Z_]+)/g)].map((m) => m[1]!);
    expect(options.length).toBeGreaterThan(10);
    expect(options.filter((option) => !configuration.includes(option))).toEqual([]);
    expect(variables.filter((variable) => !configuration.includes(`\`${variable}`))).toEqual([]);
  });

  it('metrics.md documents every metric the server registers', () => {
    const metrics = read('docs/metrics.md');
    const names = sourceFiles(join(ROOT, 'src')).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/'((?:lit_stream|grpc_server)_[a-z_]+)'/g)].map((m) => m[1]!),
    );
    expect(names.length).toBeGreaterThan(10);
    expect([...new Set(names)].filter((name) => !metrics.includes(`\`${name}\``))).toEqual([]);
  });

  it('every relative link in the README, CONTRIBUTING, CHANGELOG and docs leads to a file and heading that exist', () => {
    const pages = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'bench/README.md', 'deploy/README.md', 'clients/python/README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    for (const page of pages.filter((p) => p.endsWith('.md'))) {
      for (const [, target = ''] of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path);
        if (!existsSync(file)) broken.push(`${page}: ${target}`);
        else if (anchor !== undefined && file.endsWith('.md') && !headingAnchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

/** GitHub's anchors for a Markdown text's headings. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-'),
  );
  return new Set(anchors);
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(directory, entry.name)) : entry.name.endsWith('.ts') ? [join(directory, entry.name)] : [],
  );
}

/** Type-checks each example as an ES module of its own next to the tests, as an app would import the client. */
function typecheck(examples: readonly string[]): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  };
  const files = new Map(examples.map((text, i) => [join(ROOT, 'test', `readme-example-${i}.mts`), `export {};\n${text}`]));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const text = files.get(name);
    return text === undefined ? getSourceFile.call(host, name, language, ...rest) : ts.createSourceFile(name, text, language);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(ROOT.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}
