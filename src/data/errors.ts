// The error a user can fix: bad input files, bad options, bad paths. The CLI prints its message
// on one line and exits 1; any other Error is a bug in rnnx (exit 2). Data loaders throw it
// directly, since everything they reject comes from the user's files.

export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
