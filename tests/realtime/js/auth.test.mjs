// Token auth on the local service with ably-js: capabilities, clientId enforcement, renewal on a live
// connection, bad tokens, and the project's own token function used as authUrl.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import {
  API_KEY,
  Clients,
  FORMATS,
  TOKEN_URL,
  collect,
  connected,
  rejection,
  sleep,
  uniqueName,
  until,
  within,
} from './helpers.mjs';

const SHORT_TTL_MS = Number(process.env.ABLY_JS_SHORT_TTL_MS || 4000);

function assertRefused(error, code, what) {
  assert.equal(error?.code, code, `${what}: expected error ${code}, got ${error?.code} (${error?.message})`);
}

for (const format of FORMATS) {
  describe(`auth (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('capabilities refuse attach, publish and presence outside the grant (40160)', async () => {
      const allowed = uniqueName('chat');
      const capability = JSON.stringify({ 'chat:*': ['subscribe'] });
      const limited = clients.byToken({ clientId: 'limited', capability });
      const publisher = clients.byKey();
      await Promise.all([connected(limited), connected(publisher)]);

      const forbidden = limited.channels.get(uniqueName('secret'));
      assertRefused(await rejection(forbidden.attach(), 'attach outside the grant'), 40160, 'attach');

      const channel = limited.channels.get(allowed);
      const received = await collect(channel);
      assertRefused(await rejection(channel.publish('nope', 'x'), 'publish without publish'), 40160, 'publish');
      assertRefused(await rejection(channel.presence.enter(), 'enter without presence'), 40160, 'presence');

      // Refusals are per operation: the connection and the granted subscription keep working.
      assert.equal(limited.connection.state, 'connected');
      await within(publisher.channels.get(allowed).publish('allowed', 'granted'), 'publish by the key holder');
      await until(() => received.length >= 1, 'delivery to the limited subscriber');
      assert.equal(received[0].data, 'granted');
    });

    test('a wildcard capability grants nested channels but not other namespaces', async () => {
      const capability = JSON.stringify({ 'chat:*': ['publish', 'subscribe'] });
      const client = clients.byToken({ clientId: 'w', capability });
      await connected(client);
      await within(client.channels.get(`${uniqueName('chat')}:nested:deep`).attach(), 'nested attach');
      const outside = client.channels.get(uniqueName('chatter'));
      assertRefused(await rejection(outside.attach(), 'attach to chatter:'), 40160, 'attach to another namespace');
    });

    test('publishing or entering presence as another clientId is refused (40012)', async () => {
      const name = uniqueName('chat');
      const alice = clients.byToken({ clientId: 'alice' });
      const watcher = clients.byKey();
      await Promise.all([connected(alice), connected(watcher)]);
      const received = await collect(watcher.channels.get(name));

      const channel = alice.channels.get(name);
      await within(channel.attach(), 'attach');
      const asBob = channel.publish({ name: 'spoof', data: 'x', clientId: 'bob' });
      assertRefused(await rejection(asBob, 'publish as bob'), 40012, 'publish under another clientId');
      const enterAsBob = channel.presence.enterClient('bob', 'spoof');
      assertRefused(await rejection(enterAsBob, 'enterClient(bob)'), 40012, 'presence under another clientId');

      await within(channel.publish({ name: 'own', data: 'y', clientId: 'alice' }), 'publish as alice');
      await until(() => received.length >= 1, 'alice\'s own message');
      assert.deepEqual(
        received.map((m) => [m.name, m.clientId]),
        [['own', 'alice']],
      );
      assert.equal(alice.connection.state, 'connected');
    });

    test('auth.authorize() renews the token on the live connection', async () => {
      const name = uniqueName('chat');
      const client = clients.byToken({ clientId: 'renewing' });
      const publisher = clients.byKey();
      await Promise.all([connected(client), connected(publisher)]);
      const received = await collect(client.channels.get(name));
      const connectionId = client.connection.id;
      const firstToken = client.auth.tokenDetails.token;
      const updates = [];
      client.connection.on('update', (change) => updates.push(change));

      const renewed = await within(client.auth.authorize(), 'authorize() on a connected client');
      assert.notEqual(renewed.token, firstToken);
      assert.equal(client.testAuth.calls, 2);
      assert.equal(client.connection.id, connectionId, 'renewal must not replace the connection');
      assert.equal(client.connection.state, 'connected');
      await until(() => updates.length >= 1, 'the connection update after AUTH');

      await within(publisher.channels.get(name).publish('after', 'renewal'), 'publish after renewal');
      await until(() => received.length >= 1, 'delivery after renewal');
      assert.equal(received[0].data, 'renewal');
    });

    test('an expiring token is renewed without losing messages', async () => {
      const name = uniqueName('chat');
      const client = clients.byToken({ clientId: 'expiring', ttl: SHORT_TTL_MS });
      const publisher = clients.byKey();
      await Promise.all([connected(client), connected(publisher)]);
      const received = await collect(client.channels.get(name));
      const connectionId = client.connection.id;
      const expires = client.auth.tokenDetails.expires;

      const channel = publisher.channels.get(name);
      let sent = 0;
      while (Date.now() < expires + 2000 || client.testAuth.calls < 2) {
        await within(channel.publish('tick', `${sent}`), `publish ${sent}`);
        sent += 1;
        await sleep(100);
        assert.ok(sent < (SHORT_TTL_MS + 15000) / 100, 'the token was never renewed');
      }
      await connected(client);
      await until(() => received.length >= sent, `all ${sent} messages across the renewal`);
      assert.deepEqual(
        received.map((m) => Number(m.data)),
        [...Array(sent).keys()],
      );
      // A renewal may be in flight (ably-js clears tokenDetails while it fetches the next token).
      await until(() => client.auth.tokenDetails, 'the client to hold a token');
      assert.ok(client.auth.tokenDetails.expires > expires, 'the client must hold a newer token');
      assert.equal(client.connection.id, connectionId, 'renewal must keep the connection');
    });

    test('an invalid token is refused and, with no way to renew it, the client fails (40171)', async () => {
      const client = clients.realtime({ token: 'this-is-not-a-token' });
      await within(client.connection.whenState('failed'), 'the refusal');
      // ably-js answers a token error (4014x) it cannot recover from with 40171; other errors keep their code.
      assert.equal(client.connection.errorReason?.code, 40171);
    });

    test('an unknown key is refused (40130)', async () => {
      const appId = API_KEY.split('.')[0];
      const client = clients.realtime({ key: `${appId}.unknownKey:not-the-secret` });
      await within(client.connection.whenState('failed'), 'the refusal');
      assert.equal(client.connection.errorReason?.code, 40130);
    });

    test('authUrl against the project token function', { skip: TOKEN_URL ? false : 'no token function' }, async () => {
      const name = uniqueName('chat');
      const client = clients.realtime({ authUrl: TOKEN_URL, clientId: 'url-user' });
      const other = clients.realtime({ authUrl: TOKEN_URL, clientId: 'other-user' });
      await Promise.all([connected(client), connected(other)]);
      assert.equal(client.auth.clientId, 'url-user');
      assert.deepEqual(JSON.parse(client.auth.tokenDetails.capability), {
        'chat:*': ['presence', 'publish', 'subscribe'],
      });

      const received = await collect(other.channels.get(name));
      await within(client.channels.get(name).publish('via', 'authUrl'), 'publish with a function token');
      await until(() => received.length >= 1, 'delivery between authUrl clients');
      assert.equal(received[0].clientId, 'url-user');

      const outside = client.channels.get(uniqueName('private'));
      assertRefused(await rejection(outside.attach(), 'attach outside chat:*'), 40160, 'function capability');
    });
  });
}
