// The two pages of the performance bench, as each target is asked for them, and how each answer
// maps to one common shape so the orchestrator can assert that the three return the same rows.
//
// For each page:
//   switchboard(ctx)   -> POST body {operationName, query, variables} for Switchboard's /graphql
//   postgraphile(ctx)  -> POST body for the PostGraphile peer's /graphql
//   rawSql(ctx)        -> POST body for the raw-SQL peer's /graphql ({operationName, variables})
//   sql, sqlParams(claims, variables), sqlData(rows)  -> what raw-sql.mjs runs and answers
//   normalize.{switchboard,postgraphile,rawSql}(answer) -> {rows: [...], hasNextPage, endCursorId}
// ctx = {userId, now?}: userId the caller (the token's subject), now the time the 30-day window
// ends at (default: now).
//
// Common shape: rows in the order the target returned them (the order is part of what must
// match), timestamps as ISO strings at millisecond precision (Switchboard answers JavaScript
// Dates; PostGraphile answers PostgreSQL's text, in microseconds), numbers as numbers
// (PostGraphile's sums are BigInt strings), and the id of the row each target's endCursor
// points at (the cursors themselves are opaque and differ: Switchboard's and the raw peer's are
// base64url of ["CREATED_AT:DESC", created_at::text, id], PostGraphile's base64 of
// ["<order digest>", created_at, row_id]).

const DAY_MS = 86_400_000;

const iso = (value) =>
  value === null || value === undefined ? null : new Date(value).toISOString();

function unwrap(answer, target) {
  if (!answer || answer.errors || !answer.data) {
    throw new Error(
      `${target} answered with errors: ${JSON.stringify(answer?.errors ?? answer).slice(0, 500)}`,
    );
  }
  return answer.data;
}

/** The id in the last slot of a base64/base64url JSON array cursor, or null. */
function cursorId(cursor) {
  if (cursor === null || cursor === undefined) return null;
  const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Array.isArray(decoded)) throw new Error(`unexpected cursor ${cursor}`);
  return decoded[decoded.length - 1];
}

/** Switchboard's cursor: base64url of JSON ["CREATED_AT:DESC", created_at::text, id]. */
function switchboardCursor(sortKey, id) {
  return Buffer.from(JSON.stringify(['CREATED_AT:DESC', sortKey, id])).toString('base64url');
}

// ---------------------------------------------------------------- TASKS: a user's newest 20 tasks

