// Channel options on the local service with ably-js: modes, params, rewind, vcdiff deltas, untilAttach,
// and two things every recovery and JWT user meets: a fresh connectionKey and JWT credentials.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import vcdiffDecoder from '@ably/vcdiff-decoder';

import { Clients, HOST, PORT, sandboxApp, FORMATS, collect, connected, jwt, rejection, sleep, uniqueName, until, within } from './helpers.mjs';

for (const format of FORMATS) {
  describe(`channel options (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('modes limit what an attachment may do (40165) and are echoed with the params', async () => {
      const client = clients.byKey({ clientId: 'moded' });
      await connected(client);
      const channel = client.channels.get(uniqueName('modes'), { modes: ['subscribe'], params: { delta: 'vcdiff' } });
      await within(channel.attach(), 'attach with modes');
      assert.deepEqual(channel.modes, ['subscribe']);
      assert.deepEqual(channel.params, { delta: 'vcdiff' });
      assert.equal((await rejection(channel.publish('x', 'y'), 'publish without publish mode')).code, 40165);
      assert.equal((await rejection(channel.presence.enter(), 'enter without presence mode')).code, 40165);
    });

    test('rewind replays the last messages, or those of a recent span, on attach', async () => {
      const name = uniqueName('rewind');
      const publisher = clients.byKey();
      await connected(publisher);
      for (let index = 0; index < 5; index += 1) {
        await publisher.channels.get(name).publish('m', `m${index}`);
      }
      const reader = clients.byKey();
      const counted = reader.channels.get(name, { params: { rewind: '2' } });
      const lastTwo = await collect(counted);
      await until(() => lastTwo.length === 2, 'two rewound messages');
      assert.deepEqual(
        lastTwo.map((message) => message.data),
        ['m3', 'm4'],
      );
      const spanReader = clients.byKey();
      const spanned = await collect(spanReader.channels.get(name, { params: { rewind: '1m' } }));
      await until(() => spanned.length === 5, 'every message of the last minute');
    });

    test('delta subscribers get vcdiff patches that decode to the original messages', async () => {
      const decoder = { calls: 0, decode: (delta, base) => ((decoder.calls += 1), vcdiffDecoder.decode(delta, base)) };
      const name = uniqueName('delta');
      const subscriber = clients.byKey({ plugins: { vcdiff: decoder } });
      const plain = clients.byKey({ plugins: { vcdiff: decoder } });
      const patched = await collect(subscriber.channels.get(name, { params: { delta: 'vcdiff' } }));
      const full = await collect(plain.channels.get(name));
      const publisher = clients.byKey();
      await connected(publisher);
      const payloads = [
        { text: 'hello', count: 1 },
        { text: 'hello', count: 2 },
        'plain text',
        'plain text, longer',
        Buffer.from([1, 2, 3, 4]),
        Buffer.from([1, 2, 9, 4]),
      ];
      for (const data of payloads) {
        await publisher.channels.get(name).publish('d', data);
      }
      await until(() => patched.length === payloads.length && full.length === payloads.length, 'every message');
      for (const received of [patched, full]) {
        assert.deepEqual(
          received.map((message) => (Buffer.isBuffer(message.data) ? [...message.data] : message.data)),
          payloads.map((data) => (Buffer.isBuffer(data) ? [...data] : data)),
        );
      }
      assert.equal(decoder.calls, payloads.length - 1, 'every message after the first came as a delta');
    });

    test('a filtered channel gets only the messages its expression accepts', async () => {
      // Qualified channel names need a qualified capability ([*]), as in Ably's own test app.
      const app = await sandboxApp({ keys: [{ capability: '{"[*]*":["subscribe"],"*":["publish","subscribe"]}' }] });
      const client = clients.realtime({ key: app.keys[0].keyStr });
      await connected(client);
      const name = uniqueName('filtered');
      const filtered = await collect(
        client.channels.getDerived(name, { filter: 'name == `"keep"` && headers.level >= `2`' }),
      );
      const all = await collect(client.channels.get(name));
      const channel = client.channels.get(name);
      await channel.publish({ name: 'keep', data: 'a', extras: { headers: { level: 3 } } });
      await channel.publish({ name: 'keep', data: 'b', extras: { headers: { level: 1 } } });
      await channel.publish({ name: 'drop', data: 'c', extras: { headers: { level: 5 } } });
      await channel.publish({ name: 'keep', data: 'd' });
      await channel.publish({ name: 'keep', data: 'e', extras: { headers: { level: 2 } } });
      await until(() => all.length === 5, 'every message on the source channel');
      await until(() => filtered.length === 2, 'the two accepted messages');
      assert.deepEqual(
        filtered.map((message) => message.data),
        ['a', 'e'],
      );
      const refused = await rejection(
        clients.byKey().channels.getDerived(uniqueName('nope'), { filter: 'name ==' }).attach(),
        'attach with a filter that does not parse',
      );
      assert.equal(refused.code, 40010);
    });

    test('history untilAttach stops at the attach point', async () => {
      const name = uniqueName('until');
      const client = clients.byKey();
      await connected(client);
      const channel = client.channels.get(name);
      await channel.publish('before', 'b');
      await within(channel.attach(), 'attach');
      await channel.publish('after', 'a');
      await sleep(100);
      const page = await within(channel.history({ untilAttach: true }), 'history untilAttach');
      assert.deepEqual(
        page.items.map((message) => message.name),
        ['before'],
      );
    });

    test('a recovered connection keeps its id and gets a new key (RTN16d)', async () => {
      const original = clients.byKey();
      await connected(original);
      const { id, key, recoveryKey } = original.connection;
      const recovered = clients.byKey({ recover: recoveryKey });
      await connected(recovered);
      assert.equal(recovered.connection.id, id);
      assert.notEqual(recovered.connection.key, key);
    });

    test('a JWT signed with the key connects with its clientId and capability; a forged one is refused', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { iat: now, exp: now + 60, 'x-ably-clientId': 'jwt-user', 'x-ably-capability': '{"jwt:*":["*"]}' };
      const client = clients.realtime({ token: jwt(claims) });
      await connected(client);
      assert.equal(client.auth.clientId, 'jwt-user');
      await within(client.channels.get(uniqueName('jwt')).attach(), 'attach inside the JWT capability');
      const outside = await rejection(client.channels.get(uniqueName('other')).attach(), 'attach outside it');
      assert.equal(outside.code, 40160);

      // ably-js reports any refused token it cannot renew as 40171, so ask the service directly.
      const forged = Buffer.from(jwt(claims, 'not-the-secret')).toString('base64');
      const response = await fetch(`http://${HOST}:${PORT}/channels/${uniqueName('jwt')}/messages`, {
        headers: { Authorization: `Bearer ${forged}` },
      });
      assert.equal(response.status, 401);
      assert.equal((await response.json()).error.code, 40144);
    });
  });
}
