// Query parameters shared by several routes.
import { t } from "elysia";

/**
 * An integer from 1 to `max` (a power of ten) written in plain decimal. Elysia's t.Integer reads
 * a query value with Number(), which also takes `0x5`, `1e2` and ` 5`.
 */
export function decimalQuery(field: string, max: 10 | 100 | 1000, description: string, example: string) {
  const moreDigits = String(max).length - 2;
  return t
    .Transform(
      t.String({
        pattern: `^(?:${max}|[1-9][0-9]{0,${moreDigits}})$`,
        description,
        examples: [example],
        error: `${field}: must be an integer from 1 to ${max}`,
      }),
    )
    .Decode((value) => Number(value))
    .Encode((value) => String(value));
}
