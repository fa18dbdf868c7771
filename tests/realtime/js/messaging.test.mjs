// Publish and subscribe between two ably-js clients, echo suppression, and history over REST.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { Clients, FORMATS, collect, connected, uniqueName, until, within } from './helpers.mjs';

for (const format of FORMATS) {
  describe(`messaging (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('messages published by one client reach another in order, with their data types', async () => {
      const name = uniqueName('chat');
      const subscriber = clients.byToken({ clientId: 'sub' });
      const publisher = clients.byToken({ clientId: 'pub' });
      await Promise.all([connected(subscriber), connected(publisher)]);
      const received = await collect(subscriber.channels.get(name));

      const channel = publisher.channels.get(name);
      await within(channel.publish('text', 'hello'), 'publish of a string');
      await within(channel.publish('object', { text: 'hi', n: 1 }), 'publish of an object');
      await within(channel.publish('binary', Buffer.from([0, 1, 2, 255])), 'publish of bytes');
      await within(
        channel.publish([
          { name: 'batch', data: 'one' },
          { name: 'batch', data: 'two' },
        ]),
        'publish of two messages at once',
      );
      await until(() => received.length >= 5, 'five messages at the subscriber');

      assert.deepEqual(
        received.map((m) => m.name),
        ['text', 'object', 'binary', 'batch', 'batch'],
      );
      assert.equal(received[0].data, 'hello');
      assert.deepEqual(received[1].data, { text: 'hi', n: 1 });
      assert.ok(Buffer.isBuffer(received[2].data), 'binary data must arrive as a Buffer');
      assert.deepEqual([...received[2].data], [0, 1, 2, 255]);
      assert.deepEqual(
        received.slice(3).map((m) => m.data),
        ['one', 'two'],
      );

      const publisherId = publisher.connection.id;
      for (const message of received) {
        assert.equal(message.clientId, 'pub');
        assert.equal(message.connectionId, publisherId);
        assert.ok(Math.abs(message.timestamp - Date.now()) < 10000, 'server timestamp must be now');
      }
      // Ids are connectionId:msgSerial:index; the batch shares one msgSerial.
      assert.deepEqual(
        received.map((m) => m.id),
        [0, 1, 2, 3, 3].map((serial, i) => `${publisherId}:${serial}:${i === 4 ? 1 : 0}`),
      );
      await until(() => received.length === 5, 'no extra messages');
    });

    test('both directions work on one channel and a subscriber sees only its names when filtering', async () => {
      const name = uniqueName('chat');
      const a = clients.byKey();
      const b = clients.byKey();
      await Promise.all([connected(a), connected(b)]);
      const atA = await collect(a.channels.get(name), 'wanted');
      const atB = await collect(b.channels.get(name));
      await a.channels.get(name).publish('wanted', 'from a');
      await b.channels.get(name).publish('ignored', 'from b');
      await b.channels.get(name).publish('wanted', 'from b');
      await until(() => atA.length >= 2 && atB.length >= 3, 'messages in both directions');
      assert.deepEqual(
        atA.map((m) => m.data),
        ['from a', 'from b'],
      );
      assert.deepEqual(
        atB.map((m) => m.data),
        ['from a', 'from b', 'from b'],
      );
    });

    test('echoMessages false keeps a client from receiving its own messages', async () => {
      const name = uniqueName('chat');
      const quiet = clients.byKey({ echoMessages: false });
      const other = clients.byKey();
      await Promise.all([connected(quiet), connected(other)]);
      const atQuiet = await collect(quiet.channels.get(name));
      const atOther = await collect(other.channels.get(name));

      await within(quiet.channels.get(name).publish('mine', 'one'), 'publish without echo');
      await within(other.channels.get(name).publish('theirs', 'two'), 'publish from the other client');
      await until(() => atOther.length >= 2 && atQuiet.length >= 1, 'both messages delivered');

      assert.deepEqual(
        atOther.map((m) => m.name),
        ['mine', 'theirs'],
      );
      // The other client's message came after ours, so ours would have arrived first had it been echoed.
      assert.deepEqual(
        atQuiet.map((m) => m.name),
        ['theirs'],
      );
    });

    test('history returns published messages, newest first by default, and paginates', async () => {
      const name = uniqueName('chat');
      const client = clients.byKey();
      await connected(client);
      const channel = client.channels.get(name);
      for (let i = 0; i < 5; i += 1) {
        await within(channel.publish('numbered', `${i}`), `publish ${i}`);
      }

      const all = await within(channel.history(), 'GET /channels/{name}/messages');
      assert.deepEqual(
        all.items.map((m) => m.data),
        ['4', '3', '2', '1', '0'],
      );
      assert.equal(all.items[0].name, 'numbered');
      assert.equal(all.items[0].id, `${client.connection.id}:4:0`);

      const forwards = await within(channel.history({ direction: 'forwards', limit: 2 }), 'first page');
      assert.deepEqual(
        forwards.items.map((m) => m.data),
        ['0', '1'],
      );
      assert.ok(forwards.hasNext(), 'a limited page must link to the next one');
      const second = await within(forwards.next(), 'second page');
      assert.deepEqual(
        second.items.map((m) => m.data),
        ['2', '3'],
      );

      const viaRest = await within(clients.rest.channels.get(name).history(), 'REST client history');
      assert.equal(viaRest.items.length, 5);
    });

    test('a REST publish reaches realtime subscribers', async () => {
      const name = uniqueName('chat');
      const subscriber = clients.byKey();
      await connected(subscriber);
      const received = await collect(subscriber.channels.get(name));
      await within(clients.rest.channels.get(name).publish('rest', { via: 'http' }), 'POST /channels/{name}/messages');
      await until(() => received.length >= 1, 'the REST-published message');
      assert.equal(received[0].name, 'rest');
      assert.deepEqual(received[0].data, { via: 'http' });
    });
  });
}
