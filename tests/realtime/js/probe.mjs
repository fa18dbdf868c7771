// A long-lived health probe for tests/realtime/test_hostile.py: for each line `check NAME` on stdin it opens
// a JSON and a msgpack ably-js client, enters presence and publishes from each, checks each saw the other's
// message and presence, closes both and prints one JSON line: {"check": NAME, "ok": true} or the error.
import readline from 'node:readline';
import { Clients, connected, until, within } from './helpers.mjs';

async function check(name) {
  const sides = [new Clients('json'), new Clients('msgpack')];
  try {
    const clients = sides.map((side, index) => side.byKey({ clientId: `probe-${index}` }));
    await Promise.all(clients.map(connected));
    const channels = clients.map((client) => client.channels.get(`probe:${name}`));
    const received = channels.map(() => []);
    await Promise.all(channels.map((channel, index) => channel.subscribe((m) => received[index].push(m.data))));
    await Promise.all(channels.map((channel) => within(channel.presence.enter('here'), 'presence enter')));
    await Promise.all(channels.map((channel, index) => channel.publish('probe', `from-${index}`)));
    await until(() => received.every((data) => data.includes('from-0') && data.includes('from-1')), 'both messages');
    for (const channel of channels) {
      const members = await within(channel.presence.get(), 'presence get');
      const ids = members.map((member) => member.clientId).sort();
      if (ids.join() !== 'probe-0,probe-1') throw new Error(`presence holds ${ids.join()}`);
    }
    return { check: name, ok: true };
  } catch (error) {
    return { check: name, ok: false, error: String(error && error.message ? error.message : error) };
  } finally {
    await Promise.all(sides.map((side) => side.closeAll()));
  }
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const [command, name] = line.trim().split(/\s+/);
  if (command === 'check') {
    process.stdout.write(`${JSON.stringify(await check(name))}\n`);
  }
}
