import { FIELD_SCOPES } from '../../src/permissions/field-scopes';
import { permissionRules } from '../../src/permissions';

/**
 * One source of truth for the scopes of nested fields: the permission map's rule for each field
 * of FIELD_SCOPES names that field's scope, and no rule below the root types names a scope the
 * table does not hold (invokeTool's check of its selection reads only the table).
 */
type AnyRule = { name?: string; rules?: AnyRule[] };

/** The names of the scope rules inside a rule (through and/or/chain). */
function scopeRules(rule: AnyRule | undefined): string[] {
  if (!rule) return [];
  const own = /^hasScope(OrAnonymous)?:/.test(rule.name ?? '') ? [rule.name!] : [];
  return [...own, ...(rule.rules ?? []).flatMap(scopeRules)];
}

const map = permissionRules as unknown as Record<string, Record<string, AnyRule>>;

it('gives every field of FIELD_SCOPES a rule that requires its scope', () => {
  for (const [type, fields] of Object.entries(FIELD_SCOPES)) {
    for (const [field, scope] of Object.entries(fields)) {
      const names = scopeRules(map[type]?.[field]);
      expect({ field: `${type}.${field}`, scopes: names.map((n) => n.split(':')[1]) }).toEqual({
        field: `${type}.${field}`,
        scopes: [scope],
      });
    }
  }
});

it('requires no scope below the root types that FIELD_SCOPES does not hold', () => {
  for (const [type, fields] of Object.entries(map)) {
    if (type === 'Query' || type === 'Mutation') continue;
    for (const [field, rule] of Object.entries(fields)) {
      for (const name of scopeRules(rule)) {
        expect(`${type}.${field} ${name.split(':')[1]}`).toBe(
          `${type}.${field} ${FIELD_SCOPES[type]?.[field]}`,
        );
      }
    }
  }
});
