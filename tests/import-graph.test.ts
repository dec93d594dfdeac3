// The import graph of src/ points one way: no cycles, and inference code (src/runtime, src/serve)
// never loads training code, the native addon loader, the Model class, the CLI or the benchmarks.
// Only imports that exist at run time count: `import type` / `export type` and type-only
// specifiers are erased by the compiler and load nothing.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');

type Graph = Map<string, string[]>;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative module specifiers that `file` loads at run time (static imports, re-exports, import()). */
export function runtimeImports(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (!c.name && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) specs.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs.filter((s) => s.startsWith('.'));
}

function buildGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of tsFiles(srcDir)) {
    const id = relative(root, file);
    const deps = runtimeImports(file, readFileSync(file, 'utf8')).map((s) => relative(root, resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
    graph.set(id, deps);
  }
  return graph;
}

/** Strongly connected components with more than one node, or a node importing itself (Tarjan). */
export function cycles(graph: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return out;
}

/** Every module reachable from `starts` (the starts included). */
export function closure(graph: Graph, starts: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...starts];
  while (todo.length > 0) {
    const v = todo.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    todo.push(...(graph.get(v) ?? []));
  }
  return seen;
}

describe('import graph checker', () => {
  it('finds cycles and closures in a hand-made graph', () => {
    const g: Graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
    expect([...closure(g, ['c'])].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('ignores type-only imports and keeps value imports, re-exports and import()', () => {
    const text = [
      "import type { A } from './a.js';",
      "import { type B } from './b.js';",
      "import { type C, d } from './c.js';",
      "import * as e from './e.js';",
      "export type { F } from './f.js';",
      "export { g } from './g.js';",
      "import 'node:fs';",
      "const h = () => import('./h.js');",
    ].join('\n');
    expect(runtimeImports('x.ts', text)).toEqual(['./c.js', './e.js', './g.js', './h.js']);
  });
});

describe('src/ import graph', () => {
  const graph = buildGraph();

  it('has no import cycle', () => {
    expect(graph.size).toBeGreaterThan(40);
    expect(cycles(graph)).toEqual([]);
  });

  it('every relative import resolves to a file in src/', () => {
    const missing = [...graph].flatMap(([from, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${from} -> ${d}`));
    expect(missing).toEqual([]);
  });

  it('inference code (src/runtime, src/serve) loads no training code, addon loader, Model class or CLI', () => {
    const starts = [...graph.keys()].filter((f) => f.startsWith('src/runtime/') || f.startsWith('src/serve/'));
    expect(starts.length).toBeGreaterThan(5);
    const reached = [...closure(graph, starts)];
    const forbidden = reached.filter(
      (f) => f.startsWith('src/train/') || f.startsWith('src/cli/') || f.startsWith('src/bench/') || f === 'src/native.ts' || f === 'src/model/model.ts',
    );
    expect(forbidden).toEqual([]);
  });

  it("the 'rnnx/inference' entry (src/inference.ts) loads no training code, addon loader, Model class or CLI", () => {
    const reached = [...closure(graph, ['src/inference.ts'])];
    expect(reached).toContain('src/runtime/inference.ts');
    expect(reached).toContain('src/serve/service.ts');
    const forbidden = reached.filter(
      (f) => f.startsWith('src/train/') || f.startsWith('src/cli/') || f.startsWith('src/bench/') || f === 'src/native.ts' || f === 'src/model/model.ts',
    );
    expect(forbidden).toEqual([]);
  });

  it("the root entry (src/index.ts) re-exports the inference entry and adds the Model class and training", () => {
    const reached = closure(graph, ['src/index.ts']);
    for (const f of ['src/inference.ts', 'src/model/model.ts', 'src/train/index.ts', 'src/native.ts']) expect(reached.has(f)).toBe(true);
  });
});

describe('scripts/ and bench/', () => {
  it('import nothing from tests/ (scripts/device-check.ts is bundled for the GPU machine without it)', () => {
    const files = ['scripts', 'bench'].flatMap((d) =>
      readdirSync(join(root, d), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|mts|mjs|js)$/.test(f)).map((f) => join(root, d, f)),
    );
    expect(files.map((f) => relative(root, f))).toContain('scripts/device-check.ts');
    const bad = files.flatMap((f) =>
      runtimeImports(f, readFileSync(f, 'utf8'))
        .filter((s) => relative(root, resolve(dirname(f), s)).split(/[\\/]/)[0] === 'tests')
        .map((s) => `${relative(root, f)} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });
});
