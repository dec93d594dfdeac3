// Loading rnnx model files for the CLI: the graph module's loader, with its errors turned into
// one-line user errors (a file the user named is missing, not ONNX, or not written by rnnx).

import { existsSync } from 'node:fs';

import { Model } from '../model/model.js';
import { readBytes } from '../data/files.js';
import { UserError } from '../data/errors.js';

export function loadRnnxModel(path: string): Model {
  if (!existsSync(path)) throw new UserError(`${path}: cannot read: no such file or directory`);
  const bytes = readBytes(path);
  try {
    return Model.fromOnnx(bytes, path);
  } catch (e) {
    const msg = (e as Error).message;
    throw new UserError(msg.includes(path) ? msg : `${path}: ${msg}`, { cause: e });
  }
}
