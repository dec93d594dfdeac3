// `rnnx export MODEL.onnx OUT.onnx [--stateful] [--sequence-lens] [--opset N]`: rebuilds the
// trainable model from the file's metadata and weights and writes it again with other options.
// `rnnx export MODEL.onnx --triton DIR [--stateful]`: a Triton model repository entry instead.

import { basename, join } from 'node:path';
import { toOnnx } from '../../graph/export.js';
import { tritonConfig, tritonGraph } from '../../graph/triton.js';
import { UserError } from '../../data/errors.js';
import { userInput } from '../errors.js';
import { loadRnnxModel } from '../model-file.js';
import { checkWritable, writeOutput } from '../output.js';

export default function exportCommand(argv: Record<string, unknown>): void {
  const src = String(argv.model);
  if (argv.triton !== undefined) {
    if (argv.out !== undefined) throw new UserError('give either OUT (an .onnx file) or --triton DIR (a Triton model repository), not both');
    const dir = String(argv.triton);
    const model = loadRnnxModel(src);
    const name = argv.name === undefined ? basename(src).replace(/\.onnx$/i, '') : String(argv.name);
    const stateful = Boolean(argv.stateful);
    const maxBatchSize = argv['max-batch'] === undefined ? undefined : Number(argv['max-batch']);
    const config = userInput('--triton', () => tritonConfig(model.spec, { name, stateful, maxBatchSize }));
    const bytes = userInput('export options', () => tritonGraph(model, { stateful, opset: Number(argv.opset ?? 14) }));
    const graphPath = join(dir, name, '1', 'model.onnx');
    const configPath = join(dir, name, 'config.pbtxt');
    for (const p of [graphPath, configPath]) checkWritable(p);
    writeOutput(graphPath, bytes);
    writeOutput(configPath, config);
    process.stderr.write(`wrote ${configPath} and ${graphPath} (Triton, ONNX Runtime backend; ${stateful ? 'sequence batching with implicit state' : 'dynamic batching'})\n`);
    return;
  }
  if (argv.out === undefined) throw new UserError('give OUT (the .onnx file to write) or --triton DIR');
  const out = String(argv.out);
  checkWritable(out);
  const model = loadRnnxModel(src);
  const options = { stateful: Boolean(argv.stateful), sequenceLens: Boolean(argv['sequence-lens']), opset: Number(argv.opset ?? 14) };
  const bytes = userInput('export options', () => toOnnx(model, options));
  writeOutput(out, bytes);
  process.stderr.write(`wrote ${out === '-' ? 'standard output' : out} (${bytes.length} bytes; stateful ${options.stateful}, sequence_lens ${options.sequenceLens}, opset ${options.opset})\n`);
}
