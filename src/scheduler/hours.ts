// The interval job's period: SYNC_INTERVAL_HOURS and PUT /scheduler/interval?hours=N.
const MIN_INTERVAL_HOURS = 1;
const MAX_INTERVAL_HOURS = 168;

export function validIntervalHours(hours: number): boolean {
  return Number.isFinite(hours) && hours >= MIN_INTERVAL_HOURS && hours <= MAX_INTERVAL_HOURS;
}

/**
 * Parses `hours` as given in a query string: a plain decimal number (`12`, `1.5`) from 1 to 168.
 * Exponents, signs, hex and blanks are refused rather than guessed at (`1e1` is not 10 here).
 */
export function parseIntervalHours(text: string | undefined): { ok: true; hours: number } | { ok: false; message: string } {
  const expected = `a number of hours from ${MIN_INTERVAL_HOURS} to ${MAX_INTERVAL_HOURS} (decimals allowed, e.g. 1.5)`;
  if (text === undefined) return { ok: false, message: `hours is required: ${expected}` };
  if (!/^\d+(\.\d+)?$/.test(text)) return { ok: false, message: `hours must be ${expected}, not ${JSON.stringify(text)}` };
  const hours = Number(text);
  if (!validIntervalHours(hours)) return { ok: false, message: `hours must be ${expected}, not ${text}` };
  return { ok: true, hours };
}
