import { statementWithoutValues } from '../../src/db/statement-tracing';

describe('a statement as traces show it', () => {
  it.each([
    [
      `select "u0".* from "users" as "u0" where "u0"."email" = 'ada@example.com' limit 1`,
      `select "u0".* from "users" as "u0" where "u0"."email" = ? limit ?`,
    ],
    [
      `insert into "tasks" ("title", "n") values ('It''s -- not a comment', 42) returning "id"`,
      `insert into "tasks" ("title", "n") values (?, ?) returning "id"`,
    ],
    // pg's escapeLiteral writes a value with a backslash as E'...'
    [`select 1 where a = E'back\\\\slash '' \\' quote'`, `select ? where a = ?`],
    [`select $tag$ secret $tag$, $$ also $$, -3.5e10, .5`, `select ?, ?, -?, ?`],
    [
      `update "t0" set "x" = 1 /* 'kept' */ where "id" = any($1::uuid[]) and "y" = $2 -- it's kept`,
      `update "t0" set "x" = ? /* 'kept' */ where "id" = any($1::uuid[]) and "y" = $2 -- it's kept`,
    ],
    [
      `select "odd""name", t1.c2 from x1 where y = 'a''b'`,
      `select "odd""name", t1.c2 from x1 where y = ?`,
    ],
    [
      `select B'0101', X'1F', U&'d\\0061t', e'x', 1e-3, t2.c3::int4 from t2`,
      `select B?, X?, U&?, ?, ?, t2.c3::int4 from t2`,
    ],
    // An unterminated literal hides everything after its quote.
    [`select 'unterminated secret and more`, `select ?`],
    [`select $q$ unterminated secret`, `select ?`],
  ])('%s', (sent, shown) => {
    expect(statementWithoutValues(sent)).toBe(shown);
  });
});
