// Where the installed package lives, to read the files it ships (models/, schemas/) from
// src/cli (tsx) and dist/src/cli (compiled) alike.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json is), from src/cli or dist/src/cli alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the rnnx package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}
