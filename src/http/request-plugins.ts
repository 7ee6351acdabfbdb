import type {
  ApolloServerPlugin,
  BaseContext,
  GraphQLRequestContext,
  GraphQLRequestContextDidEncounterErrors,
  GraphQLRequestContextDidResolveOperation,
  GraphQLRequestContextWillSendResponse,
  GraphQLRequestListener,
} from '@apollo/server';

type Maybe<T> = T | Promise<T>;

/**
 * The hooks of one request this server's plugins use, each free to answer at once: a hook that
 * has nothing to wait for returns nothing instead of a promise.
 */
export interface RequestListener<C extends BaseContext> {
  didResolveOperation?(rc: GraphQLRequestContextDidResolveOperation<C>): Maybe<void>;
  didEncounterErrors?(rc: GraphQLRequestContextDidEncounterErrors<C>): Maybe<void>;
  willSendResponse?(rc: GraphQLRequestContextWillSendResponse<C>): Maybe<void>;
}

/** A plugin of this server: per request, its listener (or none), at once. */
export interface RequestPlugin<C extends BaseContext> {
  requestDidStart(rc: GraphQLRequestContext<C>): RequestListener<C> | void;
}

type Phase = keyof RequestListener<BaseContext>;
const PHASES: readonly Phase[] = ['didResolveOperation', 'didEncounterErrors', 'willSendResponse'];

/**
 * Calls every listener's hook of `phase` in their order, as Apollo does (each starts before the
 * next, a throw does not keep the later ones from starting), and waits only when one of them
 * returned a promise; a hook that threw or rejected fails the phase, as in Apollo's Promise.all.
 */
function runPhase<C extends BaseContext>(
  listeners: readonly RequestListener<C>[],
  phase: Phase,
  rc: never,
): Maybe<void> {
  let pending: Promise<void>[] | null = null;
  for (const listener of listeners) {
    let result: Maybe<void>;
    try {
      result = listener[phase]?.(rc);
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
 * have nothing to wait for. Here the phases no listener uses cost nothing, and one that returns
 * at once is not awaited. `hideSuggestions` drops graphql-js's "Did you mean …?" from
 * validation errors (Apollo's hideSchemaDetailsFromClientErrors, without a plugin of its own).
 */
export function asOnePlugin<C extends BaseContext>(
  plugins: readonly RequestPlugin<C>[],
  options: { hideSuggestions: boolean },
): ApolloServerPlugin<C> {
  const hideSuggestions: GraphQLRequestListener<C>['validationDidStart'] =
    async () => async (errors) => {
      for (const error of errors ?? []) {
        error.message = error.message.replace(/ ?Did you mean(.+?)\?$/, '');
      }
    };
  return {
    async requestDidStart(rc) {
      const composite = listenerOf(plugins, rc) as GraphQLRequestListener<C>;
      if (options.hideSuggestions) composite.validationDidStart = hideSuggestions;
      return composite;
    },
  };
}

/**
 * One request's listener of `plugins`: each phase some plugin listens to runs them all
 * (runPhase); the others are absent. Apollo calls it through asOnePlugin; the known-document
 * lane (./known-documents.ts) calls it directly.
 */
export function listenerOf<C extends BaseContext>(
  plugins: readonly RequestPlugin<C>[],
  rc: GraphQLRequestContext<C>,
): RequestListener<C> {
  const listeners: RequestListener<C>[] = [];
  for (const plugin of plugins) {
    const listener = plugin.requestDidStart(rc);
    if (listener) listeners.push(listener);
  }
  const composite: RequestListener<C> = {};
  for (const phase of PHASES) {
    if (!listeners.some((l) => l[phase])) continue;
    // Apollo types every hook as async; at run time it awaits whatever a hook returns.
    (composite as Record<Phase, unknown>)[phase] = (phaseRc: never) =>
      runPhase(listeners, phase, phaseRc);
  }
  return composite;
}
