import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import { ApiKeyScope } from '../../entities/enums';
import { ForbiddenError } from '../../errors';

/**
 * What an invokeTool result may ask for with an API key, by path below `invokeTool`: the same
 * scopes the fields need anywhere else (see index.ts). Checked before the tool runs, because
 * refusing one of these fields afterwards would null the whole (non-null) result of a call that
 * has already been charged: the caller would pay for an output it never sees.
 */
const NEEDS: readonly [RegExp, ApiKeyScope][] = [
  [/^subscription(\.|$)/, ApiKeyScope.USAGE_READ],
  [/^usage\.user\.(subscription|usage)(\.|$)/, ApiKeyScope.USAGE_READ],
  [/^usage\.user\.(email|name|role|isActive|tasks)(\.|$)/, ApiKeyScope.TASKS_READ],
];

/** Field paths selected below the current field, through fragments, `__typename` aside. */
function selectedPaths(info: GraphQLResolveInfo): string[] {
  const paths: string[] = [];
  const visit = (set: SelectionSetNode | undefined, prefix: string, depth: number) => {
    if (!set || depth > 32) return;
    for (const selection of set.selections) {
      if (selection.kind === 'Field') {
        if (selection.name.value === '__typename') continue;
        const path = prefix + selection.name.value;
        paths.push(path);
        visit(selection.selectionSet, `${path}.`, depth + 1);
      } else if (selection.kind === 'InlineFragment') {
        visit(selection.selectionSet, prefix, depth + 1);
      } else {
        visit(info.fragments[selection.name.value]?.selectionSet, prefix, depth + 1);
      }
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet, '', 0);
  return paths;
}

export const invokeSelectionInScope = rule({ cache: 'no_cache' })((
  _parent,
  _args,
  ctx: Context,
  info: GraphQLResolveInfo,
) => {
  const v = ctx.viewer;
  if (v.kind !== 'user') return false;
  if (v.via === 'jwt') return true;
  for (const path of selectedPaths(info)) {
    for (const [pattern, scope] of NEEDS) {
      if (pattern.test(path) && !v.scopes.has(scope)) {
        return new ForbiddenError(
          `This API key lacks the ${scope} scope to read invokeTool.${path}; the tool was not run`,
          { requiredScope: scope },
        );
      }
    }
  }
  return true;
});
