// The article's Netlify function (TypeScript), kept as the benchmark's reference: read the key, build an Ably
// REST client, return createTokenRequest({ clientId }) as JSON. bench/node_reference/build.mjs bundles it the
// way Netlify ships a TypeScript function. Left out of the original: `dotenv.config()` (a no-op on Netlify,
// where there is no .env; leaving it out only makes the reference faster) and the @netlify/functions types.
import * as Ably from 'ably';

interface HandlerEvent {
  queryStringParameters: Record<string, string | undefined> | null;
}

export async function handler(event: HandlerEvent) {
  if (!process.env.ABLY_API_KEY) {
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify('Missing ABLY_API_KEY environment variable.'),
    };
  }
  const clientId = event.queryStringParameters?.['clientId'] || process.env.DEFAULT_CLIENT_ID || 'NO_CLIENT_ID';
  const client = new Ably.Rest(process.env.ABLY_API_KEY);
  const tokenRequestData = await client.auth.createTokenRequest({ clientId: clientId });
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tokenRequestData),
  };
}
