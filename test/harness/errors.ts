/** An expected failure with an actionable message: the CLI prints it without a stack trace. */
export class HarnessError extends Error {
  override name = 'HarnessError';
}
