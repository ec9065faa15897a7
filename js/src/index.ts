// Entry for browsers, Deno and bundlers. The wasm is fetched on `await init()`
// (from next to this file, `new URL(..., import.meta.url)`, which bundlers rewrite to
// an asset URL), or instantiated from what the caller passes: a URL, a Response,
// bytes or a compiled WebAssembly.Module. The client calls init() itself; the
// synchronous crypto functions throw until it has resolved.

import initWasm from '../wasm/edge_acme.js';
import { isInitialized, markInitialized, setInitializer } from './crypto.js';

export * from './api.js';

/** What init() can load the wasm from. */
export type WasmSource = URL | string | Request | Response | BufferSource | WebAssembly.Module;

let pending: Promise<void> | undefined;

/** Loads and instantiates the wasm once; later calls return the same promise. */
export function init(source?: WasmSource | Promise<WasmSource>): Promise<void> {
  if (isInitialized()) return Promise.resolve();
  pending ??= (async () => {
    const input = (await source) ?? new URL('../wasm/edge_acme_bg.wasm', import.meta.url);
    await initWasm({ module_or_path: input });
    markInitialized();
  })().catch((e) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

setInitializer(() => init());
