// Entry for Cloudflare Workers (the `workerd` export condition; also `edge-acme/workers`).
// Workers cannot compile wasm from bytes at run time, so the module is imported as a
// compiled WebAssembly.Module (wrangler's default rule for .wasm imports) and
// instantiated synchronously on import.

import wasmModule from '../wasm/edge_acme_bg.wasm';
import { initSync } from '../wasm/edge_acme.js';
import { isInitialized, markInitialized } from './crypto.js';

export * from './api.js';

if (!isInitialized()) {
  initSync({ module: wasmModule });
  markInitialized();
}

/** Already done on import; kept so code written for the browser entry runs unchanged. */
export function init(_source?: unknown): Promise<void> {
  return Promise.resolve();
}
