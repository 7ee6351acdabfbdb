import {
  getArgumentValues,
  Kind,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';

/**
 * The fields selected under `set` (fragments and inline fragments followed), by name. Used to
 * read ahead: a list resolver that sees what its rows' fields will ask for can fetch it in its
 * own statement. @skip/@include are not evaluated: at worst something is fetched for nothing.
 */
export function selectedFields(
  info: GraphQLResolveInfo,
  set: SelectionSetNode | undefined,
  out = new Map<string, FieldNode[]>(),
  seen = new Set<string>(),
): Map<string, FieldNode[]> {
  for (const selection of set?.selections ?? []) {
    if (selection.kind === Kind.FIELD) {
      const list = out.get(selection.name.value);
      if (list) list.push(selection);
      else out.set(selection.name.value, [selection]);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      selectedFields(info, selection.selectionSet, out, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      selectedFields(info, info.fragments[selection.name.value]?.selectionSet, out, seen);
    }
  }
  return out;
}

/** The fields selected on the rows of the connection this resolver returns (nodes and edges.node). */
export function rowFields(info: GraphQLResolveInfo): Map<string, FieldNode[]> {
  const rows = new Map<string, FieldNode[]>();
  for (const connection of info.fieldNodes) {
    const fields = selectedFields(info, connection.selectionSet);
    for (const node of fields.get('nodes') ?? []) selectedFields(info, node.selectionSet, rows);
    for (const edge of fields.get('edges') ?? []) {
      const inner = selectedFields(info, edge.selectionSet);
      for (const node of inner.get('node') ?? []) selectedFields(info, node.selectionSet, rows);
    }
  }
  return rows;
}

const within = new WeakMap<ReadonlySet<string>, WeakMap<FieldNode, boolean>>();

/**
 * Whether every field selected on the connection's rows (rowFields) is one of `allowed`.
 * Remembered per field node when the field is selected once (a parsed document is kept and
 * reused, so each further request with the same document asks a WeakMap).
 */
export function rowFieldsWithin(info: GraphQLResolveInfo, allowed: ReadonlySet<string>): boolean {
  const only = info.fieldNodes.length === 1 ? info.fieldNodes[0]! : null;
  let known = within.get(allowed);
  const remembered = only && known?.get(only);
  if (remembered !== undefined && remembered !== null) return remembered;
  let answer = true;
  for (const name of rowFields(info).keys()) {
    if (!allowed.has(name)) {
      answer = false;
      break;
    }
  }
  if (only) {
    if (!known) within.set(allowed, (known = new WeakMap()));
    known.set(only, answer);
  }
  return answer;
}

/** A field's arguments as its resolver will see them (variables and defaults applied). */
export function argumentsOf(
  info: GraphQLResolveInfo,
  type: GraphQLObjectType,
  node: FieldNode,
): Record<string, unknown> {
  const def = type.getFields()[node.name.value];
  return def ? getArgumentValues(def, node, info.variableValues) : {};
}
