// Stryker ignorer for `npm run test:mutation:sample` (see sample.mjs): of the mutants inside the
// sampled ranges, it leaves only those on a sampled node or on a node that encloses one. Without
// it, a sampled mutant that empties a function body would bring every mutant in that body along.
// Ignored mutants are reported as Ignored and never run.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginKind, declareValuePlugin } from '@stryker-mutator/api/plugin';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { sample } = JSON.parse(readFileSync(join(root, 'reports', 'mutation-sample', 'sample.json'), 'utf8'));
const byFile = new Map();
for (const s of sample) {
  // Babel: lines from 1, columns from 0; sample.json: both from 1.
  const spot = { start: [s.line, s.column - 1], end: [s.end.line, s.end.column - 1] };
  byFile.set(s.file, [...(byFile.get(s.file) ?? []), spot]);
}
const le = (x, y) => x[0] < y[0] || (x[0] === y[0] && x[1] <= y[1]);

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'rnnx-sample', {
    shouldIgnore(path) {
      const loc = path.node.loc;
      const filename = path.hub?.file?.opts?.filename ?? '';
      const spots = [...byFile].find(([file]) => filename.replaceAll('\\', '/').endsWith(file))?.[1];
      if (!loc || !spots) return undefined;
      const start = [loc.start.line, loc.start.column];
      const end = [loc.end.line, loc.end.column];
      const enclosesASample = spots.some((s) => le(start, s.start) && le(s.end, end));
      return enclosesASample ? undefined : 'not in the sample (scripts/mutation/sample.mjs)';
    },
  }),
];
