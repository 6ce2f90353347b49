// Keeps secrets out of everything the service prints or answers: logs, errors, /info, history,
// alerts, CLI output. Two layers: the secrets the configuration holds are registered and replaced
// wherever they appear (whole, or URL-encoded), and anything shaped like credentials in a URI is
// masked, so a secret from elsewhere (a driver's error quoting a URI) is covered too.
// Through require: the package's ESM entry (.esm-wrapper.mjs) is missing from its published files.
const { ConnectionString } = require("mongodb-connection-string-url") as typeof import("mongodb-connection-string-url");

const MASK = "***";
const secrets = new Set<string>();

/** Remembers a secret so that `redactUri` masks it anywhere. Very short values would mask innocent text. */
export function registerSecret(secret: string | null | undefined): void {
  if (!secret || secret.length < 4) return;
  for (const form of [secret, encodeURIComponent(secret)]) secrets.add(form);
}

/** The password of a connection string, decoded, or null (also for a string that is not a valid URI). */
export function uriPassword(uri: string): string | null {
  try {
    const password = /^mongodb(\+srv)?:\/\//i.test(uri) ? new ConnectionString(uri).password : new URL(uri).password;
    return decodeURIComponent(password) || null;
  } catch {
    return null;
  }
}

/**
 * One configured value, known to be whole: everything between `scheme://` (or the start) and its
 * last `@` is credentials. A malformed value (`user:p@ss@host`, a space in the password) is cut at
 * the last `@`, so no part of its password shows.
 */
export function redactValue(value: string): string {
  const at = value.lastIndexOf("@");
  if (at < 0) return redactUri(value);
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? "";
  const user = /^[^:@/]*:/.exec(value.slice(scheme.length, at))?.[0] ?? "";
  return `${scheme}${user}${MASK}${value.slice(at)}`;
}

/** Free text (a log line, an error message): registered secrets and URI credentials masked. */
export function redactUri(text: string): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
  return out
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^:/@\s"'<>]*:)[^/\s"'<>]*@/gi, `$1$2${MASK}@`)
    .replace(/(^|[\s"'=(,])([^:@\s"'=(,]+:)(?!\/\/)[^@\s"']*@/g, `$1$2${MASK}@`);
}
