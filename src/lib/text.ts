/** An unpaired UTF-16 surrogate: JSON may carry one (`"\ud800"`), but UTF-8 and PostgreSQL cannot. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether PostgreSQL can store `text` as sent: no NUL character and no unpaired surrogate. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/**
 * Paths of the strings (values and object keys) in `value` that PostgreSQL could not store,
 * at most `limit` of them. `Date`s are skipped; the walk is iterative, so depth cannot overflow.
 */
export function unstorableTextPaths(value: unknown, root = '', limit = 20): string[] {
  const out: string[] = [];
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0 && out.length < limit) {
    const [item, path] = stack.pop()!;
    if (typeof item === 'string') {
      if (!isStorableText(item)) out.push(path);
    } else if (Array.isArray(item)) {
      for (const child of item) stack.push([child, path]);
    } else if (item !== null && typeof item === 'object' && !(item instanceof Date)) {
      for (const [key, child] of Object.entries(item)) {
        const childPath = path ? `${path}.${key}` : key;
        if (!isStorableText(key)) out.push(path || root);
        else stack.push([child, childPath]);
      }
    }
  }
  return [...new Set(out)];
}

/**
 * Has something besides whitespace and zero-width characters (U+200B..U+200D, U+2060, U+FEFF),
 * which `trim()` keeps and nobody can see.
 */
/**
 * No control, format (zero-width and soft hyphen among them) or separator characters: an email
 * address with one looks like another account's (`dup\u200b@x.test` beside `dup@x.test`).
 */
export const NO_INVISIBLE = /^[^\p{Cc}\p{Cf}\p{Z}]*$/u;

export const NOT_BLANK = /[^\s\u200B-\u200D\u2060\uFEFF]/;

/**
 * Emails are compared in one form: compatibility-normalised (NFKC, so a full-width `ａdmin` is
 * `admin`), trimmed and lower-cased. Lookalikes from other scripts remain distinct addresses.
 */
export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}
