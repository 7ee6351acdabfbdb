// Fails when a SQL statement is written outside the storage layer: every string and template
// literal of src/ (outside entities/, db/ and migrations/) that reads like SQL is reported with
// its place. Services call named repository methods; they never build SQL (README, "How it is
// built"). `node scripts/check-sql.mjs [root]` checks another tree (the test plants one).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

const root = process.argv[2] ?? 'src';
const STORAGE = ['entities', 'db', 'migrations'];

/** What follows a table's name in a statement: an alias, a clause, or its end. */
const AFTER_TABLE = String.raw`(\s+(as\s+)?\w{1,2}\b|\s+(where|join|left|right|inner|cross|group|order|limit|union|using|returning|for)\b|\s+\?|\s*[),;]|\s*$)`;
const TABLE = String.raw`(\?|[\w".]+)`;

/**
 * The shapes of a statement (keywords in SQL's order, a table where SQL has one, so that English
 * such as "select a plan from the list" passes) and of a WHERE condition with a placeholder
 * (`t.role = ?`, `ilike ?`, `?::uuid[]`).
 */
const SQL = [
  new RegExp(String.raw`\bselect\s[\s\S]*?\bfrom\s+(\(|\w+\s*\(|${TABLE}${AFTER_TABLE})`, 'i'),
  new RegExp(String.raw`\binsert\s+into\s+${TABLE}\s*(\(|values\b|select\b|default\b)`, 'i'),
  new RegExp(String.raw`\bupdate\s+${TABLE}(\s+(as\s+)?\w{1,2})?\s+set\s+[\w"]+\s*=`, 'i'),
  new RegExp(String.raw`\bdelete\s+from\s+${TABLE}${AFTER_TABLE}`, 'i'),
  /\bwith\s+(recursive\s+)?[\w"]+\s+as\s*\(/i,
  /\b\w+\.\w+\s*(=|<>|!=|<=?|>=?)\s*(any\s*\()?\?/,
  /\bi?like\s+\?/i,
  /\?::\w+/,
];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (dir === root && STORAGE.includes(entry.name)) continue;
      yield* files(path);
    } else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      yield path;
    }
  }
}

/** The text of a literal as written (a template's expressions become `?`). */
function literalText(node) {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) {
    return node.head.text + node.templateSpans.map((span) => `?${span.literal.text}`).join('');
  }
  return null;
}

const found = [];
for (const path of files(root)) {
  const source = ts.createSourceFile(
    path,
    readFileSync(path, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const visit = (node) => {
    const text = literalText(node);
    if (text !== null && SQL.some((pattern) => pattern.test(text))) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
      const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 70);
      found.push(`  ${relative('.', path).split(sep).join('/')}:${line + 1}  ${excerpt}`);
      return; // a template's spans are part of the same statement
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

if (found.length > 0) {
  console.error(
    `${found.length} SQL string(s) outside the storage layer (${STORAGE.map((d) => `${root}/${d}/`).join(', ')}):`,
  );
  for (const line of found) console.error(line);
  console.error('Move each into a repository method (src/entities/x.repository.ts) and call that.');
  process.exit(1);
}
console.log(`no SQL outside ${STORAGE.map((d) => `${root}/${d}/`).join(', ')}`);
