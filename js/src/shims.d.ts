// Types for the few host modules the Node and Workers entries import, so the build
// needs no @types/node (the client itself uses Web APIs only).

declare module 'node:fs/promises' {
  export function readFile(path: URL): Promise<Uint8Array>;
}

declare module 'node:crypto' {
  export const webcrypto: Crypto;
}

declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
