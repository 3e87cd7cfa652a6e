// Checks of option values that several commands share; each returns its problems as messages.

export function validatePort(port: number, flag: string): string[] {
  return port >= 0 && port <= 65535 ? [] : [`${flag} must be between 0 and 65535 (0 picks a free port), got ${port}`];
}

export function validateCIDR(cidr: string, flag: string, loopback = true): string[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const ok = m && m.slice(1, 5).every((p) => Number(p) <= 255) && Number(m[5]) >= 8 && Number(m[5]) <= 30;
  if (!ok) return [`${flag} must be an IPv4 CIDR with a prefix between /8 and /30, got "${cidr}"`];
  return !loopback || m[1] === '127'
    ? []
    : [`${flag} must be inside 127.0.0.0/8 (only loopback addresses are used), got "${cidr}"`];
}
