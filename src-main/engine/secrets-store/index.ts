// What other capabilities may use of the secret store (eslint: capabilities import each other only through index.ts).
export { SecretStoreManager, type SecretStoreOptions } from './manager';
export { pgAdminPasswordKey, secretsLockedError, type SecretStore } from './store';
