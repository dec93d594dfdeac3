// Exit codes of the rnnx command: 0 success, 1 a user error (one line, the stack only with
// --verbose), 2 an internal error (a bug in rnnx). UserError lives with the data loaders, which
// throw it most; the CLI converts the errors of other modules that come from user input.

import { UserError } from '../data/errors.js';

export { UserError, isUserError } from '../data/errors.js';

export const EXIT_OK = 0;
export const EXIT_USER = 1;
export const EXIT_INTERNAL = 2;

/** Runs `f`; any Error it throws becomes a UserError prefixed with `where` (for input validation done by other modules). */
export function userInput<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UserError) throw e;
    const msg = (e as Error)?.message ?? String(e);
    throw new UserError(msg.startsWith(where) ? msg : `${where}: ${msg}`, { cause: e });
  }
}

export async function userInputAsync<T>(where: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof UserError) throw e;
    const msg = (e as Error)?.message ?? String(e);
    throw new UserError(msg.startsWith(where) ? msg : `${where}: ${msg}`, { cause: e });
  }
}

/** Prints an error the way the CLI promises and returns the exit code. */
export function reportError(e: unknown, verbose: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const oneLine = err.message.split('\n')[0];
  if (err instanceof UserError) {
    write(`rnnx: ${oneLine}\n`);
    if (verbose && err.stack) write(err.stack + '\n');
    return EXIT_USER;
  }
  write(`rnnx: internal error: ${oneLine}${verbose ? '' : ' (run with --verbose for the stack trace)'}\n`);
  if (verbose && err.stack) write(err.stack + '\n');
  return EXIT_INTERNAL;
}
