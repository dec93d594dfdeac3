// `rnnx export MODEL.onnx OUT.onnx [--stateful] [--sequence-lens] [--opset N]`: rebuilds the
// trainable model from the file's metadata and weights and writes it again with other options.

import { toOnnx } from '../graph/export.js';
import { userInput } from './errors.js';
import { loadRnnxModel } from './model-file.js';
import { checkWritable, writeOutput } from './output.js';

export default function exportCommand(argv: Record<string, unknown>): void {
  const src = String(argv.model);
  const out = String(argv.out);
  checkWritable(out);
  const model = loadRnnxModel(src);
  const options = { stateful: Boolean(argv.stateful), sequenceLens: Boolean(argv['sequence-lens']), opset: Number(argv.opset ?? 14) };
  const bytes = userInput('export options', () => toOnnx(model, options));
  writeOutput(out, bytes);
  process.stderr.write(`wrote ${out === '-' ? 'standard output' : out} (${bytes.length} bytes; stateful ${options.stateful}, sequence_lens ${options.sequenceLens}, opset ${options.opset})\n`);
}
