// ably-js's REST API beyond publish and history, against the local service: stats (sandbox fixtures and
// counted traffic), batch publish and batch presence, token revocation, channel status, publishing on
// behalf of a realtime connection, and idempotent publishing over REST and realtime.
import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, test } from 'node:test';

import {
  Clients,
  FORMATS,
  HOST,
  PORT,
  collect,
  connected,
  postWithKey,
  rejection,
  sandboxApp,
  sleep,
  uniqueName,
  until,
  within,
} from './helpers.mjs';

const RESTRICTED = JSON.stringify({ 'allowed:*': ['publish', 'subscribe'], 'denied:*': ['history'] });

// Three minutes of a year ago, in the nested form ably-js's stats suite posts.
const YEAR = new Date().getUTCFullYear() - 1;
const FIXTURES = [3, 4, 5].map((minute, index) => ({
  intervalId: `${YEAR}-02-03:15:0${minute}`,
  inbound: { realtime: { messages: { count: 10 * (index + 1), data: 1000 * (index + 1) } } },
  outbound: { realtime: { messages: { count: index + 1, data: 100 } } },
}));

function assertRefused(error, code, what) {
  assert.equal(error?.code, code, `${what}: expected error ${code}, got ${error?.code} (${error?.message})`);
}

for (const format of FORMATS) {
  describe(`rest (${format})`, () => {
    let clients;
    let app;
    let keys;
    before(async () => {
      app = await sandboxApp({ keys: [{}, { revocableTokens: true }, { capability: RESTRICTED }] });
      keys = app.keys.map((key) => key.keyStr);
      await postWithKey('/stats', keys[0], FIXTURES);
    });
    beforeEach(() => {
      clients = new Clients(format);
    });
    afterEach(() => clients.closeAll());

    test('stats: posted fixtures come back per minute and per hour, paginated both ways', async () => {
      const rest = clients.restWith({ key: keys[0] });
      const minutes = await within(
        rest.stats({ start: `${YEAR}-02-03:15:03`, end: `${YEAR}-02-03:15:05`, direction: 'forwards' }),
        'GET /stats by minute',
      );
      assert.deepEqual(
        minutes.items.map((s) => [s.intervalId, s.unit, s.entries['messages.inbound.all.messages.count']]),
        [
          [`${YEAR}-02-03:15:03`, 'minute', 10],
          [`${YEAR}-02-03:15:04`, 'minute', 20],
          [`${YEAR}-02-03:15:05`, 'minute', 30],
        ],
      );
      assert.equal(minutes.items[0].appId, app.appId);
      assert.match(minutes.items[0].schema, /^https:\/\//);

      const hour = await within(rest.stats({ start: `${YEAR}-02-03:15`, end: `${YEAR}-02-03:15`, unit: 'hour' }), 'by hour');
      assert.equal(hour.items.length, 1);
      assert.equal(hour.items[0].entries['messages.inbound.all.messages.count'], 60);
      assert.equal(hour.items[0].entries['messages.all.all.count'], 66);

      const newest = await within(rest.stats({ end: `${YEAR}-02-03:15:05`, limit: 1 }), 'newest page');
      assert.equal(newest.items[0].entries['messages.inbound.all.messages.data'], 3000);
      assert.ok(newest.hasNext());
      const older = await within(newest.next(), 'next page');
      assert.equal(older.items[0].entries['messages.inbound.all.messages.data'], 2000);
      const first = await within(older.first(), 'first page again');
      assert.equal(first.items[0].entries['messages.inbound.all.messages.data'], 3000);
    });

    test('stats: traffic is counted, and the running interval says how far it got', async () => {
      const counted = await sandboxApp({ keys: [{}] });
      const rest = clients.restWith({ key: counted.keys[0].keyStr });
      await within(rest.channels.get(uniqueName('counted')).publish('m', 'data'), 'a publish to count');
      const [current] = (await within(rest.stats({ unit: 'hour' }), 'stats for this hour')).items;
      assert.equal(current.entries['messages.inbound.rest.messages.count'], 1);
      assert.equal(typeof current.inProgress, 'string');
      assert.equal(current.intervalId, current.inProgress.slice(0, 13));
    });

    test('batch publish: each channel succeeds or fails on its own, and the allowed ones are published', async () => {
      const rest = clients.restWith({ key: keys[2] });
      const allowed = uniqueName('allowed');
      const specs = [
        { channels: [allowed, uniqueName('denied')], messages: [{ data: 'one' }, { name: 'n', data: { two: 2 } }] },
        { channels: [uniqueName('allowed')], messages: [{ data: Buffer.from([1, 2, 3]) }] },
      ];
      const [first, second] = await within(rest.batchPublish(specs), 'POST /messages');
      assert.equal(first.successCount, 1);
      assert.equal(first.failureCount, 1);
      assert.equal(first.results[0].channel, allowed);
      assert.ok(first.results[0].messageId);
      assert.equal(first.results[1].error.code, 40160);
      assert.equal(first.results[1].error.statusCode, 401);
      assert.equal(second.successCount, 1);

      const history = await within(clients.restWith({ key: keys[0] }).channels.get(allowed).history(), 'history');
      assert.deepEqual(
        history.items.map((m) => m.data),
        [{ two: 2 }, 'one'],
      );

      const single = await within(rest.batchPublish({ channels: [allowed], messages: [{ data: 'x' }] }), 'one spec');
      assert.equal(single.successCount, 1);
    });

    test('batch presence: members of the allowed channels, a 40160 for the others', async () => {
      const allowed = uniqueName('allowed');
      const denied = uniqueName('denied');
      const member = clients.realtime({ key: keys[0], clientId: 'batch-member' });
      await connected(member);
      await within(member.channels.get(allowed).presence.enter({ here: true }), 'enter allowed');
      await within(member.channels.get(denied).presence.enter(), 'enter denied');

      const result = await within(clients.restWith({ key: keys[2] }).batchPresence([allowed, denied]), 'GET /presence');
      assert.equal(result.successCount, 1);
      assert.equal(result.failureCount, 1);
      assert.equal(result.results[0].channel, allowed);
      // ably-js hands batch presence members back as sent on the wire, data still encoded.
      assert.deepEqual(
        result.results[0].presence.map((m) => [m.clientId, JSON.parse(m.data), m.encoding]),
        [['batch-member', { here: true }, 'json']],
      );
      assert.equal(result.results[1].error.statusCode, 401);
      assert.ok(!('presence' in result.results[1]));
    });

    test('revokeTokens: matching connections are disconnected with 40141 and the token is refused', async () => {
      const rest = clients.restWith({ key: keys[1] });
      const clientId = uniqueName('revoked');
      const [revokedToken, keptToken] = await Promise.all([
        rest.auth.requestToken({ clientId }),
        rest.auth.requestToken({ clientId: uniqueName('kept') }),
      ]);
      const victim = clients.realtime({ token: revokedToken });
      const bystander = clients.realtime({ token: keptToken });
      await Promise.all([connected(victim), connected(bystander)]);
      const disconnected = victim.connection.once('disconnected');
      await sleep(2);

      const result = await within(
        rest.auth.revokeTokens([
          { type: 'clientId', value: clientId },
          { type: 'invalidType', value: 'abc' },
        ]),
        'POST /keys/{keyName}/revokeTokens',
      );
      assert.equal(result.successCount, 1);
      assert.equal(result.failureCount, 1);
      assert.equal(result.results[0].target, `clientId:${clientId}`);
      assert.equal(typeof result.results[0].issuedBefore, 'number');
      assert.equal(typeof result.results[0].appliesAt, 'number');
      assert.equal(result.results[1].error.statusCode, 400);

      const change = await within(disconnected, 'the revoked connection to drop');
      assert.equal(change.reason.code, 40141);
      // ably-js answers a 4014x at REST by asking for a new token (40171 here: it has none), so ask directly.
      const asRest = await fetch(`http://${HOST}:${PORT}/channels/x/messages`, {
        headers: { authorization: `Bearer ${Buffer.from(revokedToken.token).toString('base64')}` },
      });
      assert.equal(asRest.status, 401);
      assert.equal(asRest.headers.get('x-ably-errorcode'), '40141');
      assert.equal(bystander.connection.state, 'connected');
      await within(bystander.channels.get(uniqueName('chat')).publish('still', 'here'), 'the other token still works');

      const margin = await within(
        rest.auth.revokeTokens([{ type: 'clientId', value: 'later' }], { allowReauthMargin: true }),
        'revocation with a margin',
      );
      assert.ok(margin.results[0].appliesAt >= margin.results[0].issuedBefore + 30000);
    });

    test('revokeTokens: only with the revocable key itself', async () => {
      const other = clients.restWith({ key: keys[0] });
      assertRefused(
        await rejection(other.auth.revokeTokens([{ type: 'clientId', value: 'x' }]), 'a key without revocable tokens'),
        40163,
        'non-revocable key',
      );
      const byToken = clients.restWith({ key: keys[1], useTokenAuth: true });
      assertRefused(
        await rejection(byToken.auth.revokeTokens([{ type: 'clientId', value: 'x' }]), 'revocation with a token'),
        40162,
        'token auth',
      );
    });

    test('channel status: occupancy counts the attached connections by mode', async () => {
      const name = uniqueName('status');
      const full = clients.realtime({ key: keys[0], clientId: 'status-member' });
      const reader = clients.realtime({ key: keys[0] });
      await Promise.all([connected(full), connected(reader)]);
      await within(full.channels.get(name).presence.enter(), 'enter');
      await within(reader.channels.get(name, { modes: ['SUBSCRIBE'] }).attach(), 'subscribe-only attach');

      const details = await within(clients.restWith({ key: keys[0] }).channels.get(name).status(), 'GET /channels/{name}');
      assert.equal(details.channelId, name);
      assert.equal(details.status.isActive, true);
      assert.deepEqual(
        {
          ...details.status.occupancy.metrics,
        },
        {
          connections: 2,
          presenceConnections: 1,
          presenceMembers: 1,
          presenceSubscribers: 1,
          publishers: 1,
          subscribers: 2,
          objectPublishers: 0,
          objectSubscribers: 0,
        },
      );
    });

    test('a REST publish carrying a connectionKey is attributed to that connection; a bad key is 40006', async () => {
      const name = uniqueName('behalf');
      const realtime = clients.realtime({ key: keys[0], clientId: 'on-whose-behalf' });
      await connected(realtime);
      const received = await collect(realtime.channels.get(name));
      const rest = clients.restWith({ key: keys[0] });
      await within(
        rest.channels.get(name).publish({ name: 'n', data: 'd', connectionKey: realtime.connection.key }),
        'publish on behalf',
      );
      await until(() => received.length === 1, 'the message at the connection it was published for');
      assert.equal(received[0].connectionId, realtime.connection.id);
      assert.equal(received[0].clientId, 'on-whose-behalf');
      assert.equal(received[0].connectionKey, undefined);
      const refused = await rejection(
        rest.channels.get(name).publish({ name: 'n', connectionKey: 'not-a-connection!key' }),
        'publish with an unknown connectionKey',
      );
      assertRefused(refused, 40006, 'unknown connectionKey');
    });

    test('idempotent publishing: the same ids over REST or realtime are delivered once', async () => {
      const name = uniqueName('idempotent');
      const watcher = clients.realtime({ key: keys[0] });
      await connected(watcher);
      const received = await collect(watcher.channels.get(name));

      const rest = clients.restWith({ key: keys[0], idempotentRestPublishing: false });
      const message = { name: 'once', id: `${name}-rest:0` };
      await within(
        Promise.all([0, 1, 2].map(() => rest.channels.get(name).publish(message))),
        'three REST publishes of one id',
      );
      await within(watcher.channels.get(name).publish({ name: 'once', id: `${name}-realtime` }), 'first');
      await within(watcher.channels.get(name).publish({ name: 'once', id: `${name}-realtime` }), 'again');
      await within(watcher.channels.get(name).publish('end', null), 'a marker after them');
      await until(() => received.some((m) => m.name === 'end'), 'the marker');
      assert.deepEqual(
        received.map((m) => m.id),
        [`${name}-rest:0`, `${name}-realtime`, `${watcher.connection.id}:2:0`],
      );
      const history = await within(rest.channels.get(name).history(), 'history');
      assert.equal(history.items.length, 3);
    });
  });
}
