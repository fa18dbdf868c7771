// Connecting to the local service with ably-js: basic auth with the key, token auth, and a clean close.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { API_KEY, Clients, FORMATS, connected, within } from './helpers.mjs';

for (const format of FORMATS) {
  describe(`connection (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('connects with the API key and gets connection details', async () => {
      const client = clients.byKey();
      await connected(client);
      assert.match(client.connection.id, /\S+/);
      assert.match(client.connection.key, /\S+/);
      assert.equal(client.auth.clientId, undefined);
      assert.equal(client.connection.errorReason, null);
    });

    test('connects with a token obtained from a TokenRequest and carries its clientId', async () => {
      const client = clients.byToken({ clientId: 'alice' });
      await connected(client);
      assert.equal(client.auth.clientId, 'alice');
      const token = client.auth.tokenDetails;
      assert.equal(token.clientId, 'alice');
      assert.equal(token.keyName, API_KEY.split(':')[0]);
      assert.ok(token.expires > Date.now(), 'the token must expire in the future');
      assert.deepEqual(JSON.parse(token.capability), { '*': ['*'] });
      assert.equal(client.testAuth.calls, 1);
    });

    test('each connection gets its own id and key', async () => {
      const first = clients.byKey();
      const second = clients.byKey();
      await Promise.all([connected(first), connected(second)]);
      assert.notEqual(first.connection.id, second.connection.id);
      assert.notEqual(first.connection.key, second.connection.key);
    });

    test('server time answers over REST', async () => {
      const before = Date.now();
      const serverTime = await within(clients.rest.time(), 'GET /time');
      assert.ok(Math.abs(serverTime - before) < 5000, `server time ${serverTime} is not now (${before})`);
    });
  });
}
