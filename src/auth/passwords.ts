import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * bcrypt reads only the first 72 bytes of its input, and passwords may be 128 characters (up to
 * 512 bytes of UTF-8): every byte must count. So bcrypt is given the SHA-256 of the password
 * (44 base64 characters, never a NUL), and the stored hash says so with this prefix. Hashes
 * without it (written before) are still verified the way they were made.
 */
const PREHASHED = '$sha256$';

function prehash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('base64');
}

/**
 * bcryptjs's async API hashes in slices on the event loop, so a hash (about 140 ms at cost 11)
 * never stalls other requests.
 */
export interface PasswordHasherOptions {
  /** bcrypt cost (log2 rounds). */
  cost: number;
  /** Worker threads that hash. */
  workers: number;
  /** Hashes that may wait for a worker; past it a hash is refused with RATE_LIMITED. */
  maxQueue: number;
}

export class PasswordHasher {
  /** Compared against when the email is unknown, so that both failures take as long. */
  private readonly dummyHash: Promise<string>;
  private readonly cost: number;

  constructor(options: PasswordHasherOptions) {
    this.cost = options.cost;
    this.dummyHash = this.hash('switchboard-dummy-password');
  }

  async close(): Promise<void> {}

  async hash(password: string): Promise<string> {
    return PREHASHED + (await bcrypt.hash(prehash(password), this.cost));
  }

  async verify(password: string, hash: string | null): Promise<boolean> {
    const stored = hash ?? (await this.dummyHash);
    const ok = stored.startsWith(PREHASHED)
      ? await bcrypt.compare(prehash(password), stored.slice(PREHASHED.length))
      : await bcrypt.compare(password, stored);
    return hash !== null && ok;
  }
}
