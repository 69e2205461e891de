/** Shown to the operator wherever a password is chosen. */
export const PASSWORD_POLICY_TEXT =
  'At least 12 characters, with three of: lower-case, upper-case, digits, symbols (or 20+ characters of any kind); not your username, not a common password.';

const COMMON = new Set([
  'password1234',
  'password12345',
  'passw0rd1234',
  'qwertyuiop12',
  '123456789012',
  'iloveyou1234',
  'administrator',
  'adminadmin123',
  'changeme1234',
  'welcome12345',
]);

/** Returns why a password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < 12) return 'it is shorter than 12 characters';
  if (password.length > 1024) return 'it is longer than 1024 characters';
  if (/^(.)\1*$/.test(password)) return 'it repeats a single character';
  if (COMMON.has(password.toLowerCase())) return 'it is a common password';
  if (username.length >= 3 && password.toLowerCase().includes(username.toLowerCase())) return 'it contains the username';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  if (classes < 3 && password.length < 20) return 'it needs three kinds of characters (lower, upper, digits, symbols) or 20+ characters';
  return null;
}
