// Memory under a flood, with the default limits: the server runs as a child process
// (src/serve/main.ts, defaults but for the port and one worker) and 64 clients each POST a
// 2 MB body at once. The excess is refused with 503 and the child's peak RSS (VmHWM, from
// /proc) stays bounded: before the memory budget a flood held 3.5 GB.

import { existsSync, readFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { dense, gru } from '../src/layers/spec.js';
import { makeModel, startServerChild, tempDir } from './serve-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function kib(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

it.skipIf(!existsSync('/proc/self/status'))('a flood of 2 MB bodies: the excess gets 503, peak RSS stays bounded (default limits)', async () => {
  const I = 32;
  const { path } = makeModel(tmp.dir, 'flood', I, [gru({ units: 8 }), dense({ units: 1 })], 3);
  const { child, url: listening } = startServerChild([path, '--port', '0', '--workers', '1', '--threads', '1']);
  try {
    const url = await listening;
    const T = 10_000;
    const row = Array.from({ length: I }, (_, j) => ((j % 7) / 10 - 0.3).toFixed(3)).join(',');
    const body = `{"inputs":[{"name":"x","shape":[1,${T},${I}],"datatype":"FP32","data":[${Array.from({ length: T }, () => row).join(',')}]}]}`;
    const before = kib(child.pid!, 'VmRSS');
    const statuses = await Promise.all(Array.from({ length: 64 }, () =>
      fetch(`${url}/v2/models/flood/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        })
        .catch(() => 0)));
    const peak = kib(child.pid!, 'VmHWM');
    const ok = statuses.filter((s) => s === 200).length;
    // 503 (a limit), 408 (a body slower than bodyTimeoutMs on a loaded machine), or the connection
    // closed under an upload the server refused to read further: clean refusals, nothing else.
    const refused = statuses.filter((s) => s === 503 || s === 408 || s === 0).length;
    console.log(`serve flood: ${statuses.length} x ${(body.length / 1e6).toFixed(1)} MB bodies at once → ${ok} x 200, ${refused} x 503; child RSS ${(before / 1024).toFixed(0)} MiB before, peak ${(peak / 1024).toFixed(0)} MiB`);
    expect(ok + refused, `statuses: ${statuses.join(',')}`).toBe(statuses.length);
    expect(ok).toBeGreaterThan(0);
    // The budget (512 MiB of requests in progress) plus the runtime: well under the 3.5 GB seen before.
    expect(peak).toBeLessThan(before + 1024 * 1024);
    // And the server still answers.
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
  } finally {
    child.kill('SIGKILL');
  }
}, 120_000);
