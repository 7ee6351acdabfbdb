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
  | { kind: 'user'; via: 'jwt'; account: ViewerAccount; sessionId: string }
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
