/**
 * The WHERE clause of a list's statements, built from its filter: conditions on the table's
 * alias `t` with `?` placeholders, each bound to its values in order. A condition whose value
 * is not given (null or undefined; an empty list or text) is left out.
 */
export class SqlFilter {
  private readonly conditions: string[] = [];
  private readonly values: unknown[] = [];

  /** Adds `condition`; its `?` placeholders take `params`, in order. */
  and(condition: string, ...params: unknown[]): this {
    const placeholders = condition.split('?').length - 1;
    if (placeholders !== params.length) {
      throw new Error(`${condition} has ${placeholders} placeholders, given ${params.length}`);
    }
    this.conditions.push(condition);
    this.values.push(...params);
    return this;
  }

  /** Adds `condition` (one `?`) bound to `value`, when it is given (false is a value). */
  given(value: unknown, condition: string): this {
    return value === null || value === undefined || value === ''
      ? this
      : this.and(condition, value);
  }

  /** `column` is one of `values` (of the enum type `type`), when any are given. */
  anyOf(column: string, values: readonly string[] | null | undefined, type: string): this {
    return values?.length
      ? this.and(`${column} = any(?::${type}[])`, `{${values.join(',')}}`)
      : this;
  }

  /** Any of `columns` contains `text`, ignoring case (LIKE's wildcards in it are literal). */
  contains(columns: readonly string[], text: string | null | undefined): this {
    if (!text) return this;
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.and(
      `(${columns.map((column) => `${column} ilike ?`).join(' or ')})`,
      ...columns.map(() => pattern),
    );
  }

  /** Adds every condition of `other`, after this one's. */
  andAll(other: SqlFilter): this {
    this.conditions.push(...other.conditions);
    this.values.push(...other.values);
    return this;
  }

  get isEmpty(): boolean {
    return this.conditions.length === 0;
  }

  /** `where a and b`, or nothing. */
  get sql(): string {
    return this.conditions.length ? `where ${this.conditions.join(' and ')}` : '';
  }

  /** The values of the placeholders, in the order they appear in `sql`. */
  get params(): readonly unknown[] {
    return this.values;
  }
}
