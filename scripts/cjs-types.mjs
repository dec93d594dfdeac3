#!/usr/bin/env node
// Writes a CommonJS-flavoured copy of every declaration file (dist/src/**/*.d.ts → .d.cts, relative
// imports rewritten from .js to .cjs), which package.json's `exports` hands to `require` consumers.
// rnnx is one ESM build: Node ≥ 20.19 loads it with require(), but TypeScript projects with
// `module: node16` refuse to import an ESM declaration from CommonJS (TS1479) unless the types
// they resolve are CommonJS declarations. Types only, so the copy cannot drift from the code.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src');

function* declarations(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* declarations(p);
    else if (e.name.endsWith('.d.ts')) yield p;
  }
}

// `from './x.js'`, `import('./x.js')` and `export * from '../x.js'`: relative specifiers only.
const RELATIVE = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+?)\.js(['"])/g;
let n = 0;
for (const file of declarations(dist)) {
  const text = readFileSync(file, 'utf8').replace(RELATIVE, '$1$2.cjs$3');
  writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), text);
  n++;
}
process.stderr.write(`cjs-types: ${n} declaration files copied as .d.cts\n`);
