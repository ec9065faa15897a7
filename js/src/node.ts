// Entry for Node 18+ (ESM). Node's fetch() cannot read file: URLs, so the wasm bytes
// are read with fs and instantiated synchronously on import: the API is ready as soon
// as `import` resolves. Node 18 has no global `crypto`, which the wasm's key
// generation uses (crypto.getRandomValues); it gets node:crypto's webcrypto.

import { readFile } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import { initSync } from '../wasm/edge_acme.js';
import { isInitialized, markInitialized } from './crypto.js';

export * from './api.js';

if (!globalThis.crypto) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true, writable: true });
}

if (!isInitialized()) {
  initSync({ module: await readFile(new URL('../wasm/edge_acme_bg.wasm', import.meta.url)) });
  markInitialized();
}

/** Already done on import; kept so code written for the browser entry runs unchanged. */
export function init(_source?: unknown): Promise<void> {
  return Promise.resolve();
}
