#!/usr/bin/env node
// rnnx's install script. The package carries prebuilt addons (prebuilds/<platform>-<arch>/, made
// by prebuildify); node-gyp-build picks the one that matches at run time, so when one matches
// nothing is compiled. Otherwise (another platform, a git checkout, RNNX_CUDA=1 asking for the
// CUDA training backend) the addon is compiled from native/ with node-gyp. A failed compile never
// fails the install: only training needs the addon, and it then throws RNNX_NO_NATIVE with the fix.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function prebuilt() {
  try {
    return require('node-gyp-build').path(root);
  } catch {
    return null;
  }
}

const found = process.env.RNNX_CUDA === '1' ? null : prebuilt();
if (found) {
  process.exit(0);
}

// npm puts its own node-gyp on PATH for lifecycle scripts; npm_config_node_gyp names it too.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: !gyp && process.platform === 'win32' });
if (r.status !== 0) {
  const why = r.error ? r.error.message : `node-gyp exited with ${r.status ?? r.signal}`;
  process.stderr.write(
    `rnnx: no prebuilt addon for ${process.platform}-${process.arch} and compiling it failed (${why}).\n` +
    'rnnx: inference, serving and `rnnx predict | inspect | serve` work without it; training needs it.\n' +
    'rnnx: to train, install a C++17 compiler, make and Python 3, then run `npm rebuild rnnx`.\n',
  );
}
process.exit(0);