const TASKS_SWITCHBOARD = `query TasksPage {
  tasks(first: 20) {
    nodes { id title status priority dueDate createdAt owner { id email name } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// Amber's inflection: the uuid primary key is `rowId` (`id` is the global Node ID), the owner
// relation is `userByOwnerId`, the root collection `allTasks`, the order `ROW_ID_DESC`.
const TASKS_POSTGRAPHILE = `query TasksPage($ownerId: UUID!) {
  allTasks(first: 20, condition: { ownerId: $ownerId }, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    nodes { rowId title status priority dueDate createdAt userByOwnerId { rowId email name } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// One statement: 21 rows (the 21st only says there is a next page) with their owner. Timestamps
// are formatted by PostgreSQL as Switchboard prints them; sort_key is the cursor's key.
const TASKS_SQL = `select t.id, t.title, t.status, t.priority,
       to_char(t.due_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as due_date,
       to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
       t.created_at::text as sort_key,
       u.id as owner_id, u.email as owner_email, u.name as owner_name
  from tasks t join users u on u.id = t.owner_id
 where t.owner_id = $1
 order by t.created_at desc, t.id desc
 limit 21`;

const tasks = {
  name: 'tasks',
  operationName: 'TasksPage',
  switchboard: () => ({ operationName: 'TasksPage', query: TASKS_SWITCHBOARD, variables: {} }),
  postgraphile: ({ userId }) => ({
    operationName: 'TasksPage',
    query: TASKS_POSTGRAPHILE,
    variables: { ownerId: userId },
  }),
  // The raw peer takes the owner from the token, as Switchboard does.
  rawSql: () => ({ operationName: 'TasksPage', variables: {} }),
  sql: TASKS_SQL,
  sqlParams: (claims) => [claims.sub],
  sqlData(rows) {
    const shown = rows.length > 20 ? rows.slice(0, 20) : rows;
    const last = shown[shown.length - 1];
    return {
      tasks: {
        nodes: shown.map((r) => ({
          id: r.id,
          title: r.title,
          status: r.status,
          priority: r.priority,
          dueDate: r.due_date,
          createdAt: r.created_at,
          owner: { id: r.owner_id, email: r.owner_email, name: r.owner_name },
        })),
        pageInfo: {
          hasNextPage: rows.length > 20,
          endCursor: last ? switchboardCursor(last.sort_key, last.id) : null,
        },
      },
    };
  },
  normalize: {
    switchboard(answer) {
      const c = unwrap(answer, 'switchboard').tasks;
      return {
        rows: c.nodes.map((n) => ({
          id: n.id,
          title: n.title,
          status: n.status,
          priority: n.priority,
          dueDate: iso(n.dueDate),
          createdAt: iso(n.createdAt),
          owner: { id: n.owner.id, email: n.owner.email, name: n.owner.name },
        })),
        hasNextPage: c.pageInfo.hasNextPage,
        endCursorId: cursorId(c.pageInfo.endCursor),
      };
    },
    postgraphile(answer) {
      const c = unwrap(answer, 'postgraphile').allTasks;
      return {
        rows: c.nodes.map((n) => ({
          id: n.rowId,
          title: n.title,
          status: n.status,
          priority: n.priority,
          dueDate: iso(n.dueDate),
          createdAt: iso(n.createdAt),
          owner: {
            id: n.userByOwnerId.rowId,
            email: n.userByOwnerId.email,
            name: n.userByOwnerId.name,
          },
        })),
        hasNextPage: c.pageInfo.hasNextPage,
        endCursorId: cursorId(c.pageInfo.endCursor),
      };
    },
    rawSql(answer) {
      return tasks.normalize.switchboard(answer);
    },
  },
};

// --------------------------- ADMIN: 50 newest users, each with its task count and 30-day tokens

const ADMIN_SWITCHBOARD = `query AdminPage($from: DateTime!) {
  users(first: 50) {
    nodes { id email name role tasks { totalCount } usage(from: $from) { totalTokens } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// The task count is the relation connection's totalCount; the 30-day token sum is
// pg-aggregates' `aggregates.sum` over the usage relation narrowed by connection-filter.
// Switchboard's window is created_at >= from and < now (the time of its statement); `$to` is
// that upper bound here (connection-filter's `lessThan`), the same instant as the raw peer's.
const ADMIN_POSTGRAPHILE = `query AdminPage($from: Datetime!, $to: Datetime!) {
  allUsers(first: 50, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    nodes {
      rowId email name role
      tasksByOwnerId { totalCount }
      usageRecordsByUserId(filter: { createdAt: { greaterThanOrEqualTo: $from, lessThan: $to } }) {
        aggregates { sum { totalTokens } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

// One statement: the 51 newest users (the 51st only says there is a next page); the count and
// the sum are correlated subqueries run for the 50 shown only (a CASE evaluates its subquery only
// when taken), each an index-only scan: tasks(owner_id, created_at, id) and
// usage_records(user_id, created_at, id) include (..., total_tokens, ...).
const ADMIN_SQL = `select p.id, p.email, p.name, p.role, p.sort_key,
       case when p.n <= 50 then (select count(*) from tasks t where t.owner_id = p.id) end as task_count,
       case when p.n <= 50 then (select coalesce(sum(r.total_tokens), 0) from usage_records r
                                  where r.user_id = p.id and r.created_at >= $1 and r.created_at < $2) end as tokens
  from (select u.id, u.email, u.name, u.role, u.created_at::text as sort_key,
               row_number() over (order by u.created_at desc, u.id desc) as n
          from users u
         order by u.created_at desc, u.id desc
         limit 51) p
 order by p.n`;

function adminWindow({ now = new Date() } = {}) {
  const to = new Date(now);
  return { from: new Date(to.getTime() - 30 * DAY_MS).toISOString(), to: to.toISOString() };
}

const admin = {
  name: 'admin',
  operationName: 'AdminPage',
  switchboard: (ctx) => ({
    operationName: 'AdminPage',
    query: ADMIN_SWITCHBOARD,
    variables: { from: adminWindow(ctx).from },
  }),
  postgraphile: (ctx) => ({
    operationName: 'AdminPage',
    query: ADMIN_POSTGRAPHILE,
    variables: adminWindow(ctx),
  }),
  // `to` is optional for the raw peer (default: the statement's now()), as for Switchboard.
  rawSql: (ctx) => ({ operationName: 'AdminPage', variables: adminWindow(ctx) }),
  sql: ADMIN_SQL,
  sqlParams(_claims, variables) {
    const from = variables?.from;
    const to = variables?.to ?? new Date().toISOString();
    if (
      typeof from !== 'string' ||
      Number.isNaN(Date.parse(from)) ||
      Number.isNaN(Date.parse(to))
    ) {
      return null;
    }
    return [from, to];
  },
  sqlData(rows) {
    const shown = rows.length > 50 ? rows.slice(0, 50) : rows;
    const last = shown[shown.length - 1];
    return {
      users: {
        nodes: shown.map((r) => ({
          id: r.id,
          email: r.email,
          name: r.name,
          role: r.role,
          tasks: { totalCount: Number(r.task_count) },
          usage: { totalTokens: Number(r.tokens) },
        })),
        pageInfo: {
          hasNextPage: rows.length > 50,
          endCursor: last ? switchboardCursor(last.sort_key, last.id) : null,
        },
      },
    };
  },
  normalize: {
    switchboard(answer) {
      const c = unwrap(answer, 'switchboard').users;
      return {
        rows: c.nodes.map((n) => ({
          id: n.id,
          email: n.email,
          name: n.name,
          role: n.role,
          taskCount: n.tasks.totalCount,
          tokens: n.usage.totalTokens,
        })),
        hasNextPage: c.pageInfo.hasNextPage,
        endCursorId: cursorId(c.pageInfo.endCursor),
      };
    },
    postgraphile(answer) {
      const c = unwrap(answer, 'postgraphile').allUsers;
      return {
        rows: c.nodes.map((n) => ({
          id: n.rowId,
          email: n.email,
          name: n.name,
          role: n.role,
          taskCount: n.tasksByOwnerId.totalCount,
          // Its SQL coalesces an empty sum to '0' already; `?? 0` is only a guard.
          tokens: Number(n.usageRecordsByUserId.aggregates?.sum?.totalTokens ?? 0),
        })),
        hasNextPage: c.pageInfo.hasNextPage,
        endCursorId: cursorId(c.pageInfo.endCursor),
      };
    },
    rawSql(answer) {
      return admin.normalize.switchboard(answer);
    },
  },
};

export const pages = { tasks, admin };

/** The page a raw-SQL request body asks for (by operationName), or undefined. */
export function pageByOperation(operationName) {
  return Object.values(pages).find((p) => p.operationName === operationName);
}
