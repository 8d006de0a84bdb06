// The operator console page: Preact + htm (no build step) and uPlot, served from node_modules.
// Every request goes to the console's own routes; the session cookie authenticates them and
// writes carry the session's CSRF token.
import uPlot from './vendor/uplot/uPlot.esm.js';
import { html, render, useEffect, useRef, useState } from './vendor/htm/standalone.mjs';

let csrf_token = '';

async function call(method, path, body, headers = {}) {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method === 'GET' ? {} : { 'x-csrf-token': csrf_token }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text === '' ? null : JSON.parse(text);
  return { status: response.status, ok: response.ok, data, etag: response.headers.get('etag') };
}

/** Minor units as a decimal amount with two places (every program currency has two). */
function money(minor, currency) {
  if (minor === null || minor === undefined) return '—';
  const negative = String(minor).startsWith('-');
  const digits = String(minor).replace('-', '').padStart(3, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)} ${currency ?? ''}`.trim();
}

function errorText(answer) {
  return answer.data?.error?.message ?? `The request failed (HTTP ${answer.status}).`;
}

function Alert({ text }) {
  return text ? html`<div class="alert" role="alert">${text}</div>` : null;
}

function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  async function submit(event) {
    event.preventDefault();
    const answer = await call('POST', '/console/session', { api_key: key.trim() });
    if (!answer.ok)
      return setError(
        answer.status === 401 ? 'That API key is not valid or was revoked.' : errorText(answer),
      );
    onSignedIn(answer.data);
  }
  return html`<main class="signin">
    <h1>Atlanticfrewaycard console</h1>
    <form onSubmit=${submit}>
      <label>API key
        <input id="api-key" type="password" autocomplete="off" required value=${key} onInput=${(e) => setKey(e.target.value)} />
      </label>
      <div><button class="primary" type="submit">Sign in</button></div>
    </form>
    <${Alert} text=${error} />
    <p class="note">The console sees what the key's scopes and company allow. <code>npm start</code> prints a demo key.</p>
  </main>`;
}

// ---------------------------------------------------------------- cards

function Cards() {
  const [query, setQuery] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  async function search(event) {
    event.preventDefault();
    const answer = await call('GET', `/console/search/cards?q=${encodeURIComponent(query.trim())}`);
    if (!answer.ok) return setError(errorText(answer));
    setError('');
    setResult(answer.data);
  }
  return html`<main>
    <h1>Cards</h1>
    <form onSubmit=${search} role="search">
      <label>Search by card token, cardholder or company
        <input id="card-search" type="search" minlength="2" required value=${query} onInput=${(e) => setQuery(e.target.value)} />
      </label>
      <button class="primary" type="submit">Search</button>
    </form>
    <${Alert} text=${error} />
    ${
      result === null
        ? html`<p>Type part of a business card's token, a cardholder's e-mail or user token, or a company name; a personal card by its whole token.</p>`
        : html`<p aria-live="polite">${result.data.length} ${result.data.length === 1 ? 'card matches' : 'cards match'}${result.limited ? ' (first 50; narrow the search)' : ''}</p>`
    }
    ${
      result !== null && result.data.length > 0
        ? html`<table>
      <thead><tr><th>Card token</th><th>Cardholder</th><th>Company</th><th>Status</th><th>Currency</th></tr></thead>
      <tbody>${result.data.map(
        (r) => html`<tr>
        <td><a href=${`#/cards/${r.card.id}`}>${r.card.card_token}</a></td>
        <td>${r.cardholder}</td><td>${r.company}</td><td>${r.card.status}</td><td>${r.card.currency_code}</td>
      </tr>`,
      )}</tbody>
    </table>`
        : null
    }
  </main>`;
}

const LIMIT_FIELDS = [
  ['per_transaction_limit_minor', 'Per transaction limit'],
  ['daily_limit_minor', 'Daily limit'],
  ['weekly_limit_minor', 'Weekly limit'],
  ['monthly_limit_minor', 'Monthly limit'],
  ['yearly_limit_minor', 'Yearly limit'],
  ['lifetime_limit_minor', 'Lifetime limit'],
  ['velocity_count_max', 'Velocity: authorizations at most'],
  ['velocity_window_s', 'Velocity window (seconds)'],
];
const CONTROL_FIELDS = [
  ['mcc_allow', 'Allowed MCCs'],
  ['mcc_block', 'Blocked MCCs'],
  ['merchant_allow', 'Allowed merchant ids'],
  ['merchant_block', 'Blocked merchant ids'],
  ['country_allow', 'Allowed countries'],
  ['country_block', 'Blocked countries'],
];

function formOf(card) {
  const form = {};
  for (const [name] of LIMIT_FIELDS) form[name] = card.limits[name] === null ? '' : String(card.limits[name]);
  for (const [name] of CONTROL_FIELDS) form[name] = card.controls[name].join(', ');
  return form;
}

function CardPage({ id }) {
  const [card, setCard] = useState(null);
  const [version, setVersion] = useState(null);
  const [form, setForm] = useState({});
  const [balance, setBalance] = useState(null);
  const [decisions, setDecisions] = useState([]);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');

  async function load() {
    const answer = await call('GET', `/console/api/cards/${id}`);
    if (!answer.ok) return setError(errorText(answer));
    setCard(answer.data);
    setVersion(answer.etag);
    setForm(formOf(answer.data));
    const kind = answer.data.kind;
    const tx = await call('GET', `/console/api/transactions?card_id=${id}&kind=${kind}&limit=20`);
    setDecisions(tx.data?.data ?? []);
    setBalance(kind === 'personal' ? (await call('GET', `/console/api/cards/${id}/balance`)).data : null);
  }
  useEffect(() => {
    load();
  }, [id]);

  async function changeStatus(action) {
    if (!window.confirm(`${action === 'suspend' ? 'Suspend' : 'Activate'} card ${card.card_token}?`)) return;
    const answer = await call('POST', `/console/api/cards/${id}/status`, { action }, { 'if-match': version });
    if (answer.status === 409) return setError(conflictText(answer));
    if (!answer.ok) return setError(errorText(answer));
    setError('');
    setMessage(`Card ${action === 'suspend' ? 'suspended' : 'activated'}.`);
    await load();
  }

  async function save(event) {
    event.preventDefault();
    const limits = {};
    for (const [name] of LIMIT_FIELDS) {
      if (form[name] === (card.limits[name] === null ? '' : String(card.limits[name]))) continue;
      const text = form[name].trim();
      limits[name] = text === '' ? null : name.startsWith('velocity') ? Number(text) : text;
    }
    const controls = {};
    for (const [name] of CONTROL_FIELDS) {
      const list = form[name]
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      if (list.join(', ') !== card.controls[name].join(', ')) controls[name] = list;
    }
    const body = {
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
      ...(Object.keys(controls).length > 0 ? { controls } : {}),
    };
    if (Object.keys(body).length === 0) return setMessage('Nothing changed.');
    const answer = await call('PATCH', `/console/api/cards/${id}`, body, { 'if-match': version });
    if (answer.status === 409) return setError(conflictText(answer));
    if (!answer.ok) return setError(errorText(answer));
    setError('');
    setMessage('Spending controls saved.');
    await load();
  }

  if (card === null)
    return html`<main><${Alert} text=${error} />${error ? null : html`<p>Loading…</p>`}</main>`;
  const field = (name, label) => html`<label>${label}
    <input name=${name} value=${form[name]} onInput=${(e) => setForm({ ...form, [name]: e.target.value })} />
  </label>`;
  return html`<main>
    <h1>Card ${card.card_token}</h1>
    <${Alert} text=${error} />
    ${message ? html`<p class="note" role="status">${message}</p>` : null}
    <div class="grid">
      <section>
        <h2>Status</h2>
        <p>Status: <strong id="card-status">${card.status}</strong> · ${card.kind} · ${card.currency_code} · version ${card.version}</p>
        ${card.status === 'active' ? html`<button class="danger" onClick=${() => changeStatus('suspend')}>Suspend card</button>` : null}
        ${card.status === 'suspended' ? html`<button onClick=${() => changeStatus('activate')}>Activate card</button>` : null}
        <h2>Balance and holds</h2>
        ${
          balance
            ? html`<table><tbody>
              <tr><th>Available</th><td class="num">${money(balance.available_minor, balance.currency_code)}</td></tr>
              <tr><th>Held</th><td class="num">${money(balance.held_minor, balance.currency_code)}</td></tr>
              <tr><th>Posted</th><td class="num">${money(balance.posted_minor, balance.currency_code)}</td></tr>
            </tbody></table><p>Holds read from the ${balance.held_source} ledger.</p>`
            : html`<p>Business cards spend against their company's limits below; they carry no balance of their own.</p>`
        }
      </section>
      <section>
        <h2>Spending controls</h2>
        <form onSubmit=${save} aria-label="Spending controls">
          <p>Amounts in minor units of ${card.currency_code} (1000 = ${money('1000', card.currency_code)}); empty means no limit.</p>
          ${LIMIT_FIELDS.map(([name, label]) => field(name, label))}
          <p>Lists are comma-separated.</p>
          ${CONTROL_FIELDS.map(([name, label]) => field(name, label))}
          <div><button class="primary" type="submit">Save spending controls</button></div>
        </form>
      </section>
    </div>
    <section>
      <h2>Recent decisions</h2>
      <table>
        <thead><tr><th>Decided</th><th>Method</th><th class="num">Amount</th><th>Answer</th><th>Decision trace</th></tr></thead>
        <tbody>${decisions.map(
          (t) => html`<tr>
          <td>${new Date(t.decision.decided_at).toLocaleString()}</td>
          <td>${t.method}</td>
          <td class="num">${money(t.amount_minor, t.currency_code)}</td>
          <td class=${t.decision.status_code === 0 ? 'approved' : 'declined'}>${t.status}</td>
          <td>rule <strong>${t.decision.status_name}</strong> (${t.decision.memo})${t.decision.decline_reason ? ` · Marqeta reason ${t.decision.decline_reason}` : ''} · approved ${money(t.approved_amount_minor, t.currency_code)} · revision ${t.decision.revision}${t.merchant.name ? ` · ${t.merchant.name} (MCC ${t.merchant.mcc ?? '—'})` : ''}${t.decision.limits_seen.length > 0 ? html`<br /><span class="seen">saw: ${limitsSeenText(t.decision.limits_seen, t.currency_code)}</span>` : null}</td>
        </tr>`,
        )}</tbody>
      </table>
      ${decisions.length === 0 ? html`<p>No decisions recorded on this card yet.</p>` : null}
    </section>
  </main>`;
}

const PERIOD_NAMES = { day: 'daily', week: 'weekly', month: 'monthly', year: 'yearly', all: 'all-time' };

/** What a purchase's amount rules saw (the API's decision.limits_seen), as one line of text. */
function limitsSeenText(seen, currency) {
  return seen
    .map((s) => {
      switch (s.rule) {
        case 'per_transaction':
          return `per transaction ${money(s.limit_minor, currency)}`;
        case 'period':
          return `${PERIOD_NAMES[s.period]} ${money(s.spent_minor, currency)} of ${money(s.limit_minor, currency)}`;
        case 'category':
          return `category ${PERIOD_NAMES[s.period]} ${money(s.spent_minor, currency)} of ${money(s.limit_minor, currency)}`;
        case 'velocity':
          return `${s.approvals} of ${s.approvals_max} approvals in the velocity window`;
        case 'balance':
          return `available ${money(s.available_minor, currency)}`;
        default:
          return null;
      }
    })
    .filter((text) => text !== null)
    .join(' · ');
}

function conflictText(answer) {
  return `Conflict (HTTP 409): ${errorText(answer)} Someone changed this card since you opened it; reload the page to see the current version, then make your change again.`;
}

// ---------------------------------------------------------------- live decisions

const WINDOW_S = 300;
const BUCKET_S = 10;
const ROWS_SHOWN_MAX = 200;
const LATENCY_POLL_MS = 5_000;
const DECISIONS_KEPT_MAX = 5_000;

/** A uPlot chart with a text summary of its latest values (what a screen reader announces). */
function Chart({ title, series, data, y_range, summary }) {
  const host = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    plot.current = new uPlot(
      {
        title,
        width: 460,
        height: 180,
        // The last five minutes, whatever the data covers; the y range from the data (or fixed).
        scales: {
          x: { time: true, range: () => [Date.now() / 1000 - WINDOW_S, Date.now() / 1000] },
          ...(y_range ? { y: { range: y_range } } : {}),
        },
        series: [
          {},
          ...series.map(([label, stroke]) => ({ label, stroke, width: 2, points: { show: true } })),
        ],
      },
      data,
      host.current,
    );
    return () => plot.current.destroy();
  }, []);
  useEffect(() => plot.current?.setData(data), [data]);
  return html`<figure aria-label=${title}><div ref=${host}></div><figcaption>${summary}</figcaption></figure>`;
}

/** Quantile q of the observations between two cumulative histograms (linear within a bucket). */
function quantileMs(before, after, q) {
  const counts = after.map(([le, count], i) => [le, count - (before[i]?.[1] ?? 0)]);
  const total = counts.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  for (let i = 0; i < counts.length; i++) {
    const [le, count] = counts[i];
    if (count >= rank) {
      const below = i === 0 ? 0 : counts[i - 1][1];
      const upper = le === '+Inf' ? lower : le;
      return 1000 * (lower + (upper - lower) * ((rank - below) / Math.max(count - below, 1)));
    }
    lower = le === '+Inf' ? lower : le;
  }
  return null;
}

function approvalSummary(decisions) {
  const recent = decisions.filter((d) => d.decided_at_ms >= Date.now() - WINDOW_S * 1000);
  if (recent.length === 0) return 'No decisions in the last five minutes.';
  const approved = recent.filter((d) => d.approved).length;
  return `Last five minutes: ${Math.round((100 * approved) / recent.length)}% approved of ${recent.length}.`;
}

function latencySummary([x, p50, p99]) {
  const last = p50.findLastIndex((v) => v !== null);
  if (last === -1) return 'No decision timed yet.';
  return `Latest: p50 ${p50[last].toFixed(1)} ms, p99 ${p99[last].toFixed(1)} ms (${new Date(x[last] * 1000).toLocaleTimeString()}).`;
}

function Live() {
  const [decisions, setDecisions] = useState([]);
  const [paused, setPaused] = useState(false);
  const [frozen, setFrozen] = useState([]);
  const [filters, setFilters] = useState({ card: '', reason: '', method: '' });
  const [connected, setConnected] = useState(false);
  const [times, setTimes] = useState([[], [], []]);
  useEffect(() => {
    const source = new EventSource('/console/live/decisions');
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.onmessage = (event) => {
      const decision = JSON.parse(event.data);
      setDecisions((list) => [decision, ...list].slice(0, DECISIONS_KEPT_MAX));
    };
    // The first point covers the gateway's life so far; each next one the decisions since the last poll.
    let previous = [];
    const poll = async () => {
      const answer = await call('GET', '/console/ops/decision-times');
      if (!answer.ok || !answer.data.reachable) return;
      const now = Date.now() / 1000;
      const p50 = quantileMs(previous, answer.data.buckets, 0.5);
      const p99 = quantileMs(previous, answer.data.buckets, 0.99);
      setTimes(([x, a, b]) => {
        const first = x.findIndex((t) => t >= now - WINDOW_S);
        const keep = first === -1 ? x.length : first;
        return [
          [...x.slice(keep), now],
          [...a.slice(keep), p50],
          [...b.slice(keep), p99],
        ];
      });
      previous = answer.data.buckets;
    };
    poll();
    const timer = setInterval(poll, LATENCY_POLL_MS);
    return () => {
      source.close();
      clearInterval(timer);
    };
  }, []);

  const shown_source = paused ? frozen : decisions;
  const f = { card: filters.card.trim().toLowerCase(), reason: filters.reason, method: filters.method };
  const shown = shown_source.filter(
    (d) =>
      (f.card === '' ||
        String(d.card_id).toLowerCase().includes(f.card) ||
        d.card_masked.toLowerCase().includes(f.card)) &&
      (f.reason === '' || d.status_name === f.reason) &&
      (f.method === '' || d.method === f.method),
  );
  const reasons = [...new Set(decisions.map((d) => d.status_name))].sort();
  const methods = [...new Set(decisions.map((d) => d.method))].sort();

  // Approval rate per 10 s bucket over the last five minutes, of the decisions this page received.
  const now_s = Math.floor(Date.now() / 1000 / BUCKET_S) * BUCKET_S;
  const xs = [];
  const rates = [];
  for (let t = now_s - WINDOW_S + BUCKET_S; t <= now_s; t += BUCKET_S) {
    const inside = decisions.filter(
      (d) => d.decided_at_ms >= t * 1000 && d.decided_at_ms < (t + BUCKET_S) * 1000,
    );
    xs.push(t);
    rates.push(inside.length === 0 ? null : (100 * inside.filter((d) => d.approved).length) / inside.length);
  }

  return html`<main>
    <h1>Live decisions</h1>
    <p role="status">${connected ? 'Connected: decisions appear as the gateway makes them.' : 'Connecting…'}</p>
    <div class="grid">
      <${Chart} title="Approval rate (%), 10 s buckets" y_range=${[0, 100]} series=${[['approval %', '#176b2c']]} data=${[xs, rates]}
        summary=${approvalSummary(decisions)} />
      <${Chart} title="Decision time (ms), gateway-wide" series=${[['p50 ms', '#0b4fa8'], ['p99 ms', '#a11']]} data=${times}
        summary=${latencySummary(times)} />
    </div>
    <form onSubmit=${(e) => e.preventDefault()} aria-label="Filters">
      <label>Card (id or last four)
        <input id="filter-card" value=${filters.card} onInput=${(e) => setFilters({ ...filters, card: e.target.value })} />
      </label>
      <label>Reason
        <select id="filter-reason" value=${filters.reason} onChange=${(e) => setFilters({ ...filters, reason: e.target.value })}>
          <option value="">any</option>${reasons.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
      </label>
      <label>Method
        <select id="filter-method" value=${filters.method} onChange=${(e) => setFilters({ ...filters, method: e.target.value })}>
          <option value="">any</option>${methods.map((m) => html`<option value=${m}>${m}</option>`)}
        </select>
      </label>
      <button type="button" aria-pressed=${paused} onClick=${() => {
        setFrozen(decisions);
        setPaused(!paused);
      }}>
        ${paused ? `Resume (${decisions.length - frozen.length} new)` : 'Pause'}
      </button>
    </form>
    <table aria-label="Decisions">
      <thead><tr><th>Time</th><th>Card</th><th class="num">Amount</th><th>Method</th><th>Answer</th><th class="num">Decision ms</th><th>Decision trace</th><th>Merchant</th></tr></thead>
      <tbody>${shown.slice(0, ROWS_SHOWN_MAX).map(
        (d) => html`<tr key=${d.id}>
        <td>${new Date(d.decided_at_ms).toLocaleTimeString()}</td>
        <td>${d.card_id ? html`<a href=${`#/cards/${d.card_id}`}>${d.card_masked}</a>` : d.card_masked}</td>
        <td class="num">${money(d.amount_minor, d.currency_code)}</td>
        <td>${d.method}</td>
        <td class=${d.approved ? 'approved' : 'declined'}>${d.approved ? 'approved' : 'declined'}</td>
        <td class="num">${d.decision_ms ?? '—'}</td>
        <td>rule <strong>${d.status_name}</strong> (${d.memo})${d.decline_reason ? ` · ${d.decline_reason}` : ''}</td>
        <td>${d.merchant ?? '—'}</td>
      </tr>`,
      )}</tbody>
    </table>
  </main>`;
}

// ---------------------------------------------------------------- operations

function ReconciliationResult({ reconciliation }) {
  if (reconciliation.state === 'idle') return null;
  if (reconciliation.state === 'running') return html`<p role="status">Comparing…</p>`;
  const answer = reconciliation.answer;
  const report = answer?.body;
  if (!answer?.reachable || report === null || report === undefined)
    return html`<p class="declined" role="status">The worker did not answer (${answer?.status ?? 'unreachable'}).</p>`;
  const summary = `${report.cards_checked} cards checked at ${new Date(report.at).toLocaleTimeString()}: ${
    report.cards_with_differences === 0 ? 'no differences' : `${report.cards_with_differences} card(s) differ`
  }${report.notification_findings > 0 ? `; ${report.notification_findings} notification finding(s) (npm run reconcile lists them)` : ''}.`;
  return html`<p role="status" class=${report.cards_with_differences === 0 ? 'approved' : 'declined'}>${summary}</p>
    ${
      report.differences.length === 0
        ? null
        : html`<table aria-label="Reconciliation differences">
      <thead><tr><th>Card</th><th>Field</th><th class="num">Redis</th><th class="num">Ledger</th></tr></thead>
      <tbody>${report.differences.map(
        (d) =>
          html`<tr><td>${d.card_masked}</td><td>${d.field}</td><td class="num">${d.redis ?? '—'}</td><td class="num">${d.ledger ?? '—'}</td></tr>`,
      )}</tbody></table>`
    }`;
}

function Operations({ me }) {
  const [health, setHealth] = useState(null);
  const [queues, setQueues] = useState([]);
  const [letters, setLetters] = useState({ queue: null, data: [] });
  const [shown, setShown] = useState(null);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const [reconciliation, setReconciliation] = useState({ state: 'idle', answer: null });

  async function load() {
    setHealth((await call('GET', '/console/ops/health')).data);
    setQueues((await call('GET', '/console/ops/queues')).data?.data ?? []);
  }
  useEffect(() => {
    if (me.program_wide) load();
  }, []);
  if (!me.program_wide)
    return html`<main><h1>Operations</h1><p class="note">Operations need a program-wide API key.</p></main>`;

  async function reconcile() {
    setReconciliation({ state: 'running', answer: null });
    setReconciliation({ state: 'done', answer: (await call('GET', '/console/ops/reconcile')).data });
  }

  async function openLetters(queue) {
    setShown(null);
    setLetters({ queue, data: (await call('GET', `/console/ops/dead-letters/${queue}`)).data?.data ?? [] });
  }
  async function show(position) {
    setShown((await call('GET', `/console/ops/dead-letters/${letters.queue}/${position}`)).data);
  }
  async function replay(position) {
    if (!window.confirm(`Replay dead letter #${position} of ${letters.queue} to its work queue?`)) return;
    const answer = await call('POST', `/console/ops/dead-letters/${letters.queue}/${position}/replay`);
    if (!answer.ok) return setError(errorText(answer));
    setMessage(`Replayed ${answer.data.replayed} message to ${letters.queue}.`);
    await openLetters(letters.queue);
    await load();
  }

  const dependencyRows = (name, probe) => {
    if (!probe) return null;
    if (!probe.reachable)
      return html`<tr><td>${name}</td><td colspan="2" class="declined">unreachable: ${probe.body}</td></tr>`;
    const checks = probe.body?.checks ?? probe.body?.dependencies ?? {};
    return html`<tr><td>${name}</td><td class=${probe.status === 200 ? 'approved' : 'declined'}>${probe.body?.status ?? probe.status}</td>
      <td>${Object.entries(checks).map(([dep, c]) => html`<span>${dep}: ${typeof c === 'object' ? (c.status ?? JSON.stringify(c)) : String(c)}; </span>`)}</td></tr>`;
  };

  return html`<main>
    <h1>Operations</h1>
    <${Alert} text=${error} />
    ${message ? html`<p class="note" role="status">${message}</p>` : null}
    <div class="grid">
      <section>
        <h2>Dependency health</h2>
        <table><thead><tr><th>Process</th><th>Status</th><th>Dependencies</th></tr></thead>
          <tbody>${dependencyRows('gateway', health?.gateway)}${dependencyRows('worker', health?.worker)}</tbody></table>
      </section>
      <section>
        <h2>Queues</h2>
        <table><thead><tr><th>Queue</th><th class="num">Ready</th><th class="num">Consumers</th><th class="num">Dead letters</th><th></th></tr></thead>
          <tbody>${queues.map(
            (
              q,
            ) => html`<tr><td>${q.queue}</td><td class="num">${q.messages}</td><td class="num">${q.consumers}</td>
            <td class="num">${q.dead_letters}</td><td><button onClick=${() => openLetters(q.queue)} aria-label=${`Dead letters of ${q.queue}`}>Dead letters</button></td></tr>`,
          )}</tbody></table>
        <p><button onClick=${load}>Refresh</button></p>
      </section>
    </div>
    ${
      letters.queue === null
        ? null
        : html`<section>
      <h2>Dead letters of ${letters.queue}</h2>
      ${
        letters.data.length === 0
          ? html`<p>None.</p>`
          : html`<table>
        <thead><tr><th>#</th><th>Message id</th><th>Routing key</th><th>Attempts</th><th>Reason</th><th>Failed at</th><th></th></tr></thead>
        <tbody>${letters.data.map(
          (
            l,
          ) => html`<tr><td>${l.position}</td><td>${l.message_id ?? '—'}</td><td>${l.routing_key ?? '—'}</td>
          <td>${l.attempts ?? '—'}</td><td>${l.reason ?? '—'}</td><td>${l.failed_at ?? '—'}</td>
          <td><button onClick=${() => show(l.position)}>Show #${l.position}</button> <button class="danger" onClick=${() => replay(l.position)}>Replay #${l.position}</button></td></tr>`,
        )}</tbody>
      </table>`
      }
      ${shown ? html`<pre aria-label="Dead letter">${JSON.stringify(shown, null, 2)}</pre>` : null}
    </section>`
    }
    <section>
      <h2>Reconciliation</h2>
      <p class="note">Redis (what the gateway decides on) against the ledger (PostgreSQL, MongoDB), every card; a
        difference is shown only if it still stands 3 s later, so decisions on their way to the ledger do not count.
        <code>npm run reconcile</code> prints the same with the stand-in report, and repairs with <code>--rebuild</code>.</p>
      <p><button onClick=${reconcile} disabled=${reconciliation.state === 'running'}>Compare Redis with the ledger</button></p>
      <${ReconciliationResult} reconciliation=${reconciliation} />
    </section>
  </main>`;
}

// ---------------------------------------------------------------- shell

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/cards');
  useEffect(() => {
    const listen = () => setHash(location.hash || '#/cards');
    addEventListener('hashchange', listen);
    return () => removeEventListener('hashchange', listen);
  }, []);
  return hash;
}

function App() {
  const [me, setMe] = useState(undefined);
  const hash = useHash();
  useEffect(() => {
    call('GET', '/console/session').then((answer) => setMe(answer.ok ? answer.data : null));
  }, []);
  useEffect(() => {
    if (me) csrf_token = me.csrf_token;
  }, [me]);
  if (me === undefined) return html`<p>Loading the console…</p>`;
  if (me === null)
    return html`<${SignIn} onSignedIn=${(who) => {
      csrf_token = who.csrf_token;
      setMe(who);
    }} />`;

  async function signOut() {
    await call('DELETE', '/console/session');
    setMe(null);
  }
  const link = (href, label) =>
    html`<a href=${href} aria-current=${hash.startsWith(href) ? 'page' : undefined}>${label}</a>`;
  const card = /^#\/cards\/([^/]+)$/.exec(hash);
  return html`
    <header>
      <strong>Atlanticfrewaycard</strong>
      <nav aria-label="Console">${link('#/cards', 'Cards')}${link('#/live', 'Live decisions')}${link('#/ops', 'Operations')}</nav>
      <span>${me.program_wide ? 'program-wide' : `company ${me.company_id}`} · ${me.scopes.join(', ')}</span>
      <button onClick=${signOut}>Sign out</button>
    </header>
    ${
      card
        ? html`<${CardPage} id=${card[1]} />`
        : hash.startsWith('#/live')
          ? html`<${Live} />`
          : hash.startsWith('#/ops')
            ? html`<${Operations} me=${me} />`
            : html`<${Cards} />`
    }`;
}

render(html`<${App} />`, document.getElementById('app'));
