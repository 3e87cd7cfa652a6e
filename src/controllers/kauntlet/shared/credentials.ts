// Database credentials from a Secret reference (CredentialsSecretReference in api/common.ts).
// The password never leaves this shape except to a driver: it is not logged or written anywhere.

export interface CredentialsRef {
  name: string;
  usernameKey?: string;
  passwordKey?: string;
}

export interface Credentials {
  /** Absent when the Secret has no user name key: the engine's default account. */
  username?: string;
  password: string;
}

export type CredentialsResult =
  | { ok: true; credentials: Credentials }
  | { ok: false; reason: 'SecretNotFound' | 'SecretKeyMissing'; message: string };

const decode = (v: string | undefined): string | undefined =>
  v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');

/** Reads `ref` from `secret` (as served by the API: base64 `data`). */
export function credentialsFrom(
  ref: CredentialsRef,
  secret: { data?: Record<string, string> } | undefined,
): CredentialsResult {
  if (!secret) return { ok: false, reason: 'SecretNotFound', message: `Secret ${JSON.stringify(ref.name)} not found` };
  const data = secret.data ?? {};
  const passwordKey = ref.passwordKey ?? 'password';
  const password = decode(data[passwordKey]);
  if (password === undefined) {
    return {
      ok: false,
      reason: 'SecretKeyMissing',
      message: `Secret ${JSON.stringify(ref.name)} has no key ${JSON.stringify(passwordKey)}`,
    };
  }
  const username = decode(data[ref.usernameKey ?? 'username']);
  return { ok: true, credentials: { username: username || undefined, password } };
}
