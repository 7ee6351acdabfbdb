import type { EntityManager } from '@mikro-orm/postgresql';
import { generateApiKey } from '../../auth/tokens';
import type { SignedInViewer } from '../../auth/viewer';
import { ApiKey, User } from '../../entities';
import { BadUserInputError, ConflictError, NotFoundError } from '../../errors';
import type { Clock } from '../../lib/clock';
import { requireId } from '../../lib/ids';
import type { ApiKeyCreated, CreateApiKeyInput } from './api-key.types';

const MAX_ACTIVE_KEYS = 50;

export class ApiKeyService {
  constructor(private readonly clock: Clock) {}

  list(em: EntityManager, viewer: SignedInViewer): Promise<ApiKey[]> {
    return em.find(
      ApiKey,
      { user: viewer.account.id },
      { orderBy: { createdAt: 'desc', id: 'desc' } },
    );
  }

  /** The secret leaves the server once, here; only its SHA-256 is stored. */
  async create(
    em: EntityManager,
    viewer: SignedInViewer,
    input: CreateApiKeyInput,
  ): Promise<ApiKeyCreated> {
    const now = this.clock.now();
    if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) {
      throw new BadUserInputError('expiresAt must be in the future', ['expiresAt']);
    }
    const { key, prefix, secretHash } = generateApiKey();
    // Counting and inserting under a lock on the owner's row: concurrent creations queue here,
    // so the cap holds exactly (two requests cannot both see 49 and both insert).
    const apiKey = await em.transactional(async (tx) => {
      await tx.getRepository(User).lock(viewer.account.id);
      const active = await tx.count(ApiKey, { user: viewer.account.id, revokedAt: null });
      if (active >= MAX_ACTIVE_KEYS) {
        throw new ConflictError(`At most ${MAX_ACTIVE_KEYS} active keys; revoke one first`);
      }
      const created = tx.create(ApiKey, {
        user: tx.getReference(User, viewer.account.id),
        name: input.name.trim(),
        prefix,
        secretHash,
        scopes: [...new Set(input.scopes)].sort(),
        expiresAt: input.expiresAt ?? null,
        createdAt: now,
      });
      await tx.flush();
      return created;
    });
    return { apiKey, secret: key };
  }

  /** Revokes an own key; someone else's id answers NOT_FOUND. Revoking twice keeps the first time. */
  async revoke(em: EntityManager, viewer: SignedInViewer, id: string): Promise<ApiKey> {
    requireId(id, 'id');
    const apiKey = await em.findOne(ApiKey, { id, user: viewer.account.id });
    if (!apiKey) throw new NotFoundError('API key');
    apiKey.revokedAt ??= this.clock.now();
    await em.flush();
    return apiKey;
  }
}
