import { describe, it } from 'vitest';
import { type StoreFixture, storeContractCases } from '../src/testing.js';

export type { StoreFixture };

/**
 * Registers the shared behaviour every `CredentialStore` must have as a vitest suite.
 *
 * A thin adapter over {@link storeContractCases}: each case calls `make` for an empty
 * store and its `cleanup` when it ends, so the suite needs no hooks.
 *
 * @see {@link storeContractCases} for the cases themselves.
 */
export function credentialStoreContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`${name}: CredentialStore contract`, () => {
    for (const c of storeContractCases(make)) it(c.name, c.run);
  });
}
