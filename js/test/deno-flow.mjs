// Runs support/flow.mjs in Deno with the package's browser/Deno entry: the job is the
// first argument (JSON), the result is printed as JSON. js/test/client.test.mjs runs it
// with DENO_CERT set to the local server's development TLS CA.

import * as acme from '../dist/index.js';
import { issueAndRevoke } from './support/flow.mjs';

await acme.init();
console.log(JSON.stringify(await issueAndRevoke(acme, JSON.parse(Deno.args[0]))));
