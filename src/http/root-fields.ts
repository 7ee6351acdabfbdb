import type { Context } from '../context';
import { rootFieldsGate } from '../permissions';
import type { GraphQLSchema } from 'graphql';
import type { RequestPlugin } from './request-plugins';

/**
 * A mutation is refused whole, before any of its root fields runs, when the caller may not use
 * one of them (src/permissions/apply-rules.ts rootFieldGate): its root fields run one after
 * another, and one refused after another ran nulled the answer of the one that ran (a charged
 * tool call among them). The verdicts of rules that depend on the caller alone are remembered
 * for the request, so each field's own check then costs a lookup.
 */
export function rootFieldsPlugin(schema: GraphQLSchema): RequestPlugin<Context> {
  const gate = rootFieldsGate(schema);
  return {
    requestDidStart() {
      return {
        didResolveOperation({ operation, document, request, contextValue }) {
          if (operation?.operation !== 'mutation') return;
          const fragments: Parameters<typeof gate>[1] = {};
          for (const def of document.definitions) {
            if (def.kind === 'FragmentDefinition') fragments[def.name.value] = def;
          }
          const check = () => {
            const refusal = gate(operation, fragments, request.variables ?? {}, contextValue);
            const refuse = (error: Error | null) => {
              if (error) throw error;
            };
            return refusal instanceof Promise ? refusal.then(refuse) : refuse(refusal);
          };
          // A session being checked on its own (http/session-deferral.ts) decides who asks.
          return contextValue.session ? contextValue.session.then(check) : check();
        },
      };
    },
  };
}
