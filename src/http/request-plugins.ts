import type {
  ApolloServerPlugin,
  BaseContext,
  GraphQLRequestContext,
  GraphQLRequestContextDidEncounterErrors,
  GraphQLRequestContextDidResolveOperation,
  GraphQLRequestContextValidationDidStart,
  GraphQLRequestContextWillSendResponse,
  GraphQLRequestListener,
} from '@apollo/server';

type Maybe<T> = T | Promise<T>;

/**
 * The hooks of one request this server's plugins use, each free to answer at once: a hook that
 * has nothing to wait for returns nothing instead of a promise.
 */
export interface RequestListener<C extends BaseContext> {
  validationDidStart?(
    rc: GraphQLRequestContextValidationDidStart<C>,
  ): ((errors?: readonly Error[]) => void) | void;
  didResolveOperation?(rc: GraphQLRequestContextDidResolveOperation<C>): Maybe<void>;
  didEncounterErrors?(rc: GraphQLRequestContextDidEncounterErrors<C>): Maybe<void>;
  willSendResponse?(rc: GraphQLRequestContextWillSendResponse<C>): Maybe<void>;
}

/** A plugin of this server: per request, its listener (or none), at once. */
export interface RequestPlugin<C extends BaseContext> {
  requestDidStart(rc: GraphQLRequestContext<C>): RequestListener<C> | void;
}

type PhaseName = 'didResolveOperation' | 'didEncounterErrors' | 'willSendResponse';
const PHASES: readonly PhaseName[] = [
  'didResolveOperation',
  'didEncounterErrors',
  'willSendResponse',
];

/**
 * Calls every listener's hook in their order, as Apollo does (each starts before the next, a
 * throw does not keep the later ones from starting), and waits only when one of them returned
 * a promise; a hook that threw or rejected fails the phase, as in Apollo's Promise.all.
 */
function runPhase<A>(hooks: ((arg: A) => Maybe<void>)[], arg: A): Maybe<void> {
  let pending: Promise<void>[] | null = null;
  for (const hook of hooks) {
    let result: Maybe<void>;
    try {
      result = hook(arg);
    } catch (err) {
      result = Promise.reject(err);
    }
    if (result instanceof Promise) (pending ??= []).push(result);
  }
  if (pending === null) return undefined;
  return Promise.all(pending).then(() => undefined);
}

/**
 * The server's request plugins as ONE Apollo plugin. Apollo runs each phase of a request over
 * every listener with Promise.all, and asks every listener in turn, one await each, whether it
 * answers the operation itself: with seven plugins that was about a hundred promises a request
 * (and, with the AsyncLocalStorage the ORM uses, a hook call for each), for hooks that mostly
 * have nothing to wait for. Here the phases a listener does not use cost nothing, and one that
 * returns at once is not awaited. `hideSuggestions` drops graphql-js's "Did you mean …?" from
 * validation errors (Apollo's hideSchemaDetailsFromClientErrors, without a plugin of its own).
 */
export function asOnePlugin<C extends BaseContext>(
  plugins: readonly RequestPlugin<C>[],
  options: { hideSuggestions: boolean },
): ApolloServerPlugin<C> {
  return {
    async requestDidStart(rc) {
      const listeners: RequestListener<C>[] = [];
      for (const plugin of plugins) {
        const listener = plugin.requestDidStart(rc);
        if (listener) listeners.push(listener);
      }
      const composite: GraphQLRequestListener<C> = {};
      const validators = listeners.filter((l) => l.validationDidStart);
      if (validators.length > 0 || options.hideSuggestions) {
        composite.validationDidStart = async (vrc) => {
          const ends = validators.map((l) => l.validationDidStart!(vrc));
          return async (errors) => {
            if (options.hideSuggestions) {
              for (const error of errors ?? []) {
                error.message = error.message.replace(/ ?Did you mean(.+?)\?$/, '');
              }
            }
            for (const end of ends) if (end) end(errors);
          };
        };
      }
      for (const phase of PHASES) {
        const hooks = listeners
          .map((l) => l[phase]?.bind(l))
          .filter((hook): hook is NonNullable<typeof hook> => hook !== undefined);
        if (hooks.length === 0) continue;
        // Apollo types every hook as async; at run time it awaits whatever a hook returns.
        (composite as Record<PhaseName, unknown>)[phase] = (arg: never) =>
          runPhase(hooks as ((a: never) => Maybe<void>)[], arg);
      }
      return composite;
    },
  };
}
