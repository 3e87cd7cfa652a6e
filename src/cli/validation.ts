// Checks of option values that several commands share; each returns its problems as messages.

export function validatePort(port: number, flag: string): string[] {
  return port >= 0 && port <= 65535 ? [] : [`${flag} must be between 0 and 65535 (0 picks a free port), got ${port}`];
}
