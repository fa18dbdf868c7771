// Mutable messages on the local service with ably-js: serials from publish, update, delete and append over
// realtime and REST, versions, annotations with their summary, and the refusal where a namespace has no rule.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { Clients, FORMATS, connected, rejection, uniqueName, until, within } from './helpers.mjs';

// test_ably_js.py starts the service with the `mutable` namespace allowed to change messages.
const mutable = (prefix) => `mutable:${uniqueName(prefix)}`;

for (const format of FORMATS) {
  describe(`mutable messages (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('publish returns ordered serials; update, delete and append reach subscribers', async () => {
      const client = clients.byKey({ clientId: 'editor' });
      await connected(client);
      const channel = client.channels.get(mutable('edit'));
      const seen = [];
      await channel.subscribe((message) => seen.push(message));
      const { serials } = await channel.publish([
        { name: 'a', data: 'Hello' },
        { name: 'b', data: { n: 1 } },
      ]);
      assert.equal(serials.length, 2);
      assert.ok(serials[0] < serials[1]);

      const operation = { clientId: 'editor', description: 'fix', metadata: { why: 'typo' } };
      const appended = await channel.appendMessage({ serial: serials[0], data: ' World' }, operation);
      const updated = await channel.updateMessage({ serial: serials[1], data: { n: 2 } }, operation);
      const deleted = await channel.deleteMessage({ serial: serials[1], data: {} });
      await until(() => seen.length === 5, 'two messages and three changes');
      assert.deepEqual(
        seen.map((message) => message.action),
        ['message.create', 'message.create', 'message.append', 'message.update', 'message.delete'],
      );
      assert.equal(seen[2].serial, serials[0]);
      assert.equal(seen[2].data, ' World');
      assert.equal(seen[2].version.serial, appended.versionSerial);
      assert.deepEqual(seen[2].version.metadata, { why: 'typo' });
      assert.ok(updated.versionSerial > appended.versionSerial && deleted.versionSerial > updated.versionSerial);

      const rest = clients.rest.channels.get(channel.name);
      const latest = await rest.getMessage(serials[0]);
      assert.equal(latest.data, 'Hello World');
      assert.equal(latest.action, 'message.update');
      const versions = await rest.getMessageVersions(serials[1]);
      assert.deepEqual(
        versions.items.map((version) => version.action),
        ['message.create', 'message.update', 'message.delete'],
      );
      const history = await rest.history({ direction: 'forwards' });
      assert.deepEqual(
        history.items.map((message) => [message.serial, message.action]),
        [
          [serials[0], 'message.update'],
          [serials[1], 'message.delete'],
        ],
      );
    });

    test('annotations reach annotation subscribers and roll up into a summary', async () => {
      const client = clients.byKey({ clientId: 'reactor' });
      await connected(client);
      const name = mutable('react');
      const channel = client.channels.get(name, {
        modes: ['publish', 'subscribe', 'annotation_publish', 'annotation_subscribe'],
      });
      const messages = [];
      const annotations = [];
      await channel.subscribe((message) => messages.push(message));
      await channel.annotations.subscribe((annotation) => annotations.push(annotation));
      const { serials } = await channel.publish('post', 'hi');
      await channel.annotations.publish(serials[0], { type: 'reaction:distinct.v1', name: '👍' });
      await clients.rest.channels.get(name).annotations.publish(serials[0], { type: 'reaction:distinct.v1', name: '🎉' });
      await until(() => annotations.length === 2, 'both annotations');
      assert.deepEqual(
        annotations.map((annotation) => [annotation.messageSerial, annotation.name]),
        [
          [serials[0], '👍'],
          [serials[0], '🎉'],
        ],
      );
      await until(() => messages.filter((message) => message.action === 'message.summary').length === 2, 'summaries');
      const last = messages.at(-1);
      assert.equal(last.serial, serials[0]);
      assert.deepEqual(Object.keys(last.annotations.summary['reaction:distinct.v1']).sort(), ['👍', '🎉'].sort());
      const listed = await channel.annotations.get(serials[0], { limit: 1 });
      assert.equal(listed.items[0].name, '👍');
      assert.equal((await listed.next()).items[0].name, '🎉');
    });

    test('a namespace without the rule refuses changes (93002)', async () => {
      const client = clients.byKey();
      await connected(client);
      const channel = client.channels.get(uniqueName('plain'));
      const { serials } = await within(channel.publish('x', 'y'), 'publish');
      const refused = await rejection(channel.updateMessage({ serial: serials[0], data: 'z' }), 'update');
      assert.equal(refused.code, 93002);
    });
  });
}
