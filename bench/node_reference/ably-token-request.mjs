// The article's Netlify function in Node, kept only as the benchmark's reference point:
// read the key, build an Ably REST client, return createTokenRequest({ clientId }) as JSON.
import * as Ably from 'ably';

export async function handler(event) {
  if (!process.env.ABLY_API_KEY) {
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify('Missing ABLY_API_KEY environment variable.'),
    };
  }
  const clientId =
    (event.queryStringParameters && event.queryStringParameters.clientId) ||
    process.env.DEFAULT_CLIENT_ID ||
    'NO_CLIENT_ID';
  const client = new Ably.Rest(process.env.ABLY_API_KEY);
  const tokenRequestData = await client.auth.createTokenRequest({ clientId });
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tokenRequestData),
  };
}
