// Build step of @lit-stream/client, run after tsc: the generated code (ts-proto) reads and writes
// protobuf's wire format with @bufbuild/protobuf's BinaryReader/BinaryWriter, and nothing else of
// that package. So that an app installing the client gets @grpc/grpc-js's dependency tree and
// nothing more (issue 10), those two classes ship inside dist: this copies the module that defines
// them, with every file it imports (licence headers kept), to dist/vendor/bufbuild-protobuf/, and
// points dist's imports of "@bufbuild/protobuf/wire" there. It fails the build when anything of
// @bufbuild/protobuf is still imported from dist afterwards.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@bufbuild/protobuf';
const SPECIFIER = `${PACKAGE}/wire`;
/** The module of the wire entry point that defines BinaryReader and BinaryWriter. */
const ENTRY = 'wire/binary-encoding.js';

const clientRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(clientRoot, 'dist');
const esmRoot = dirname(dirname(fileURLToPath(import.meta.resolve(SPECIFIER))));
const vendorRoot = join(dist, 'vendor', 'bufbuild-protobuf');
// The package's own package.json is not exported: found two levels above dist/esm.
const { version } = JSON.parse(readFileSync(join(esmRoot, '..', '..', 'package.json'), 'utf8'));

/** The entry and every module it imports, transitively, as paths relative to the package's dist/esm. */
function closure(entry) {
  const seen = new Set();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(join(esmRoot, file), 'utf8');
    for (const [, specifier] of source.matchAll(/\bfrom\s+"([^"]+)"/g)) {
      if (!specifier.startsWith('.')) throw new Error(`${file} imports ${specifier}: only relative imports can be vendored`);
      pending.push(join(dirname(file), specifier));
    }
  }
  return [...seen];
}

for (const file of closure(ENTRY)) {
  mkdirSync(dirname(join(vendorRoot, file)), { recursive: true });
  copyFileSync(join(esmRoot, file), join(vendorRoot, file));
  const declarations = file.replace(/\.js$/, '.d.ts');
  if (existsSync(join(esmRoot, declarations))) copyFileSync(join(esmRoot, declarations), join(vendorRoot, declarations));
}
// Apache-2.0 §4(a): a copy of the licence goes with the copied code (the package ships none; the
// text is Debian's /usr/share/common-licenses/Apache-2.0). varint.js carries its BSD-3-Clause text.
copyFileSync(join(clientRoot, 'scripts', 'licenses', 'Apache-2.0.txt'), join(vendorRoot, 'LICENSE'));
writeFileSync(
  join(vendorRoot, 'README.md'),
  `Copied from ${PACKAGE} ${version} (dist/esm; Apache-2.0, varint.js BSD-3-Clause: see each file's header)\n` +
    `by scripts/vendor-protobuf-wire.mjs at build time: BinaryReader and BinaryWriter, which the generated code uses.\n`,
);

function* filesUnder(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (/\.(js|d\.ts)$/.test(entry.name)) yield path;
  }
}

/** Whether a module names the package in an import (a comment that mentions it does not count). */
function importsThePackage(source) {
  return source.includes(`"${PACKAGE}`) || source.includes(`'${PACKAGE}`);
}

/** The names a module imports from "@bufbuild/protobuf/wire". */
function namesImported(source) {
  const names = [];
  for (const [, list] of source.matchAll(new RegExp(`import\\s*(?:type\\s*)?\\{([^}]*)\\}\\s*from\\s*["']${SPECIFIER}["']`, 'g'))) {
    names.push(...list.split(',').map((name) => name.replace(/^\s*type\s+/, '').split(/\s+as\s+/)[0].trim()).filter(Boolean));
  }
  return names;
}

const provided = new Set(Object.keys(await import(join(vendorRoot, ENTRY))));
const leftOver = [];
for (const file of filesUnder(dist)) {
  if (file.startsWith(vendorRoot + sep)) continue;
  const source = readFileSync(file, 'utf8');
  if (!importsThePackage(source)) continue;
  const missing = namesImported(source).filter((name) => !provided.has(name));
  if (missing.length > 0) throw new Error(`${relative(clientRoot, file)} imports ${missing.join(', ')} from ${SPECIFIER}: not in the vendored ${ENTRY}`);
  let target = relative(dirname(file), join(vendorRoot, ENTRY)).split(sep).join('/');
  if (!target.startsWith('.')) target = `./${target}`;
  const rewritten = source.replaceAll(`"${SPECIFIER}"`, `"${target}"`).replaceAll(`'${SPECIFIER}'`, `'${target}'`);
  writeFileSync(file, rewritten);
  if (importsThePackage(rewritten)) leftOver.push(relative(clientRoot, file));
}
if (leftOver.length > 0) {
  throw new Error(`still importing ${PACKAGE} beyond ${SPECIFIER} (vendor it too, or make it a dependency): ${leftOver.join(', ')}`);
}
