// Presence between ably-js clients: enter, update and leave seen live and through presence.get().
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { Clients, FORMATS, connected, dropTransport, uniqueName, until, within } from './helpers.mjs';

for (const format of FORMATS) {
  describe(`presence (${format})`, () => {
    let clients;
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('enter, update and leave are seen by another client', async () => {
      const name = uniqueName('chat');
      const alice = clients.byToken({ clientId: 'alice' });
      const bob = clients.byToken({ clientId: 'bob' });
      await Promise.all([connected(alice), connected(bob)]);
      const seen = [];
      await bob.channels.get(name).presence.subscribe((member) => seen.push(member));

      const presence = alice.channels.get(name).presence;
      await within(presence.enter({ status: 'here' }), 'presence enter');
      await until(() => seen.length >= 1, 'the enter event at bob');
      await within(presence.update({ status: 'busy' }), 'presence update');
      await until(() => seen.length >= 2, 'the update event at bob');

      const members = await within(bob.channels.get(name).presence.get(), 'presence.get at bob');
      assert.deepEqual(
        members.map((m) => [m.clientId, m.data.status]),
        [['alice', 'busy']],
      );
      assert.equal(members[0].connectionId, alice.connection.id);

      await within(presence.leave(), 'presence leave');
      await until(() => seen.length >= 3, 'the leave event at bob');
      assert.deepEqual(
        seen.map((m) => [m.action, m.clientId]),
        [
          ['enter', 'alice'],
          ['update', 'alice'],
          ['leave', 'alice'],
        ],
      );
      assert.deepEqual(seen[0].data, { status: 'here' });
      const after = await within(bob.channels.get(name).presence.get(), 'presence.get after leave');
      assert.deepEqual(after, []);
    });

    test('a client attaching later receives the current members in the SYNC', async () => {
      const name = uniqueName('chat');
      const alice = clients.byToken({ clientId: 'alice' });
      const carol = clients.byToken({ clientId: 'carol' });
      await Promise.all([connected(alice), connected(carol)]);
      await within(alice.channels.get(name).presence.enter('a'), 'alice enters');
      await within(carol.channels.get(name).presence.enter('c'), 'carol enters');

      const late = clients.byToken({ clientId: 'late' });
      await connected(late);
      const members = await within(late.channels.get(name).presence.get({ waitForSync: true }), 'SYNC on attach');
      assert.deepEqual(members.map((m) => m.clientId).sort(), ['alice', 'carol']);

      const viaRest = await within(clients.rest.channels.get(name).presence.get(), 'GET /channels/{name}/presence');
      assert.deepEqual(viaRest.items.map((m) => m.clientId).sort(), ['alice', 'carol']);
    });

    test('a member whose connection closes is removed', async () => {
      const name = uniqueName('chat');
      const leaving = clients.byToken({ clientId: 'leaving' });
      const watcher = clients.byToken({ clientId: 'watcher' });
      await Promise.all([connected(leaving), connected(watcher)]);
      const seen = [];
      await watcher.channels.get(name).presence.subscribe((member) => seen.push(member.action));
      await within(leaving.channels.get(name).presence.enter(), 'enter');
      await until(() => seen.includes('enter'), 'the enter event');
      leaving.close();
      await until(() => seen.includes('leave'), 'the leave after a closed connection');
      const members = await within(watcher.channels.get(name).presence.get(), 'presence.get');
      assert.deepEqual(members, []);
    });

    test('a member survives a dropped transport that resumes', async () => {
      const name = uniqueName('chat');
      const flaky = clients.byToken({ clientId: 'flaky' });
      const watcher = clients.byToken({ clientId: 'watcher' });
      await Promise.all([connected(flaky), connected(watcher)]);
      const seen = [];
      await watcher.channels.get(name).presence.subscribe((member) => seen.push(member.action));
      await within(flaky.channels.get(name).presence.enter(), 'enter');
      await until(() => seen.includes('enter'), 'the enter event');
      const connectionId = flaky.connection.id;
      await dropTransport(flaky);
      await connected(flaky);
      assert.equal(flaky.connection.id, connectionId, 'the connection must resume, not start afresh');
      const members = await within(watcher.channels.get(name).presence.get(), 'presence.get');
      assert.deepEqual(
        members.map((m) => m.clientId),
        ['flaky'],
      );
      assert.ok(!seen.includes('leave'), `a resumed member must not leave (saw ${seen.join(', ')})`);
    });
  });
}
