// The token function in JWT mode (ABLY_TOKEN_FORMAT=jwt) with ably-js: authUrl and an authCallback that hands
// over the function's text, the JWT's capability enforced, and renewal on a live connection.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { API_KEY, Clients, FORMATS, collect, connected, rejection, uniqueName, until, within } from './helpers.mjs';

const JWT_URL = process.env.ABLY_JWT_URL || '';
const SUBSCRIBE_ONLY_URL = process.env.ABLY_JWT_SUBSCRIBE_ONLY_URL || '';
const skip = JWT_URL && SUBSCRIBE_ONLY_URL ? false : 'no JWT token functions (run through test_ably_js.py)';

/** The JWT's header and claims, read the way any client could read them. */
function jwtParts(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token.slice(0, 40)}`);
  const [header, claims] = parts.slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  return { header, claims };
}

function withClientId(url, clientId) {
  const target = new URL(url);
  target.searchParams.set('clientId', clientId);
  return target.href;
}

for (const format of FORMATS) {
  describe(`token function JWTs (${format})`, { skip }, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('authUrl: ably-js connects with the JWT itself, and two such clients talk', async () => {
      const name = uniqueName('chat');
      const alice = clients.realtime({ authUrl: JWT_URL, clientId: 'jwt-alice' });
      const bob = clients.realtime({ authUrl: JWT_URL, clientId: 'jwt-bob' });
      await Promise.all([connected(alice), connected(bob)]);

      // No TokenRequest was exchanged: the credential ably-js connected with is the function's JWT.
      const { header, claims } = jwtParts(alice.auth.tokenDetails.token);
      assert.deepEqual(header, { alg: 'HS256', kid: API_KEY.split(':')[0], typ: 'JWT' });
      assert.equal(claims['x-ably-clientId'], 'jwt-alice');
      assert.equal(alice.auth.clientId, 'jwt-alice');

      const received = await collect(bob.channels.get(name));
      await within(alice.channels.get(name).publish('hello', 'over a JWT'), 'publish with a JWT');
      await until(() => received.length >= 1, 'delivery between JWT clients');
      assert.deepEqual([received[0].name, received[0].data, received[0].clientId], ['hello', 'over a JWT', 'jwt-alice']);

      const entered = [];
      await within(bob.channels.get(name).presence.subscribe('enter', (m) => entered.push(m)), 'presence');
      await within(alice.channels.get(name).presence.enter('here'), 'presence enter with a JWT');
      await until(() => entered.length >= 1, 'alice entering, seen by bob');
      assert.deepEqual([entered[0].clientId, entered[0].data], ['jwt-alice', 'here']);
    });

    test('authCallback: the function answers application/jwt, and its text is the token', async () => {
      let contentType;
      const client = clients.realtime({
        authCallback: (_params, callback) => {
          fetch(withClientId(JWT_URL, 'jwt-callback'))
            .then((response) => {
              contentType = response.headers.get('content-type');
              return response.text();
            })
            .then((token) => callback(null, token), (error) => callback(error, null));
        },
      });
      await connected(client);
      assert.equal(contentType, 'application/jwt');
      assert.equal(client.auth.clientId, 'jwt-callback');
      assert.equal(client.connection.state, 'connected');
    });

    test('a subscribe-only JWT may read chat:* but not publish, enter presence or attach elsewhere', async () => {
      const name = uniqueName('chat');
      const reader = clients.realtime({ authUrl: SUBSCRIBE_ONLY_URL, clientId: 'jwt-reader' });
      const writer = clients.realtime({ authUrl: JWT_URL, clientId: 'jwt-writer' });
      await Promise.all([connected(reader), connected(writer)]);
      assert.deepEqual(JSON.parse(jwtParts(reader.auth.tokenDetails.token).claims['x-ably-capability']), {
        'chat:*': ['subscribe'],
      });

      const channel = reader.channels.get(name);
      const received = await collect(channel);
      const publish = await rejection(channel.publish('nope', 'x'), 'publish with a subscribe-only JWT');
      assert.equal(publish.code, 40160);
      const enter = await rejection(channel.presence.enter(), 'presence with a subscribe-only JWT');
      assert.equal(enter.code, 40160);
      const outside = await rejection(reader.channels.get(uniqueName('private')).attach(), 'attach outside chat:*');
      assert.equal(outside.code, 40160);

      assert.equal(reader.connection.state, 'connected');
      await within(writer.channels.get(name).publish('allowed', 'y'), 'publish by the writer');
      await until(() => received.length >= 1, 'delivery to the subscribe-only reader');
      assert.equal(received[0].clientId, 'jwt-writer');
    });

    test('auth.authorize() fetches a fresh JWT and keeps the connection', async () => {
      const client = clients.realtime({ authUrl: JWT_URL, clientId: 'jwt-renewing' });
      await connected(client);
      const connectionId = client.connection.id;
      const renewed = await within(client.auth.authorize(), 'authorize() with a JWT');
      assert.equal(jwtParts(renewed.token).claims['x-ably-clientId'], 'jwt-renewing');
      assert.equal(client.connection.id, connectionId, 'renewal must not replace the connection');
      assert.equal(client.connection.state, 'connected');
    });
  });
}
