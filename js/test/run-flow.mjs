// Runs support/flow.mjs outside the test process: in Deno with the package's browser/Deno
// entry, or in another Node (18, the oldest supported) with its Node entry. The job is the
// first argument (JSON), the result is printed as JSON. js/test/client.test.mjs runs it
// with DENO_CERT or NODE_EXTRA_CA_CERTS set to the local server's development TLS CA.

import { issueAndRevoke } from './support/flow.mjs';

const deno = globalThis.Deno;
const acme = await import(deno ? '../dist/index.js' : '../dist/node.js');
await acme.init();
const job = JSON.parse(deno ? deno.args[0] : process.argv[2]);
console.log(JSON.stringify(await issueAndRevoke(acme, job)));
