// Shared by the serve tests that check timers: which were armed, with what delay, and which were
// cleared, with the real timers still running underneath.

import { vi } from 'vitest';

/** Records every timer armed while `body` runs (delay and the Timeout itself), and every timer cleared. */
export async function watchTimers(body: (made: { ms: number; timer: NodeJS.Timeout }[], cleared: unknown[]) => Promise<void>): Promise<void> {
  const made: { ms: number; timer: NodeJS.Timeout }[] = [];
  const cleared: unknown[] = [];
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
    const timer = realSet(fn, ms);
    made.push({ ms, timer });
    return timer;
  }) as typeof setTimeout);
  const clear = vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((t: NodeJS.Timeout) => {
    cleared.push(t);
    realClear(t);
  }) as typeof clearTimeout);
  try {
    await body(made, cleared);
  } finally {
    set.mockRestore();
    clear.mockRestore();
  }
}
