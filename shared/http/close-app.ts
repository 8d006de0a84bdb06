// Closes a Fastify app so that keep-alive clients cannot hold the process past its shutdown
// deadline. server.close() reaps only the connections idle at that instant: a connection whose
// response was in flight goes back to idle keep-alive afterwards and stays open until the
// client's next request (answered 503, `connection: close`) or keepAliveTimeout (65 s). A
// client that sends nothing more (a pool winding down) kept the gateway from exiting (found by
// CI). So, like Go's http.Server.Shutdown: reap idle connections every poll until the server
// is closed, and once every request must have ended (its request timeout) close the rest.

import type { FastifyInstance } from 'fastify';

const IDLE_REAP_INTERVAL_MS = 50;
/** Used when the app sets no request timeout (0): no request is waited for longer. */
const REQUESTS_DONE_WITHIN_MS_DEFAULT = 10_000;

export async function closeApp(app: FastifyInstance): Promise<void> {
  const requests_done_within_ms = app.server.requestTimeout || REQUESTS_DONE_WITHIN_MS_DEFAULT;
  const reaper = setInterval(() => app.server.closeIdleConnections(), IDLE_REAP_INTERVAL_MS);
  const force = setTimeout(() => app.server.closeAllConnections(), requests_done_within_ms);
  try {
    await app.close();
  } finally {
    clearInterval(reaper);
    clearTimeout(force);
  }
}
