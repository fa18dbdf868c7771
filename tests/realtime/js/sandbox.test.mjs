// ably-js on an app provisioned through the service's sandbox, used the way ably-js's own harness uses it
// (test/common/modules/testapp_manager.js and client_module.js): every client routed by the answer's
// endpoint, port and tls, authenticating with the answer's keyStr; the key's keyName and capability as the
// auth tests compare them; the presence fixtures of the posted spec.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Ably, Clients, FORMATS, collect, connected, sandboxApp, uniqueName, until, within } from './helpers.mjs';

const SPEC = {
  keys: [{}, { capability: '{ "writers:*":["publish"], "readers:*":["subscribe"] }' }],
  namespaces: [{ id: 'persisted', persisted: true }],
  channels: [{ name: 'persisted:fixtures', presence: [{ clientId: 'member', data: 'here' }] }],
};

for (const format of FORMATS) {
  describe(`a sandbox app, as ably-js's harness uses it (${format})`, () => {
    let app;
    let clients;
    before(async () => {
      app = await sandboxApp(SPEC);
      clients = new Clients(format);
    });
    after(() => clients.closeAll());

    const routed = (options) => ({ endpoint: app.endpoint, port: app.port, tls: app.tls, ...options });

    test('a realtime client with keys[0].keyStr connects, publishes and receives', async () => {
      const client = clients.realtime(routed({ key: app.keys[0].keyStr }));
      await connected(client);
      const channel = client.channels.get(uniqueName('harness'));
      const received = await collect(channel);
      await within(channel.publish('greeting', 'hello'), 'publish');
      await until(() => received.length === 1, 'the message back');
      assert.equal(received[0].data, 'hello');
    });

    test("a token from keys[1] has that key's keyName and capability", async () => {
      const rest = new Ably.Rest(routed({ key: app.keys[1].keyStr, useBinaryProtocol: format === 'msgpack' }));
      const tokenDetails = await within(rest.auth.requestToken(), 'requestToken');
      assert.equal(tokenDetails.keyName, app.keys[1].keyName);
      assert.deepEqual(JSON.parse(tokenDetails.capability), JSON.parse(app.keys[1].capability));
    });

    test("the spec's presence fixtures are there", async () => {
      const rest = new Ably.Rest(routed({ key: app.keys[0].keyStr, useBinaryProtocol: format === 'msgpack' }));
      const members = await within(rest.channels.get('persisted:fixtures').presence.get(), 'presence.get');
      assert.deepEqual(
        members.items.map((member) => [member.clientId, member.data]),
        [['member', 'here']],
      );
    });
  });
}
