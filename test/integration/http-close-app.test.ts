// closeApp under keep-alive clients: a response in flight when the server closes is still
// delivered, and the connection it leaves idle does not hold the close until keepAliveTimeout.
// Before closeApp, the gateway waited for such connections past its 30 s deadline (CI).
import Fastify from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { closeApp } from '../../shared/http/close-app.ts';

const KEEP_ALIVE_TIMEOUT_MS = 60_000;
const HANDLER_MS = 300;
/** Far below KEEP_ALIVE_TIMEOUT_MS: a close that waited for the idle connection would miss it. */
const CLOSE_BOUND_MS = 10_000;

describe('closeApp', () => {
  it('answers the requests in flight, then closes keep-alive connections the clients left idle', async () => {
    const app = Fastify({
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      requestTimeout: 3_000,
      return503OnClosing: true,
    });
    let started = 0;
    app.get('/slow', async () => {
      started++;
      await sleep(HANDLER_MS);
      return { ok: true };
    });
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    const pool = new Pool(origin, { connections: 4, pipelining: 1, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS });
    try {
      // Warm: four keep-alive connections, all idle again.
      await Promise.all(
        Array.from({ length: 4 }, () =>
          pool.request({ method: 'GET', path: '/slow' }).then((r) => r.body.json()),
        ),
      );
      // Two requests in flight when the close starts; nothing is sent afterwards.
      const in_flight = Array.from({ length: 2 }, () => pool.request({ method: 'GET', path: '/slow' }));
      while (started < 6) await sleep(5);
      const closed = closeApp(app).then(() => 'closed' as const);
      const responses = await Promise.all(in_flight);
      expect(responses.map((r) => r.statusCode)).toEqual([200, 200]);
      await Promise.all(responses.map((r) => r.body.json()));
      const bound = sleep(CLOSE_BOUND_MS).then(() => 'still open' as const);
      expect(await Promise.race([closed, bound])).toBe('closed');
    } finally {
      await pool.destroy();
    }
  });
});
