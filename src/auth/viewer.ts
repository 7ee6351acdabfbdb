import type { ApiKeyScope, Role } from '../entities/enums';

/**
 * The account behind a request, as read from the database at the start of that request: the
 * whole public row, so that `me` and the owner of the caller's own tasks need no other query.
 */
export interface ViewerAccount {
  id: string;
  email: string;
  name: string;
  role: Role;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type Viewer =
  | { kind: 'anonymous'; reason: 'none' | 'invalid' }
  | {
      kind: 'user';
      via: 'jwt';
      account: ViewerAccount;
      sessionId: string;
      /**
       * Set while the session check has not run yet because it rides on the request's one
       * statement (./session-check.ts): only `account.id` is known (the token's subject).
       */
      unverified?: true;
    }
  | {
      kind: 'user';
      via: 'apiKey';
      account: ViewerAccount;
      apiKeyId: string;
      scopes: ReadonlySet<ApiKeyScope>;
    };

export type SignedInViewer = Extract<Viewer, { kind: 'user' }>;

export const ANONYMOUS: Viewer = { kind: 'anonymous', reason: 'none' };
export const INVALID_CREDENTIALS: Viewer = { kind: 'anonymous', reason: 'invalid' };
