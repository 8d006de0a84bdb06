// Dependency health checks, each bounded by its own timeout (2 s by default) so a hung
// dependency is reported as down instead of hanging the health endpoint.

export type Check = () => Promise<unknown>;

export interface CheckResult {
  readonly status: 'up' | 'down';
  readonly latency_ms: number;
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly checks: Readonly<Record<string, CheckResult>>;
}

export const HEALTH_CHECK_TIMEOUT_MS = 2_000;

export async function runCheck(check: Check, timeout_ms: number): Promise<CheckResult> {
  const started_ms = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeout_ms} ms`)), timeout_ms);
      }),
    ]);
    return { status: 'up', latency_ms: Math.round(performance.now() - started_ms) };
  } catch (error) {
    // Only the message: a driver error may carry a connection string in other fields.
    const message = error instanceof Error ? error.message : String(error);
    return { status: 'down', latency_ms: Math.round(performance.now() - started_ms), error: message };
  } finally {
    clearTimeout(timer);
  }
}

export async function runChecks(
  checks: Readonly<Record<string, Check>>,
  timeout_ms = HEALTH_CHECK_TIMEOUT_MS,
): Promise<HealthReport> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => runCheck(checks[name]!, timeout_ms)));
  const report: Record<string, CheckResult> = {};
  names.forEach((name, i) => {
    report[name] = results[i]!;
  });
  return { status: results.every((r) => r.status === 'up') ? 'ok' : 'degraded', checks: report };
}
