// Console sessions in Redis under the seed's `session:{id}` key (behind the API's key prefix),
// 86400 s TTL. A session holds the API key's id and prefix, never the key: every request
// re-reads the key row, so a revoked key ends its sessions at once. The CSRF token is the
// session's own random value, sent back by the page in a header on every write.

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export const SESSION_TTL_S = 86_400;

export interface ConsoleSession {
  readonly key_id: string;
  readonly key_prefix: string;
  readonly csrf_token: string;
}

/** 32 random bytes, base64url: the cookie value and the CSRF token have this shape. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class SessionStore {
  readonly #redis: Redis;
  readonly #key_prefix: string;

  constructor(redis: Redis, key_prefix: string) {
    this.#redis = redis;
    this.#key_prefix = key_prefix;
  }

  #key(id: string): string {
    return `${this.#key_prefix}:session:${id}`;
  }

  async create(key_id: string, key_prefix: string): Promise<{ id: string; session: ConsoleSession }> {
    const id = randomBytes(32).toString('base64url');
    const session = { key_id, key_prefix, csrf_token: randomBytes(32).toString('base64url') };
    await this.#redis.set(this.#key(id), JSON.stringify(session), 'EX', SESSION_TTL_S);
    return { id, session };
  }

  async read(id: string | undefined): Promise<ConsoleSession | null> {
    if (id === undefined || !SESSION_ID.test(id)) return null;
    const stored = await this.#redis.get(this.#key(id));
    return stored === null ? null : (JSON.parse(stored) as ConsoleSession);
  }

  async delete(id: string | undefined): Promise<void> {
    if (id !== undefined && SESSION_ID.test(id)) await this.#redis.del(this.#key(id));
  }
}
