// One issuance with the package's client that needs nothing but fetch() and the wasm API,
// so the same steps run in workerd (js/test/workerd/), and in Deno and Node 18
// (js/test/run-flow.mjs):
// an account (with EAB when given), an order solved by http-01 — or by dns-01 when a
// name is a wildcard — published through the test responders' PUT endpoints
// (support/servers.mjs), finalize with a generated certificate key, download, then
// revocation and a second revocation that must be refused with alreadyRevoked.
// Returns facts for the Node side to check (openssl verifies the chain there).

export async function issueAndRevoke(acme, { directory, http01, doh, kind, names, eab }) {
  const client = new acme.AcmeClient(directory, { poll: { interval: 200 } });
  const account = await client.createAccount({
    key: acme.generateKey(kind),
    termsOfServiceAgreed: true,
    ...(eab ? { externalAccountBinding: eab } : {}),
  });
  const publish = async (url, body) => {
    const res = await fetch(url, { method: 'PUT', body });
    if (!res.ok) throw new Error(`publishing at ${url}: HTTP ${res.status}`);
  };
  const issued = await account.issue({
    identifiers: names,
    certificateKey: 'P-256',
    solve: async (ch) => {
      if (ch.type === 'http-01') await publish(new URL(`/.well-known/acme-challenge/${ch.token}`, http01), ch.http01.body);
      else await publish(new URL(`/txt/${ch.dns01.name}`, doh), ch.dns01.value);
    },
  });
  const info = acme.inspectCertificate(issued.pem);
  await account.revokeCertificate(issued.pem, 4);
  let second;
  try {
    await account.revokeCertificate(issued.pem);
    second = 'accepted';
  } catch (e) {
    second = e instanceof acme.AcmeProblemError ? e.shortType : `${e}`;
  }
  return {
    accountAlg: account.key.alg,
    accountUrl: account.url,
    orderStatus: issued.order.status,
    dnsNames: info.dnsNames,
    pem: issued.pem,
    secondRevocation: second,
  };
}
