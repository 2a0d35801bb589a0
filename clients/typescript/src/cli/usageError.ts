/** The command line is wrong: exit 2 with a line saying what, and where to find help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
