/**
 * The credential store contract suite, for hosts that write their own `CredentialStore`
 * and want to check it under the test runner they already use.
 *
 * @module @latchkey/core/testing
 */

export {
  type StoreContractCase,
  type StoreFixture,
  storeContractCases,
} from './testing/store-contract.js';
