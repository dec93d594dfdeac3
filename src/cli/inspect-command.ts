// `rnnx inspect FILE.onnx [--json]`.
import { readBytes } from '../data/files.js';
import { describeOnnx, formatDescription } from './inspect.js';

export default function inspect(argv: Record<string, unknown>): void {
  const file = String(argv.file);
  const d = describeOnnx(readBytes(file), file);
  process.stdout.write(argv.json ? JSON.stringify(d, null, 2) + '\n' : formatDescription(d) + '\n');
}
