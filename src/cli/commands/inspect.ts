// `rnnx inspect FILE.onnx [--json]`. A file with non-finite weights is described, then reported
// as an error (exit 1): the description helps find the damage, the exit status flags it.
import { readBytes } from '../../data/files.js';
import { UserError } from '../../data/errors.js';
import { describeNonFinite } from '../../graph/finite.js';
import { describeOnnx, formatDescription } from '../describe-onnx.js';

export default function inspect(argv: Record<string, unknown>): void {
  const file = String(argv.file);
  const d = describeOnnx(readBytes(file), file);
  process.stdout.write(argv.json ? JSON.stringify(d, null, 2) + '\n' : formatDescription(d) + '\n');
  if (d.nonFinite.length) throw new UserError(`${file}: ${describeNonFinite(d.nonFinite)}; refusing a model with non-finite weights`);
}
