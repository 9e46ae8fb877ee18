import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  model: string;
  payload: AdapterPayload;
  expiresAt: number;
}

/** How many writes happen between sweeps of expired entries. */
const SWEEP_EVERY = 256;

/** Extra seconds an entry is kept past its expiry, matching oidc-provider's clock tolerance. */
const KEEP_EXTRA_SECONDS = 15;

/**
 * Storage private to one test auth server, so servers in one process never share state
 * and nothing is evicted early (oidc-provider's own memory adapter is an LRU of 1000).
 */
export class MemoryStore {
  readonly #entries = new Map<string, Entry>();
  readonly #byUid = new Map<string, string>();
  readonly #byUserCode = new Map<string, string>();
  readonly #byGrant = new Map<string, Set<string>>();
  #writes = 0;

  /** Adapter factory to hand to oidc-provider's `adapter` option. */
  adapterFactory(): (model: string) => Adapter {
    return (model) => this.#adapterFor(model);
  }

  /** Deletes every grant and token that belongs to `accountId`. */
  revokeAccount(accountId: string): number {
    const models = new Set(['Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode']);
    let removed = 0;
    for (const [key, entry] of [...this.#entries]) {
      if (models.has(entry.model) && entry.payload.accountId === accountId) {
        this.#delete(key);
        removed += 1;
      }
    }
    return removed;
  }

  /** Drops everything. */
  clear(): void {
    this.#entries.clear();
    this.#byUid.clear();
    this.#byUserCode.clear();
    this.#byGrant.clear();
  }

  #adapterFor(model: string): Adapter {
    const key = (id: string) => `${model}:${id}`;
    return {
      upsert: async (id, payload, expiresIn) => this.#upsert(model, id, payload, expiresIn),
      find: async (id) => this.#get(key(id)),
      findByUid: async (uid) => {
        const id = this.#byUid.get(uid);
        return id === undefined ? undefined : this.#get(key(id));
      },
      findByUserCode: async (userCode) => {
        const id = this.#byUserCode.get(userCode);
        return id === undefined ? undefined : this.#get(key(id));
      },
      consume: async (id) => {
        const payload = this.#get(key(id));
        if (payload) {
          payload.consumed = Math.floor(Date.now() / 1000);
        }
      },
      destroy: async (id) => {
        this.#delete(key(id));
      },
      revokeByGrantId: async (grantId) => {
        for (const member of [...(this.#byGrant.get(grantId) ?? [])]) {
          this.#delete(member);
        }
        this.#byGrant.delete(grantId);
      },
    };
  }

  #upsert(model: string, id: string, payload: AdapterPayload, expiresIn?: number): void {
    const key = `${model}:${id}`;
    this.#delete(key);
    const expiresAt =
      typeof expiresIn === 'number'
        ? Date.now() + (expiresIn + KEEP_EXTRA_SECONDS) * 1000
        : Number.POSITIVE_INFINITY;
    this.#entries.set(key, { model, payload, expiresAt });
    if (model === 'Session' && typeof payload.uid === 'string') {
      this.#byUid.set(payload.uid, id);
    }
    if (typeof payload.userCode === 'string') {
      this.#byUserCode.set(payload.userCode, id);
    }
    if (typeof payload.grantId === 'string' && model !== 'Grant') {
      const members = this.#byGrant.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      this.#byGrant.set(payload.grantId, members);
    }
    this.#writes += 1;
    if (this.#writes % SWEEP_EVERY === 0) {
      this.#sweep();
    }
  }

  #get(key: string): AdapterPayload | undefined {
    const entry = this.#entries.get(key);
    if (!entry) {
      return undefined;
    }
    if (entry.expiresAt <= Date.now()) {
      this.#delete(key);
      return undefined;
    }
    return entry.payload;
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) {
      return;
    }
    this.#entries.delete(key);
    const id = key.slice(key.indexOf(':') + 1);
    const { payload } = entry;
    if (typeof payload.uid === 'string' && this.#byUid.get(payload.uid) === id) {
      this.#byUid.delete(payload.uid);
    }
    if (typeof payload.userCode === 'string' && this.#byUserCode.get(payload.userCode) === id) {
      this.#byUserCode.delete(payload.userCode);
    }
    if (typeof payload.grantId === 'string') {
      const members = this.#byGrant.get(payload.grantId);
      members?.delete(key);
      if (members && members.size === 0) {
        this.#byGrant.delete(payload.grantId);
      }
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of [...this.#entries]) {
      if (entry.expiresAt <= now) {
        this.#delete(key);
      }
    }
  }
}
