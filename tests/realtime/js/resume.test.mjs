// Resume with ably-js: a subscriber whose WebSocket dies mid-stream reconnects with its connectionKey and
// receives every message it missed, once each, in publish order, on the same connection.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { Clients, FORMATS, collect, connected, dropTransport, uniqueName, until, within } from './helpers.mjs';

const BURST = 50;

async function publishRange(channel, from, to) {
  const pending = [];
  for (let i = from; i < to; i += 1) {
    pending.push(channel.publish('seq', `${i}`));
  }
  await within(Promise.all(pending), `acks for messages ${from}..${to - 1}`);
}

for (const format of FORMATS) {
  describe(`resume (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('a dropped subscriber resumes and misses nothing', async () => {
      const name = uniqueName('chat');
      const subscriber = clients.byToken({ clientId: 'subscriber' });
      // Each burst from its own connection: Ably lets one connection publish 50 times a second.
      const publishers = [clients.byKey(), clients.byKey(), clients.byKey()];
      await Promise.all([subscriber, ...publishers].map(connected));
      const received = await collect(subscriber.channels.get(name));
      const connectionId = subscriber.connection.id;
      const connectedAgain = [];
      subscriber.connection.on('connected', (change) => connectedAgain.push(change));
      const [before, during, after] = publishers.map((publisher) => publisher.channels.get(name));

      // Some messages are delivered, some are in flight when the socket dies, some are sent while it is down.
      await publishRange(before, 0, BURST);
      const inFlight = during.publish('seq', `${BURST}`);
      const drop = dropTransport(subscriber);
      await inFlight;
      await drop;
      await publishRange(during, BURST + 1, 2 * BURST);
      await connected(subscriber);
      await publishRange(after, 2 * BURST, 3 * BURST);

      await until(() => received.length >= 3 * BURST, `${3 * BURST} messages after resume (have ${received.length})`);
      assert.deepEqual(
        received.map((m) => Number(m.data)),
        [...Array(3 * BURST).keys()],
      );
      assert.equal(subscriber.connection.id, connectionId, 'the connection must be resumed, not replaced');
      assert.equal(connectedAgain.length, 1);
      assert.equal(connectedAgain[0].reason ?? null, null, 'a successful resume carries no error');
      const ids = new Set(received.map((m) => m.id));
      assert.equal(ids.size, received.length, 'no message may be delivered twice');
    });

    test('a dropped publisher resumes and its queued publishes are delivered once', async () => {
      const name = uniqueName('chat');
      const subscriber = clients.byKey();
      const publisher = clients.byToken({ clientId: 'publisher' });
      await Promise.all([connected(subscriber), connected(publisher)]);
      const received = await collect(subscriber.channels.get(name));
      const channel = publisher.channels.get(name);
      await within(channel.attach(), 'publisher attach');
      const connectionId = publisher.connection.id;

      await publishRange(channel, 0, 10);
      // Published while the transport is down: ably-js queues them and sends them after the resume.
      const drop = dropTransport(publisher);
      const afterDrop = [];
      await drop;
      for (let i = 10; i < 20; i += 1) {
        afterDrop.push(channel.publish('seq', `${i}`));
      }
      await connected(publisher);
      await within(Promise.all(afterDrop), 'acks for the queued publishes');

      await until(() => received.length >= 20, `20 messages (have ${received.length})`);
      assert.deepEqual(
        received.map((m) => Number(m.data)),
        [...Array(20).keys()],
      );
      assert.equal(publisher.connection.id, connectionId);
    });

    test('resuming with an unknown connection key gives a fresh connection and an error', async () => {
      const client = clients.byKey();
      await connected(client);
      const oldId = client.connection.id;
      // Make the next resume attempt name a connection the service never issued.
      client.connection.connectionManager.connectionKey = 'unknown-connection-key';
      const changes = [];
      client.connection.on('connected', (change) => changes.push(change));
      await dropTransport(client);
      await connected(client);
      await until(() => changes.length >= 1, 'the new CONNECTED');
      assert.notEqual(client.connection.id, oldId);
      assert.ok(changes[0].reason, 'a failed resume must say why');
      // 80008: connection not found (expired or never issued); 80018: connection key malformed.
      assert.ok([80008, 80018].includes(changes[0].reason.code), `got ${changes[0].reason.code}`);
    });
  });
}
