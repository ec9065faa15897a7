// A test Worker that runs the package's client inside workerd: POST a JSON job
// ({directory, http01, doh, kind, names, eab}) and it runs support/flow.mjs against that
// ACME server with this runtime's fetch() and WebAssembly, answering the result as JSON
// (or {error, stack} with status 500). It imports the package's Workers entry the way
// wrangler resolves the `workerd` export condition.

import * as acme from '../../dist/workers.js';
import { issueAndRevoke } from '../support/flow.mjs';

export default {
  async fetch(request) {
    if (request.method !== 'POST') return new Response('POST a job', { status: 405 });
    try {
      return Response.json(await issueAndRevoke(acme, await request.json()));
    } catch (e) {
      return Response.json({ error: `${e}`, type: e?.type, stack: e?.stack }, { status: 500 });
    }
  },
};
