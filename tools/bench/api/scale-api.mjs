// The api from dist/, in this process on the benchmark's in-process bus (as the all-in-one hosts
// it), with its periodic loops off so the benchmark drives them, and an API token for HTTP.
import { ADMIN_PASSWORD, dist, require } from './scale-common.mjs';

const { z } = require('zod');
const { serviceInfo } = dist('libs/service-kit/src/index.js');
const { apiConfigShape } = dist('apps/api/src/config.js');
const { startApi } = dist('apps/api/src/api.app.js');

/** Starts the api; returns it with a bearer token of the admin (auth is always on). */
export async function startApiFor(platform) {
  const config = z.object(apiConfigShape).parse({ MUELLE_API_PORT: '0', MUELLE_RECONCILE_SECONDS: '0', MUELLE_SERVICES_RECONCILE_SECONDS: '0', MUELLE_LOG_LEVEL: 'warn' });
  const api = await startApi(config, platform.transport, platform.logger, serviceInfo('api'));
  try {
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
    const answer = await fetch(`${api.url}/v1/auth/tokens`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'scale' }) });
    if (answer.status !== 201 && answer.status !== 200) throw new Error(`token: HTTP ${answer.status} ${await answer.text()}`);
    const { token } = await answer.json();
    return { api, authorization: `Bearer ${token}` };
  } catch (error) {
    await api.close();
    throw error;
  }
}

/** One GET through the api; throws on any status but 200 so a refused request is never timed as an answer. */
export async function getOk(api, authorization, path) {
  const answer = await fetch(`${api.url}${path}`, { headers: { authorization } });
  const body = await answer.text();
  if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status} ${body.slice(0, 200)}`);
  return body;
}
