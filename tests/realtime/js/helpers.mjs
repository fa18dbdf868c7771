// Shared set-up for the ably-js suites: the real `ably` package from the project's node_modules, pointed at
// the local service that tests/realtime/test_ably_js.py started and described in the environment.
import { createHmac } from 'node:crypto';

import Ably from 'ably';

const env = process.env;

function required(name) {
  const value = env[name];
  if (!value) {
    throw new Error(`${name} is not set; run these suites through tests/realtime/test_ably_js.py`);
  }
  return value;
}

export const HOST = required('ABLY_LOCAL_HOST');
export const PORT = Number(required('ABLY_LOCAL_PORT'));
export const API_KEY = required('ABLY_LOCAL_KEY');
export const TOKEN_URL = env.ABLY_TOKEN_URL || '';
export const FORMATS = (env.ABLY_JS_FORMATS || 'json,msgpack').split(',');
export { Ably };

const STEP_TIMEOUT_MS = 8000;
const [KEY_NAME, KEY_SECRET] = API_KEY.split(':');

/**
 * An Ably JWT of the suite's key, signed here with node:crypto (HS256, the key name as `kid`), the way a
 * token function signs one; `iat` and `exp` are added unless the claims give them.
 */
export function jwt(claims, secret = KEY_SECRET) {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signing = `${encode({ typ: 'JWT', alg: 'HS256', kid: KEY_NAME })}.${encode({ iat: now, exp: now + 600, ...claims })}`;
  return `${signing}.${createHmac('sha256', secret).update(signing).digest('base64url')}`;
}
let uniqueCounter = 0;

/** A channel name no other test uses, so suites running side by side never see each other's traffic. */
export function uniqueName(prefix) {
  uniqueCounter += 1;
  return `${prefix}:${process.pid}-${Date.now().toString(36)}-${uniqueCounter}`;
}

function baseOptions(format) {
  return {
    endpoint: HOST,
    port: PORT,
    tls: false,
    useBinaryProtocol: format === 'msgpack',
    logLevel: 0,
    realtimeRequestTimeout: STEP_TIMEOUT_MS,
  };
}

/** Every client a test opens, closed after it so a failing test leaves no socket behind. */
export class Clients {
  constructor(format) {
    this.format = format;
    this.opened = [];
    this.rest = new Ably.Rest({ ...baseOptions(format), key: API_KEY });
  }

  realtime(options) {
    const client = new Ably.Realtime({ ...baseOptions(this.format), ...options });
    this.opened.push(client);
    return client;
  }

  /** A REST client with other options (another app's key, a token), in this suite's format. */
  restWith(options) {
    return new Ably.Rest({ ...baseOptions(this.format), ...options });
  }

  byKey(options = {}) {
    return this.realtime({ key: API_KEY, ...options });
  }

  /**
   * Token auth the way a browser does it: the authCallback hands ably-js a TokenRequest signed with the key,
   * and ably-js exchanges it at POST /keys/{keyName}/requestToken. `calls` counts renewals.
   */
  byToken(tokenParams = {}, options = {}) {
    const auth = { calls: 0, tokenParams };
    const client = this.realtime({
      ...options,
      authCallback: (_params, callback) => {
        auth.calls += 1;
        this.rest.auth.createTokenRequest(auth.tokenParams).then(
          (tokenRequest) => callback(null, tokenRequest),
          (error) => callback(error, null),
        );
      },
    });
    client.testAuth = auth;
    return client;
  }

  async closeAll() {
    await Promise.all(this.opened.map((client) => closeQuietly(client)));
    this.opened = [];
  }
}

async function closeQuietly(client) {
  const state = client.connection.state;
  if (state === 'closed' || state === 'failed') {
    return;
  }
  client.close();
  await Promise.race([
    new Promise((resolve) => {
      const listener = (change) => {
        if (change.current === 'closed' || change.current === 'failed') {
          client.connection.off(listener);
          resolve();
        }
      };
      client.connection.on(listener);
    }),
    sleep(3000),
  ]);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Await a promise, failing with a readable message instead of hanging until node:test's own timeout. */
export async function within(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function connected(client) {
  return within(client.connection.whenState('connected'), `connection ${client.connection.id ?? ''} connected`);
}

/** Poll until `check()` is true; for effects that arrive asynchronously from another client. */
export async function until(check, what, ms = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await sleep(10);
  }
}

/** Collect a channel's messages into an array as they arrive. */
export async function collect(channel, name) {
  const received = [];
  const listener = (message) => received.push(message);
  if (name === undefined) {
    await channel.subscribe(listener);
  } else {
    await channel.subscribe(name, listener);
  }
  return received;
}

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(promise, what) {
  try {
    await within(promise, what);
  } catch (error) {
    return error;
  }
  throw new Error(`${what} succeeded but the service should have refused it`);
}

/**
 * Drop the live WebSocket the way a network failure would: no close frame, the TCP socket just goes.
 * Resolves once ably-js has noticed and left the connected state.
 */
export function dropTransport(client) {
  const noticed = new Promise((resolve) => {
    const listener = (change) => {
      if (change.current !== 'connected') {
        client.connection.off(listener);
        resolve(change);
      }
    };
    client.connection.on(listener);
  });
  const transport = client.connection.connectionManager.activeProtocol.getTransport();
  transport.wsConnection.terminate();
  return within(noticed, 'ably-js to notice the dropped transport');
}

/**
 * A fresh app from the service's sandbox, as the SDKs' own suites provision one (POST /apps with an app
 * spec like ably-common's test-app-setup.json); answers with its keys (`keyStr`, `keyName`).
 */
export async function sandboxApp(spec) {
  const response = await fetch(`http://${HOST}:${PORT}/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
  if (response.status !== 201) {
    throw new Error(`POST /apps answered ${response.status}: ${await response.text()}`);
  }
  return response.json();
}

/** POST a body with an app key's basic auth (what the suites' helpers do for stats fixtures). */
export async function postWithKey(path, key, body) {
  const response = await fetch(`http://${HOST}:${PORT}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(key).toString('base64')}` },
    body: JSON.stringify(body),
  });
  if (response.status >= 300) {
    throw new Error(`POST ${path} answered ${response.status}: ${await response.text()}`);
  }
}
