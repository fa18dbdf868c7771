// What an Ably JWT adds, seen through ably-js: another client reads the publisher's trusted claim
// (`extras.userClaim`) on messages, in history and on presence; a claim a client writes itself never
// arrives; a publish past the JWT's rate is refused with 42911 while the connection carries on, and far past
// it the connection fails with 42921; a protocol message flood fails it with 42924.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { Clients, FORMATS, collect, connected, jwt, rejection, sleep, uniqueName, until, within } from './helpers.mjs';

const EVERYTHING = '{"*":["*"]}';

/** A realtime client authenticated by a JWT with these claims, connected. */
async function withJwt(clients, claims) {
  const client = clients.realtime({ token: jwt({ 'x-ably-capability': EVERYTHING, ...claims }) });
  await connected(client);
  return client;
}

function failure(client) {
  return within(
    new Promise((resolve) => client.connection.once('failed', (change) => resolve(change.reason))),
    'the connection to fail',
    15000,
  );
}

for (const format of FORMATS) {
  describe(`JWT claims and rate limits (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test("another client reads the publisher's most specific claim, live and in history", async () => {
      const lobby = uniqueName('claims');
      const room = uniqueName('claims');
      const elsewhere = uniqueName('news');
      const publisher = await withJwt(clients, {
        'x-ably-clientId': 'mod',
        [`ably.channel.${lobby}`]: '{"role":"admin"}',
        'ably.channel.claims:*': '{"role":"moderator"}',
        'ably.channel.*': '{"role":"guest"}',
      });
      const reader = clients.byKey();
      await connected(reader);
      const received = {};
      for (const name of [lobby, room, elsewhere]) {
        received[name] = await collect(reader.channels.get(name));
        await publisher.channels.get(name).publish('said', 'hello');
      }
      await until(() => Object.values(received).every((list) => list.length === 1), 'one message on each channel');
      const claim = (name) => JSON.parse(received[name][0].extras.userClaim).role;
      assert.deepEqual([claim(lobby), claim(room), claim(elsewhere)], ['admin', 'moderator', 'guest']);
      assert.equal(received[room][0].clientId, 'mod');

      const history = await clients.rest.channels.get(room).history();
      assert.equal(history.items[0].extras.userClaim, '{"role":"moderator"}');
    });

    test('presence events and the presence set carry the member\'s claim', async () => {
      const name = uniqueName('claims');
      const member = await withJwt(clients, { 'x-ably-clientId': 'mod', 'ably.channel.claims:*': 'moderator' });
      const watcher = clients.byKey();
      await connected(watcher);
      const events = [];
      await watcher.channels.get(name).presence.subscribe((event) => events.push(event));
      await member.channels.get(name).presence.enter('here');
      await until(() => events.length === 1, 'the enter event');
      assert.equal(events[0].action, 'enter');
      assert.equal(events[0].extras.userClaim, 'moderator');
      const [present] = await watcher.channels.get(name).presence.get();
      assert.equal(present.clientId, 'mod');
      assert.equal(present.extras.userClaim, 'moderator');
    });

    test('a userClaim a client writes itself never arrives', async () => {
      const name = uniqueName('claims');
      const reader = clients.byKey();
      const plain = clients.byKey();
      await Promise.all([connected(reader), connected(plain)]);
      const claimed = await withJwt(clients, { 'ably.channel.*': 'guest' });
      const received = await collect(reader.channels.get(name));
      const forged = { userClaim: '{"role":"admin"}', headers: { kept: 'yes' } };
      await plain.channels.get(name).publish({ name: 'forged', data: 'x', extras: forged });
      await claimed.channels.get(name).publish({ name: 'forged', data: 'y', extras: forged });
      await clients.rest.channels.get(name).publish({ name: 'forged', data: 'z', extras: forged });
      await until(() => received.length === 3, 'three messages');
      const byData = Object.fromEntries(received.map((message) => [message.data, message.extras]));
      assert.deepEqual(byData.x, { headers: { kept: 'yes' } });
      assert.deepEqual(byData.y, { headers: { kept: 'yes' }, userClaim: 'guest' });
      assert.deepEqual(byData.z, { headers: { kept: 'yes' } });
    });

    test('a publish past the JWT rate is refused with 42911 and the connection carries on', async () => {
      const name = uniqueName('limited');
      const publisher = await withJwt(clients, { 'ably.limits.publish.perAttachment.maxRate.limited:*': 2 });
      const reader = clients.byKey();
      await connected(reader);
      const received = await collect(reader.channels.get(name));
      const channel = publisher.channels.get(name);
      await channel.attach();
      await channel.publish('ok', '1');
      await channel.publish('ok', '2');
      const refused = await rejection(channel.publish('too-fast', '3'), 'a publish past the rate');
      assert.equal(refused.code, 42911);
      assert.equal(refused.statusCode, 429);
      assert.equal(publisher.connection.state, 'connected');
      assert.equal(channel.state, 'attached');
      await sleep(600);
      await channel.publish('ok', '4');
      await until(() => received.length === 3, 'the three accepted messages');
      assert.deepEqual(received.map((message) => message.data), ['1', '2', '4']);
      assert.equal(publisher.connection.state, 'connected');
    });

    test('publishing about twenty times the JWT rate fails the connection with 42921', async () => {
      const name = uniqueName('limited');
      const publisher = await withJwt(clients, { 'ably.limits.publish.perAttachment.maxRate.*': 1 });
      const failed = failure(publisher);
      const channel = publisher.channels.get(name);
      await channel.attach();
      const publishes = Array.from({ length: 40 }, (_, index) => channel.publish('flood', `${index}`));
      const outcomes = await Promise.allSettled(publishes);
      const reason = await failed;
      assert.equal(reason.code, 42921);
      assert.equal(reason.statusCode, 429);
      assert.equal(outcomes[0].status, 'fulfilled');
      assert.equal(outcomes[1].reason.code, 42911);
      assert.equal(outcomes.at(-1).status, 'rejected');
    });

    test('a flood of protocol messages fails the connection with 42924', async () => {
      const client = clients.byKey();
      await connected(client);
      const failed = failure(client);
      // No SDK call sends 2,000 protocol messages a second; write them to ably-js's own transport.
      const transport = client.connection.connectionManager.activeProtocol.getTransport();
      for (let index = 0; index < 2500; index += 1) {
        transport.send({ action: 0 });
      }
      const reason = await failed;
      assert.equal(reason.code, 42924);
      assert.equal(reason.statusCode, 429);
    });
  });
}
