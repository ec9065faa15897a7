// Everything the package exports, whichever entry point loaded the wasm.

export * from './crypto.js';
export * from './client.js';
