import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/**
 * Past this many fields the schema does not have, a document is refused before graphql-js
 * validates it. Validation stops at 10 errors, but some of its rules walk the whole document
 * before any error is counted (OverlappingFieldsCanBeMerged on the operation's selection set,
 * VariablesInAllowedPosition's walk of its variable uses): 2-2.5 ms of the event loop for a
 * document of 1,990 unknown fields, 3.5-4.5x the heaviest real operation's parse and validate.
 * Up to this many, graphql-js answers with its own messages, suggestions included.
 */
export const MAX_UNKNOWN_FIELDS = 10;

/**
 * The first field the schema lacks and how many there are (counted up to MAX_UNKNOWN_FIELDS + 1),
 * in one walk over the document with each selection set's type: an object or interface type's
 * fields are looked up, `__`-prefixed names are introspection's (graphql-js checks them), and
 * a selection set whose type is not known here (a union's, an unknown fragment's) is left to
 * graphql-js.
 */
export function unknownFields(
  schema: GraphQLSchema,
  doc: DocumentNode,
): { count: number; first: { field: string; type: string } | null } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of doc.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  let count = 0;
  let first: { field: string; type: string } | null = null;
  const walked = new Set<FragmentDefinitionNode>();
  const walk = (set: SelectionSetNode, type: GraphQLNamedType | null | undefined) => {
    for (const selection of set.selections) {
      if (count > MAX_UNKNOWN_FIELDS) return;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        if (!type || !(isObjectType(type) || isInterfaceType(type))) continue;
        const field = type.getFields()[name];
        if (!field) {
          count += 1;
          first ??= { field: name, type: type.name };
        } else if (selection.selectionSet) {
          walk(selection.selectionSet, getNamedType(field.type));
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition
          ? schema.getType(selection.typeCondition.name.value)
          : type;
        walk(selection.selectionSet, on);
      } else {
        const def = fragments.get(selection.name.value);
        // Each fragment once: a cycle, or a fragment spread many times, is graphql-js's or the
        // other limits' to refuse.
        if (!def || walked.has(def)) continue;
        walked.add(def);
        walk(def.selectionSet, schema.getType(def.typeCondition.name.value));
      }
    }
  };
  for (const def of doc.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    walk(def.selectionSet, schema.getRootType(def.operation));
  }
  return { count, first };
}
