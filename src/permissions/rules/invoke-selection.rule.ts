import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  type GraphQLNamedType,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import { rule } from 'graphql-shield';
import type { Context } from '../../context';
import type { ApiKeyScope } from '../../entities/enums';
import { ForbiddenError } from '../../errors';
import { scopeOf } from '../field-scopes';

/**
 * What an invokeTool result may ask for with an API key: every field below `invokeTool` needs
 * the scope it needs anywhere else (../field-scopes.ts, the table the permission map reads).
 * Checked before the tool runs, because refusing one of these fields afterwards would null the
 * whole (non-null) result of a call that has already been charged: the caller would pay for an
 * output it never sees.
 */
interface Needed {
  path: string;
  scope: ApiKeyScope;
}

/** The fields selected below the current one that need a scope, through fragments. */
function scopedSelections(info: GraphQLResolveInfo): Needed[] {
  const needed: Needed[] = [];
  const visit = (
    set: SelectionSetNode | undefined,
    type: GraphQLNamedType,
    prefix: string,
    depth: number,
  ) => {
    if (!set || depth > 32 || !(isObjectType(type) || isInterfaceType(type))) return;
    const fields = type.getFields();
    for (const selection of set.selections) {
      if (selection.kind === 'Field') {
        const name = selection.name.value;
        const field = fields[name];
        if (!field) continue; // __typename (validation has refused anything unknown)
        const path = prefix + name;
        const scope = scopeOf(type.name, name);
        if (scope) needed.push({ path, scope });
        visit(selection.selectionSet, getNamedType(field.type), `${path}.`, depth + 1);
      } else {
        const set =
          selection.kind === 'InlineFragment' ? selection : info.fragments[selection.name.value];
        const condition = set?.typeCondition
          ? info.schema.getType(set.typeCondition.name.value)
          : type;
        if (set && condition) visit(set.selectionSet, condition, prefix, depth + 1);
      }
    }
  };
  for (const node of info.fieldNodes) {
    visit(node.selectionSet, getNamedType(info.returnType), '', 0);
  }
  return needed;
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
  for (const { path, scope } of scopedSelections(info)) {
    if (!v.scopes.has(scope)) {
      return new ForbiddenError(
        `This API key lacks the ${scope} scope to read invokeTool.${path}; the tool was not run`,
        { requiredScope: scope },
      );
    }
  }
  return true;
});
