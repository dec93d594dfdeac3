// The message a call throws ('(no error)' when it returns), for tests that compare whole error
// texts. With `type`, the error must also be an instance of it.
import { expect } from 'vitest';

export function thrownMessage(f: () => unknown, type?: new (...args: never[]) => Error): string {
  try {
    f();
  } catch (e) {
    if (type) expect(e).toBeInstanceOf(type);
    return (e as Error).message;
  }
  return '(no error)';
}
