import bcrypt from 'bcryptjs';

/**
 * bcryptjs's async API hashes in slices on the event loop, so a hash (about 140 ms at cost 11)
 * never stalls other requests.
 */
export class PasswordHasher {
  /** Compared against when the email is unknown, so that both failures take as long. */
  private readonly dummyHash: Promise<string>;

  constructor(private readonly cost: number) {
    this.dummyHash = bcrypt.hash('switchboard-dummy-password', cost);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.cost);
  }

  async verify(password: string, hash: string | null): Promise<boolean> {
    const ok = await bcrypt.compare(password, hash ?? (await this.dummyHash));
    return hash !== null && ok;
  }
}
