// Child process of the reader fuzz test: runs hostile .onnx files through the readers that can
// take the process down (ONNX Runtime's native code) and through the CLI commands, in-process
// here so that a crash kills this child, not the test runner. Usage: runtime-child.ts DIR CSV
// (DIR holds case-*.onnx). Prints `start NAME` before each case, so that a crash names the case,
// and one final `result {json}` line: cases run, and failures (errors that are not user errors).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceModel } from '../../src/runtime/inference.js';
import { isUserError } from '../../src/data/errors.js';
import inspect from '../../src/cli/commands/inspect.js';
import predict from '../../src/cli/commands/predict.js';
import { isBugError } from './mutate.js';

const [dir, csv] = process.argv.slice(2);
const failures: { file: string; reader: string; error: string }[] = [];
let cases = 0;
const log = (s: string) => process.stderr.write(s + '\n');
const quietStdout = process.stdout.write.bind(process.stdout);

for (const name of readdirSync(dir).filter((n) => n.startsWith('case-')).sort()) {
  const file = join(dir, name);
  log(`start ${name}`);
  cases++;
  // The library: any Error is fine, a TypeError or RangeError is unguarded code.
  try {
    const m = await InferenceModel.open(file, { providers: ['cpu'] });
    try {
      const I = m.inputSize;
      if (I !== null && I > 0 && I <= 64 && m.inputNames.includes('x') && m.outputNames.includes('y')) await m.run(new Float32Array(2 * 3 * I).fill(0.25), { batch: 2 });
    } finally {
      await m.release();
    }
  } catch (e) {
    if (isBugError(e)) failures.push({ file: name, reader: 'InferenceModel', error: String((e as Error)?.stack ?? e).slice(0, 600) });
  }
  // The CLI: only user errors (exit 1) are acceptable; anything else would exit 2.
  for (const [reader, run] of [
    ['rnnx inspect', () => inspect({ file })],
    ['rnnx predict', () => predict({ model: file, input: csv })],
  ] as const) {
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await run();
    } catch (e) {
      if (!isUserError(e)) failures.push({ file: name, reader, error: String((e as Error)?.stack ?? e).slice(0, 600) });
    } finally {
      process.stdout.write = quietStdout;
    }
  }
}
process.stdout.write(`result ${JSON.stringify({ cases, failures })}\n`);
