// The Kirisame web console: one page, no framework, no build step (docs/adr/0017). It reads and acts on the
// broker through the management API (/api/v1) with the credentials typed into its login form, and speaks MQTT
// over WebSockets itself on the WebSocket client page (the vendored mqtt.js browser bundle).
//
// Everything the broker reports (client ids, topics, payloads, user names) is untrusted text: it goes into the
// page as text nodes and attributes, never as HTML.
'use strict';

(function () {
  const API = '/api/v1';
  const STORAGE_KEY = 'kirisame.console.authorization';
  const TENANT_KEY = 'kirisame.console.tenant';
  // The API paths that answer for the tenant ?tenant= names (docs/adr/0021-tenants.md); the others are the broker's.
  const TENANT_PATHS = /^\/(overview|clients|sessions|subscriptions|retained|topics)(\/|\?|$)/;
  const ROLES = { viewer: 1, monitoring: 2, administrator: 3 };
  const SAMPLE_MS = 2000;
  const CHART_SECONDS = 300;
  const LIST_REFRESH_MS = 3000;

  const { LineChart, formatNumber } = window.KirisameCharts;

  // ---- DOM helpers -------------------------------------------------------------------------------------------

  const $ = id => document.getElementById(id);

  // h('td', { class: 'x', onclick: f }, 'text', node, [nodes]): an element; strings become text nodes.
  function h(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'value') node.value = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.firstChild.remove();
    return node;
  }

  const yesNo = value => (value ? 'yes' : 'no');
  const dash = value => (value === null || value === undefined || value === '' ? '—' : value);
  const code = text => h('code', null, text);

  function time(value) {
    if (!value) return '—';
    const date = new Date(value);
    return h('time', { datetime: date.toISOString(), title: date.toISOString() }, date.toLocaleString());
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return 'never';
    seconds = Math.round(seconds);
    const d = Math.floor(seconds / 86400), hr = Math.floor(seconds / 3600) % 24, m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    if (d) return `${d} d ${hr} h`;
    if (hr) return `${hr} h ${m} min`;
    if (m) return `${m} min ${s} s`;
    return `${s} s`;
  }

  function bytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
    return `${(n / 1024 / 1024 / 1024).toFixed(1)} GiB`;
  }

  function badge(text, kind) {
    return h('span', { class: `badge ${kind || ''}` }, text);
  }

  // ---- notices and dialogs -----------------------------------------------------------------------------------

  function notify(text, kind) {
    const notice = h('div', { class: `notice ${kind || 'info'}`, role: kind === 'error' ? 'alert' : 'status' }, text,
      h('button', { type: 'button', class: 'link close', 'aria-label': 'Dismiss', onclick: () => notice.remove() }, '×'));
    $('notices').append(notice);
    if (kind !== 'error') setTimeout(() => notice.remove(), 6000);
    return notice;
  }

  function problemText(error) {
    if (error instanceof ApiError) return error.detail ? `${error.title}: ${error.detail}` : error.title;
    return error && error.message ? error.message : String(error);
  }

  // ask({ title, text, ok, danger, input: { label, type } }): resolves to true (or the input's value), or null.
  function ask({ title, text, ok, danger, input }) {
    const dialog = $('dialog');
    $('dialog-title').textContent = title;
    $('dialog-text').textContent = text || '';
    $('dialog-ok').textContent = ok || 'OK';
    $('dialog-ok').classList.toggle('danger', !!danger);
    $('dialog-field').hidden = !input;
    const field = $('dialog-input');
    field.value = '';
    field.required = !!input;
    if (input) {
      $('dialog-label').textContent = input.label;
      field.type = input.type || 'text';
    }
    return new Promise(resolve => {
      dialog.addEventListener('close', () => {
        if (dialog.returnValue !== 'ok') resolve(null);
        else resolve(input ? field.value : true);
      }, { once: true });
      dialog.returnValue = '';
      dialog.showModal();
      (input ? field : $('dialog-ok')).focus();
    });
  }

  // ---- the API -----------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, title, detail) {
      super(detail || title);
      this.status = status;
      this.title = title;
      this.detail = detail;
    }
  }

  const session = { authorization: null, me: null };

  function headers(extra) {
    // X-Requested-With: the API then answers 401 without a challenge, so the browser shows no login dialog of
    // its own. Credentials go only as this header: 'omit' keeps any the browser remembers out of it.
    const result = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest', ...extra };
    if (session.authorization) result.Authorization = session.authorization;
    return result;
  }

  // The tenant the pages show ('' for the default one); chosen in the top bar when the broker has tenants.
  const tenancy = { current: sessionStorage.getItem(TENANT_KEY) || '' };

  function inTenant(path) {
    if (!tenancy.current || !TENANT_PATHS.test(path)) return path;
    return `${path}${path.includes('?') ? '&' : '?'}tenant=${encodeURIComponent(tenancy.current)}`;
  }

  async function request(method, path, body) {
    path = inTenant(path);
    const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }), credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (error) {
      throw new ApiError(0, 'The broker cannot be reached', `${error.message} (is it running?)`);
    }
    const text = await response.text();
    let json = null;
    if (text) {
      try { json = JSON.parse(text); } catch { json = null; }
    }
    if (!response.ok) {
      const error = new ApiError(response.status, (json && json.title) || `HTTP ${response.status}`, json && json.detail);
      if (response.status === 401 && session.me) loggedOut(error.detail || 'The credentials are no longer accepted.');
      throw error;
    }
    return json;
  }

  const api = {
    get: path => request('GET', path),
    post: (path, body) => request('POST', path, body === undefined ? {} : body),
    put: (path, body) => request('PUT', path, body),
    delete: path => request('DELETE', path),
  };

  const query = parameters => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(parameters)) if (value !== undefined && value !== null && value !== '') search.set(key, value);
    const text = search.toString();
    return text ? `?${text}` : '';
  };

  const clientPath = id => encodeURIComponent(id); // '/' as %2F: the API decodes it (README)

  const can = role => session.me && ROLES[session.me.role] >= ROLES[role];

  // A button that calls the API; disabled (with the reason) when the role does not allow it.
  function actionButton(label, role, action, attributes) {
    const allowed = can(role);
    const button = h('button', {
      type: 'button', ...attributes, disabled: !allowed,
      title: allowed ? (attributes && attributes.title) : `Needs the ${role} role`,
      onclick: async () => {
        button.disabled = true;
        try {
          await action();
        } catch (error) {
          notify(problemText(error), 'error');
        } finally {
          if (button.isConnected) button.disabled = false;
        }
      },
    }, label);
    return button;
  }

  // ---- login -------------------------------------------------------------------------------------------------

  function basic(user, password) {
    const utf8 = new TextEncoder().encode(`${user}:${password}`);
    let binary = '';
    for (const b of utf8) binary += String.fromCharCode(b);
    return `Basic ${btoa(binary)}`;
  }

  async function logIn(authorization) {
    session.authorization = authorization;
    const me = await request('GET', '/me');
    session.me = me;
    if (authorization) sessionStorage.setItem(STORAGE_KEY, authorization);
    else sessionStorage.removeItem(STORAGE_KEY);
    startApp();
  }

  function showLogin(message) {
    stopApp();
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
    ($('login-kind-token').checked ? $('login-token') : $('login-user')).focus();
  }

  function loggedOut(message) {
    session.me = null;
    session.authorization = null;
    sessionStorage.removeItem(STORAGE_KEY);
    showLogin(message);
  }

  function setUpLogin() {
    const kind = () => ($('login-kind-token').checked ? 'token' : 'password');
    for (const radio of document.querySelectorAll('input[name="login-kind"]')) {
      radio.addEventListener('change', () => {
        $('login-password-fields').hidden = kind() !== 'password';
        $('login-token-fields').hidden = kind() !== 'token';
      });
    }
    $('login-form').addEventListener('submit', async event => {
      event.preventDefault();
      const submit = $('login-submit');
      submit.disabled = true;
      $('login-error').hidden = true;
      try {
        const authorization = kind() === 'token'
          ? `Bearer ${$('login-token').value.trim()}`
          : basic($('login-user').value, $('login-password').value);
        await logIn(authorization);
        $('login-password').value = '';
        $('login-token').value = '';
      } catch (error) {
        session.authorization = null;
        showLogin(error.status === 401 ? (error.detail || 'The credentials were not accepted.') : problemText(error));
      } finally {
        submit.disabled = false;
      }
    });
    $('logout').addEventListener('click', () => {
      websocketClient.disconnect();
      loggedOut(null);
    });
  }

  // ---- the overview sampler: polls while logged in, so the charts have history when the page opens ----------

  const sampler = {
    timer: null,
    last: null,          // the last overview
    previous: null,      // { time, received, sent, dropped } of the sample before
    listeners: new Set(),
    history: [],         // { time, inRate, outRate, connections, dropRate }

    start() {
      if (this.timer) return;
      const tick = async () => {
        try {
          await this.take();
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 401)) this.listeners.forEach(l => l.error && l.error(error));
        }
      };
      tick();
      this.timer = setInterval(tick, SAMPLE_MS);
    },

    stop() {
      clearInterval(this.timer);
      this.timer = null;
      this.forget();
    },

    // Another tenant chosen: its totals are not the last ones', so neither a rate nor the charts go across.
    forget() {
      this.last = null;
      this.previous = null;
      this.history = [];
    },

    async take() {
      const tenant = tenancy.current;
      const overview = await api.get('/overview');
      if (tenant !== tenancy.current) return; // asked before another tenant was chosen
      const now = Date.now();
      const totals = { time: now, received: overview.messages.received, sent: overview.messages.sent, dropped: overview.messages.dropped };
      let sample;
      if (this.previous && now > this.previous.time) {
        const seconds = (now - this.previous.time) / 1000;
        const rate = (a, b) => Math.max(0, (a - b) / seconds);
        sample = {
          time: now,
          inRate: rate(totals.received, this.previous.received),
          outRate: rate(totals.sent, this.previous.sent),
          dropRate: rate(totals.dropped, this.previous.dropped),
          connections: overview.connections.connected,
        };
      } else {
        // The first reading: the broker's own average over the last minute.
        sample = {
          time: now, inRate: overview.rates.receivedPerSecond, outRate: overview.rates.sentPerSecond,
          dropRate: overview.rates.droppedPerSecond, connections: overview.connections.connected,
        };
      }
      this.previous = totals;
      this.last = overview;
      this.history.push(sample);
      while (this.history.length > 1 && this.history[0].time < now - CHART_SECONDS * 1000) this.history.shift();
      $('node').textContent = `${overview.node} · ${overview.version} · up ${duration(overview.uptimeSeconds)}`;
      this.listeners.forEach(l => l.sample(overview, sample));
    },
  };

  // ---- pages -------------------------------------------------------------------------------------------------

  const pages = [
    { name: 'overview', title: 'Overview', render: renderOverview },
    { name: 'clients', title: 'Clients', render: renderClients },
    { name: 'sessions', title: 'Sessions', render: renderSessions },
    { name: 'subscriptions', title: 'Subscriptions', render: renderSubscriptions },
    { name: 'topics', title: 'Topic tree', render: renderTopics },
    { name: 'retained', title: 'Retained messages', render: renderRetained },
    { name: 'listeners', title: 'Listeners', render: renderListeners },
    { name: 'users', title: 'Users', render: renderUsers },
    { name: 'bans', title: 'Bans', render: renderBans },
    { name: 'websocket', title: 'WebSocket client', render: renderWebSocket },
  ];

  let current = { name: null, dispose: null };

  function route() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [name, search] = hash.split('?');
    const page = pages.find(p => p.name === name) || pages[0];
    const parameters = new URLSearchParams(search || '');
    if (current.dispose) current.dispose();
    current = { name: page.name, dispose: null };
    for (const link of $('nav').querySelectorAll('a')) link.classList.toggle('active', link.dataset.page === page.name);
    clear($('notices'));
    const container = clear($('page'));
    container.dataset.page = page.name;
    document.title = `${page.title} · Kirisame console`;
    const disposers = [];
    const context = { parameters, onDispose: f => disposers.push(f) };
    current.dispose = () => disposers.forEach(f => f());
    page.render(container, context);
  }

  function go(name, parameters) {
    location.hash = `#/${name}${query(parameters || {})}`;
  }

  function startApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    const me = session.me;
    clear($('who')).append(
      me.authentication === 'anonymous' ? badge('open: no admin users configured', 'warn') : h('span', { class: 'user' }, me.name),
      ' ', badge(me.role, 'role'));
    $('logout').hidden = me.authentication === 'anonymous';
    const nav = clear($('nav'));
    for (const page of pages) nav.append(h('a', { href: `#/${page.name}`, dataset: { page: page.name } }, page.title));
    sampler.start();
    route();
    showTenants();
  }

  // The tenant selector: shown when the broker has tenants besides the default one; a choice redraws the page.
  async function showTenants() {
    let tenants;
    try {
      tenants = await api.get('/tenants');
    } catch {
      tenants = [];
    }
    const names = tenants.map(t => t.name);
    if (tenancy.current && !names.includes(tenancy.current)) chooseTenant('');
    const select = clear($('tenant'));
    for (const name of names) select.append(h('option', { value: name === 'default' ? '' : name }, name));
    select.value = tenancy.current;
    $('tenant-picker').hidden = names.length < 2;
  }

  function chooseTenant(name) {
    if (name !== tenancy.current) sampler.forget();
    tenancy.current = name;
    if (name) sessionStorage.setItem(TENANT_KEY, name);
    else sessionStorage.removeItem(TENANT_KEY);
  }

  function setUpTenantPicker() {
    $('tenant').addEventListener('change', () => {
      chooseTenant($('tenant').value);
      if (session.me) route();
    });
  }

  function stopApp() {
    sampler.stop();
    if (current.dispose) current.dispose();
    current = { name: null, dispose: null };
  }

  function pageHeader(title, ...extra) {
    return h('div', { class: 'page-header' }, h('h1', null, title), h('div', { class: 'spacer' }), extra);
  }

  // A table whose rows come from load(); refreshed every few seconds, redrawn only when the data changed (so a
  // row under the pointer stays put). columns: [{ title, value: item => node|text, class }].
  function liveTable(context, { load, columns, key, empty, rowAttributes }) {
    const status = h('div', { class: 'table-status muted' });
    const body = h('tbody');
    const table = h('table', { class: 'grid' }, h('thead', null, h('tr', null, columns.map(c => h('th', { class: c.class }, c.title)))), body);
    const element = h('div', { class: 'table-wrap' }, table, status);
    let lastJson = null;
    let stopped = false;

    async function refresh(force) {
      let page;
      try {
        page = await load();
      } catch (error) {
        status.textContent = problemText(error);
        status.classList.add('error');
        return;
      }
      if (stopped) return;
      status.classList.remove('error');
      const items = Array.isArray(page) ? page : page.items;
      const total = Array.isArray(page) ? page.length : page.total;
      status.textContent = items.length === 0 ? empty : total > items.length ? `${items.length} of ${total} shown` : `${total} in all`;
      const json = JSON.stringify(items) + (session.me && session.me.role);
      if (!force && json === lastJson) return;
      lastJson = json;
      clear(body);
      for (const item of items) {
        const row = h('tr', { dataset: { key: key(item) }, ...(rowAttributes ? rowAttributes(item) : {}) },
          columns.map(c => h('td', { class: c.class }, c.value(item))));
        body.append(row);
      }
    }

    const timer = setInterval(() => refresh(false), LIST_REFRESH_MS);
    context.onDispose(() => { stopped = true; clearInterval(timer); });
    refresh(true);
    return { element, refresh: () => refresh(true) };
  }

  // A row of filter inputs; onChange gets their values (debounced).
  function filterBar(fields, onChange) {
    const inputs = {};
    let timer = null;
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => onChange(Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value]))), 250);
    };
    const bar = h('div', { class: 'filters' }, fields.map(f => {
      const input = f.options
        ? h('select', { name: f.name, onchange: changed }, f.options.map(([value, text]) => h('option', { value }, text)))
        : h('input', { name: f.name, placeholder: f.placeholder, value: f.value || '', oninput: changed, spellcheck: 'false' });
      inputs[f.name] = input;
      return h('label', { class: 'field inline' }, f.label, ' ', input);
    }));
    return { element: bar, values: () => Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value])) };
  }

  // ---- overview ----------------------------------------------------------------------------------------------

  function renderOverview(container, context) {
    const stat = (label, id) => h('div', { class: 'stat card' }, h('div', { class: 'stat-value', id }, '…'), h('div', { class: 'stat-label' }, label));
    const chartCard = (title, legend) => {
      const body = h('div', { class: 'chart' });
      const card = h('section', { class: 'card chart-card' }, h('div', { class: 'chart-title' }, h('h2', null, title),
        h('div', { class: 'legend' }, legend.map(([name, cls]) => h('span', { class: `legend-item ${cls}` }, name)))), body);
      return { card, body };
    };
    const messages = chartCard('Messages per second', [['in', 'series-in'], ['out', 'series-out']]);
    const connections = chartCard('Connections', [['connected clients', 'series-connections']]);
    const drops = chartCard('Drops per second', [['dropped', 'series-drops']]);
    const dropsTable = h('tbody');
    const listenersTable = h('tbody');
    const error = h('p', { class: 'error', hidden: true });

    container.append(
      pageHeader(tenancy.current ? `Overview · tenant ${tenancy.current}` : 'Overview'),
      error,
      h('div', { class: 'stats' },
        stat('connected clients', 'stat-connected'), stat('sessions', 'stat-sessions'), stat('subscriptions', 'stat-subscriptions'),
        stat('retained messages', 'stat-retained'), stat('messages in', 'stat-received'), stat('messages out', 'stat-sent'),
        stat('dropped', 'stat-dropped'), stat('store', 'stat-store')),
      h('div', { class: 'charts' }, messages.card, connections.card, drops.card),
      h('div', { class: 'columns' },
        h('section', { class: 'card' }, h('h2', null, 'Drops by reason'),
          h('table', { class: 'grid compact' }, h('thead', null, h('tr', null, h('th', null, 'reason'), h('th', { class: 'num' }, 'messages'))), dropsTable)),
        h('section', { class: 'card' }, h('h2', null, 'Listeners'),
          h('table', { class: 'grid compact' }, h('thead', null, h('tr', null, h('th', null, 'name'), h('th', null, 'protocol'), h('th', null, 'address'))), listenersTable))));

    const charts = [
      [new LineChart(messages.body, { series: [{ name: 'in', className: 'series-in' }, { name: 'out', className: 'series-out' }], windowSeconds: CHART_SECONDS }),
        s => [s.inRate, s.outRate]],
      [new LineChart(connections.body, { series: [{ name: 'connected', className: 'series-connections' }], windowSeconds: CHART_SECONDS }),
        s => [s.connections]],
      [new LineChart(drops.body, { series: [{ name: 'dropped', className: 'series-drops' }], windowSeconds: CHART_SECONDS }),
        s => [s.dropRate]],
    ];
    for (const sample of sampler.history) for (const [chart, values] of charts) chart.points.push({ time: sample.time, values: values(sample) });
    for (const [chart] of charts) chart.draw();

    const set = (id, text) => { const node = $(id); if (node) node.textContent = text; };
    const show = overview => {
      error.hidden = true;
      set('stat-connected', formatNumber(overview.connections.connected));
      set('stat-sessions', formatNumber(overview.sessions));
      set('stat-subscriptions', formatNumber(overview.subscriptions));
      set('stat-retained', formatNumber(overview.retainedMessages));
      set('stat-received', formatNumber(overview.messages.received));
      set('stat-sent', formatNumber(overview.messages.sent));
      set('stat-dropped', formatNumber(overview.messages.dropped));
      set('stat-store', overview.storeHealthy ? 'healthy' : 'failing');
      $('stat-store').classList.toggle('bad', !overview.storeHealthy);
      const reasons = Object.entries(overview.drops).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
      clear(dropsTable).append(...(reasons.length
        ? reasons.map(([reason, n]) => h('tr', null, h('td', null, code(reason)), h('td', { class: 'num' }, formatNumber(n))))
        : [h('tr', null, h('td', { colspan: 2, class: 'muted' }, 'No message has been dropped.'))]));
      clear(listenersTable).append(...overview.listeners.map(l => h('tr', null, h('td', null, l.name), h('td', null, l.protocol), h('td', null, code(l.endPoint)))));
    };
    if (sampler.last) show(sampler.last);
    const listener = {
      sample: (overview, sample) => {
        show(overview);
        for (const [chart, values] of charts) chart.push(sample.time, values(sample));
      },
      error: e => { error.hidden = false; error.textContent = problemText(e); },
    };
    sampler.listeners.add(listener);
    context.onDispose(() => sampler.listeners.delete(listener));
  }

  // ---- clients -----------------------------------------------------------------------------------------------

  function renderClients(container, context) {
    let filters = { id: context.parameters.get('id') || '', connected: '' };
    const bar = filterBar([
      { name: 'id', label: 'Client id', placeholder: 'part of it', value: filters.id },
      { name: 'connected', label: 'State', options: [['', 'all'], ['true', 'connected'], ['false', 'offline']] },
    ], values => { filters = values; table.refresh(); });
    const table = liveTable(context, {
      load: () => api.get('/clients' + query({ id: filters.id, connected: filters.connected, limit: 500 })),
      key: c => c.clientId,
      empty: 'No client holds a session.',
      columns: [
        { title: 'client id', value: c => h('a', { href: `#/sessions?id=${encodeURIComponent(c.clientId)}`, class: 'mono' }, c.clientId) },
        { title: 'state', value: c => (c.connected ? badge('connected', 'ok') : badge('offline', 'muted')) },
        { title: 'address', value: c => dash(c.address) },
        { title: 'listener', value: c => dash(c.listener) },
        { title: 'MQTT', value: c => dash(c.protocolVersion) },
        { title: 'user', value: c => dash(c.userName) },
        { title: 'connected since', value: c => time(c.connectedSince) },
        { title: 'keep alive', class: 'num', value: c => (c.connected ? `${c.keepAlive} s` : '—') },
        {
          title: '', class: 'actions', value: c => c.connected && actionButton('Disconnect', 'administrator', async () => {
            if (!await ask({ title: `Disconnect ${c.clientId}?`, text: 'MQTT 5 clients get DISCONNECT 0x98 (administrative action); its will is published. A persistent session stays.', ok: 'Disconnect', danger: true })) return;
            await api.post(`/clients/${clientPath(c.clientId)}/disconnect`);
            notify(`${c.clientId} was disconnected.`, 'ok');
            await table.refresh();
          }, { class: 'danger', dataset: { action: 'disconnect' } }),
        },
      ],
    });
    container.append(pageHeader('Clients'), bar.element, table.element);
  }

  // ---- sessions ----------------------------------------------------------------------------------------------

  function renderSessions(container, context) {
    let filters = { id: context.parameters.get('id') || '', connected: '' };
    const bar = filterBar([
      { name: 'id', label: 'Client id', placeholder: 'part of it', value: filters.id },
      { name: 'connected', label: 'State', options: [['', 'all'], ['true', 'connected'], ['false', 'offline']] },
    ], values => { filters = values; table.refresh(); });
    const drops = d => {
      const entries = Object.entries(d).filter(([, n]) => n > 0);
      return entries.length ? entries.map(([r, n]) => badge(`${r} ${n}`, 'warn')) : '—';
    };
    const table = liveTable(context, {
      load: () => api.get('/sessions' + query({ id: filters.id, connected: filters.connected, limit: 500 })),
      key: s => s.clientId,
      empty: 'No sessions.',
      columns: [
        { title: 'client id', value: s => h('span', { class: 'mono' }, s.clientId) },
        { title: 'state', value: s => (s.connected ? badge('connected', 'ok') : badge('offline', 'muted')) },
        { title: 'subscriptions', class: 'num', value: s => h('a', { href: `#/subscriptions?clientId=${encodeURIComponent(s.clientId)}` }, String(s.subscriptionCount)) },
        { title: 'queued', class: 'num', value: s => `${s.pendingMessages} (${bytes(s.pendingBytes)})` },
        { title: 'in flight', class: 'num', value: s => String(s.inflightMessages) },
        { title: 'expires', value: s => (s.expiryInterval === null ? 'never' : s.expiryInterval === 0 ? 'on disconnect' : `${duration(s.expiryInterval)} after disconnect`) },
        { title: 'expires at', value: s => time(s.expiresAt) },
        { title: 'drops', value: s => drops(s.drops) },
        {
          title: '', class: 'actions', value: s => actionButton('Delete', 'administrator', async () => {
            if (!await ask({ title: `Delete the session of ${s.clientId}?`, text: 'Its client is disconnected; its subscriptions and queued messages are deleted.', ok: 'Delete', danger: true })) return;
            await api.delete(`/sessions/${clientPath(s.clientId)}`);
            notify(`The session of ${s.clientId} was deleted.`, 'ok');
            await table.refresh();
          }, { class: 'danger', dataset: { action: 'delete-session' } }),
        },
      ],
    });
    container.append(pageHeader('Sessions'), bar.element, table.element);
  }

  // ---- subscriptions -----------------------------------------------------------------------------------------

  function renderSubscriptions(container, context) {
    let filters = { clientId: context.parameters.get('clientId') || '', filter: context.parameters.get('filter') || '' };
    const bar = filterBar([
      { name: 'clientId', label: 'Client id', placeholder: 'part of it', value: filters.clientId },
      { name: 'filter', label: 'Filter', placeholder: 'exact, e.g. sensors/#', value: filters.filter },
    ], values => { filters = values; table.refresh(); });
    const table = liveTable(context, {
      load: () => api.get('/subscriptions' + query({ clientId: filters.clientId, filter: filters.filter, limit: 1000 })),
      key: s => JSON.stringify([s.clientId, s.filter]),
      rowAttributes: s => ({ dataset: { clientId: s.clientId, filter: s.filter } }),
      empty: 'No subscriptions.',
      columns: [
        { title: 'client id', value: s => h('span', { class: 'mono' }, s.clientId) },
        { title: 'filter', value: s => h('span', { class: 'mono' }, s.filter) },
        { title: 'shared', value: s => dash(s.shareName) },
        { title: 'QoS', class: 'num', value: s => String(s.qos) },
        { title: 'no local', value: s => yesNo(s.noLocal) },
        { title: 'retain as published', value: s => yesNo(s.retainAsPublished) },
        { title: 'retain handling', class: 'num', value: s => String(s.retainHandling) },
        { title: 'id', class: 'num', value: s => dash(s.subscriptionIdentifier) },
        {
          title: '', class: 'actions', value: s => actionButton('Remove', 'administrator', async () => {
            if (!await ask({ title: `Remove ${s.filter}?`, text: `The session of ${s.clientId} stops receiving messages for it.`, ok: 'Remove', danger: true })) return;
            await api.delete(`/sessions/${clientPath(s.clientId)}/subscriptions${query({ filter: s.filter })}`);
            notify(`${s.clientId} is no longer subscribed to ${s.filter}.`, 'ok');
            await table.refresh();
          }, { class: 'danger', dataset: { action: 'unsubscribe' } }),
        },
      ],
    });

    const add = h('form', { class: 'card inline-form', id: 'add-subscription' },
      h('h2', null, 'Add a subscription to a session'),
      h('label', { class: 'field inline' }, 'Client id ', h('input', { name: 'clientId', required: true, spellcheck: 'false' })),
      h('label', { class: 'field inline' }, 'Filter ', h('input', { name: 'filter', required: true, placeholder: 'alerts/#', spellcheck: 'false' })),
      h('label', { class: 'field inline' }, 'QoS ', h('select', { name: 'qos' }, ['0', '1', '2'].map(q => h('option', { value: q }, q)))),
      h('button', { type: 'submit', disabled: !can('administrator'), title: can('administrator') ? null : 'Needs the administrator role' }, 'Subscribe'));
    add.addEventListener('submit', async event => {
      event.preventDefault();
      const form = new FormData(add);
      try {
        const result = await api.post(`/sessions/${clientPath(form.get('clientId'))}/subscriptions`, { filter: form.get('filter'), qos: Number(form.get('qos')) });
        notify(`${result.clientId} subscribed to ${result.filter} (QoS ${result.grantedQos} granted).`, 'ok');
        await table.refresh();
      } catch (error) {
        notify(problemText(error), 'error');
      }
    });
    container.append(pageHeader('Subscriptions'), bar.element, table.element, add);
  }

  // ---- topic tree --------------------------------------------------------------------------------------------

  function rate(perSecond) {
    return perSecond >= 100 ? Math.round(perSecond).toLocaleString() : perSecond.toLocaleString(undefined, { maximumFractionDigits: 1 });
  }

  function renderTopics(container) {
    const tree = h('ul', { class: 'tree', role: 'tree' });
    const status = h('p', { class: 'muted' });

    async function loadLevel(parent, list) {
      // parent '' is the empty top level (topics such as "/a"): sent as "parent=", which query() would leave out.
      const page = await api.get(`/topics?limit=1000${parent === null ? '' : `&parent=${encodeURIComponent(parent)}`}`);
      clear(list);
      if (page.items.length === 0 && parent === null) status.textContent = 'No retained messages, subscriptions or recent messages yet: the tree is made of those.';
      for (const node of page.items) list.append(treeNode(node));
      if (page.total > page.items.length) list.append(h('li', { class: 'muted' }, `… and ${page.total - page.items.length} more`));
    }

    function treeNode(node) {
      const children = h('ul', { role: 'group', hidden: true });
      let loaded = false;
      const twisty = h('button', { type: 'button', class: 'twisty', 'aria-label': `Expand ${node.topic}`, hidden: node.children === 0 }, '▸');
      twisty.addEventListener('click', async () => {
        const open = children.hidden;
        children.hidden = !open;
        twisty.textContent = open ? '▾' : '▸';
        if (open && !loaded) {
          loaded = true;
          try { await loadLevel(node.topic, children); } catch (error) { loaded = false; notify(problemText(error), 'error'); }
        }
      });
      const label = node.level === '' ? h('span', { class: 'muted' }, '(empty level)') : node.level;
      return h('li', { role: 'treeitem', dataset: { topic: node.topic } },
        h('div', { class: 'tree-row' }, node.children === 0 ? h('span', { class: 'twisty-space' }) : twisty,
          h('span', { class: 'mono level' }, label),
          node.retained ? h('a', { class: 'badge ok', href: `#/retained?topic=${encodeURIComponent(node.topic)}` }, 'retained') : null,
          node.subscriptions ? h('a', { class: 'badge info', href: `#/subscriptions?filter=${encodeURIComponent(node.topic)}` }, `${node.subscriptions} subscribed`) : null,
          node.messagesPerSecond ? h('span', { class: 'badge', title: 'messages per second published to this topic (last 10 s)' }, `${rate(node.messagesPerSecond)}/s`) : null,
          node.children ? h('span', { class: 'muted small' }, `${node.retainedInSubtree} retained, ${node.subscriptionsInSubtree} subscriptions, ${rate(node.messagesPerSecondInSubtree)} msg/s below`) : null),
        children);
    }

    container.append(pageHeader('Topic tree', h('button', { type: 'button', onclick: () => reload() }, 'Refresh')),
      h('p', { class: 'muted' }, 'Made of the topics that hold a retained message, the filters that sessions subscribe to and the topics published to in the last 10 seconds, with their rates (counted, or sampled under heavy load).'),
      status, tree);
    const reload = () => loadLevel(null, tree).catch(error => { status.textContent = problemText(error); });
    reload();
  }

  // ---- retained messages -------------------------------------------------------------------------------------

  function renderRetained(container, context) {
    let filter = context.parameters.get('filter') || '#';
    let selected = context.parameters.get('topic');
    const detail = h('section', { class: 'card detail', id: 'retained-detail' });
    const bar = filterBar([{ name: 'filter', label: 'Topic filter', value: filter, placeholder: '#' }], values => {
      filter = values.filter || '#';
      table.refresh();
    });
    const table = liveTable(context, {
      load: () => api.get('/retained' + query({ filter, limit: 1000 })),
      key: r => r.topic,
      empty: 'No retained message matches.',
      rowAttributes: r => ({ class: r.topic === selected ? 'selected clickable' : 'clickable', onclick: () => select(r.topic) }),
      columns: [
        { title: 'topic', class: 'nowrap', value: r => h('span', { class: 'mono' }, r.topic) },
        { title: 'QoS', class: 'num', value: r => String(r.qos) },
        { title: 'size', class: 'num', value: r => bytes(r.payloadBytes) },
        { title: 'expires in', class: 'nowrap', value: r => (r.messageExpiryInterval === null ? 'never' : duration(r.messageExpiryInterval)) },
        { title: 'published by', class: 'truncate', value: r => h('span', { title: r.publisherClientId }, dash(r.publisherClientId)) },
      ],
    });

    async function select(topic) {
      selected = topic;
      for (const row of table.element.querySelectorAll('tbody tr')) row.classList.toggle('selected', row.dataset.key === topic);
      clear(detail).append(h('p', { class: 'muted' }, 'Loading…'));
      let message;
      try {
        message = await api.get('/retained/message' + query({ topic }));
      } catch (error) {
        clear(detail).append(h('p', { class: 'error' }, problemText(error)));
        return;
      }
      if (selected !== topic) return;
      const asText = message.payload !== null && message.payload !== undefined;
      clear(detail).append(
        h('h2', null, 'Retained message'),
        h('dl', { class: 'facts' },
          h('dt', null, 'topic'), h('dd', { class: 'mono', id: 'retained-topic' }, message.topic),
          h('dt', null, 'QoS'), h('dd', null, String(message.qos)),
          h('dt', null, 'size'), h('dd', null, bytes(message.payloadBytes)),
          h('dt', null, 'expires in'), h('dd', null, message.messageExpiryInterval === null ? 'never' : duration(message.messageExpiryInterval)),
          h('dt', null, 'published by'), h('dd', null, dash(message.publisherClientId))),
        h('h3', null, asText ? 'Payload (UTF-8)' : 'Payload (base64: not UTF-8 text)'),
        h('pre', { class: 'payload', id: 'retained-payload' }, asText ? message.payload : message.payloadBase64),
        h('div', { class: 'buttons' }, actionButton('Delete', 'administrator', async () => {
          if (!await ask({ title: `Delete the retained message of ${topic}?`, text: 'New subscribers will no longer receive it, as after a retained PUBLISH with an empty payload.', ok: 'Delete', danger: true })) return;
          await api.delete('/retained/message' + query({ topic }));
          notify(`The retained message of ${topic} was deleted.`, 'ok');
          selected = null;
          clear(detail).append(h('p', { class: 'muted' }, 'Select a message to see its payload.'));
          await table.refresh();
        }, { class: 'danger', id: 'retained-delete' })));
    }

    container.append(pageHeader('Retained messages'), bar.element,
      h('div', { class: 'split' }, table.element, detail));
    if (selected) select(selected);
    else detail.append(h('p', { class: 'muted' }, 'Select a message to see its payload.'));
  }

  // ---- listeners ---------------------------------------------------------------------------------------------

  function webSocketUrl(listener) {
    // "127.0.0.1:8080/mqtt" or "[::]:8080/mqtt": a wildcard address is reached by the page's own host name.
    const match = /^(\[[^\]]+\]|[^:/]+):(\d+)(\/.*)?$/.exec(listener.endPoint);
    if (!match) return null;
    let host = match[1];
    if (host === '0.0.0.0' || host === '[::]') host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
    return `${listener.protocol === 'wss' ? 'wss' : 'ws'}://${host}:${match[2]}${match[3] || '/mqtt'}`;
  }

  function renderListeners(container, context) {
    const table = liveTable(context, {
      load: () => api.get('/listeners'),
      key: l => l.name,
      empty: 'No MQTT listener.',
      columns: [
        { title: 'name', value: l => l.name },
        { title: 'protocol', value: l => l.protocol },
        { title: 'address', value: l => code(l.endPoint) },
        {
          title: '', class: 'actions', value: l => ((l.protocol === 'ws' || l.protocol === 'wss') && webSocketUrl(l)
            ? h('a', { href: `#/websocket${query({ url: webSocketUrl(l) })}` }, 'Open in the WebSocket client') : null),
        },
      ],
    });
    container.append(pageHeader('Listeners'), table.element,
      h('p', { class: 'muted' }, 'Listeners are set in the configuration (Listeners:NAME); changing them needs a restart.'));
  }

  // ---- users -------------------------------------------------------------------------------------------------

  function renderUsers(container, context) {
    const table = liveTable(context, {
      load: () => api.get('/security/users'),
      key: u => u,
      empty: 'The password file has no users.',
      columns: [
        { title: 'user', value: u => h('span', { class: 'mono' }, u) },
        {
          title: '', class: 'actions', value: u => [
            actionButton('Change password', 'administrator', async () => {
              const password = await ask({ title: `New password for ${u}`, ok: 'Change', input: { label: 'Password', type: 'password' } });
              if (!password) return;
              await api.put(`/security/users/${encodeURIComponent(u)}/password`, { password });
              notify(`The password of ${u} was changed.`, 'ok');
            }),
            ' ',
            actionButton('Delete', 'administrator', async () => {
              if (!await ask({ title: `Delete user ${u}?`, text: 'Clients connected as this user stay connected; they cannot log in again.', ok: 'Delete', danger: true })) return;
              await api.delete(`/security/users/${encodeURIComponent(u)}`);
              notify(`User ${u} was deleted.`, 'ok');
              await table.refresh();
            }, { class: 'danger' }),
          ],
        },
      ],
    });
    const add = h('form', { class: 'card inline-form', id: 'add-user' },
      h('h2', null, 'Add a user'),
      h('label', { class: 'field inline' }, 'User ', h('input', { name: 'userName', required: true, autocomplete: 'off', spellcheck: 'false' })),
      h('label', { class: 'field inline' }, 'Password ', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' })),
      h('button', { type: 'submit', disabled: !can('administrator'), title: can('administrator') ? null : 'Needs the administrator role' }, 'Add'));
    add.addEventListener('submit', async event => {
      event.preventDefault();
      const form = new FormData(add);
      try {
        await api.post('/security/users', { userName: form.get('userName'), password: form.get('password') });
        notify(`User ${form.get('userName')} can log in within a second.`, 'ok');
        add.reset();
        await table.refresh();
      } catch (error) {
        notify(problemText(error), 'error');
      }
    });
    container.append(pageHeader('Users'),
      h('p', { class: 'muted' }, 'The MQTT clients\' password file (Security:PasswordFile). Admin users of this console are in Management:PasswordFile.'),
      table.element, add);
  }

  // ---- bans --------------------------------------------------------------------------------------------------

  function renderBans(container, context) {
    const table = liveTable(context, {
      load: () => api.get('/security/bans'),
      key: b => (b.tenant === 'default' ? b.address : `${b.tenant}/${b.address}`),
      empty: 'No address is banned.',
      columns: [
        { title: 'address', value: b => h('span', { class: 'mono' }, b.address) },
        { title: 'tenant', value: b => b.tenant },
        { title: 'banned until', value: b => time(b.until) },
        {
          title: '', class: 'actions', value: b => actionButton('Lift', 'administrator', async () => {
            await api.delete(`/security/bans/${encodeURIComponent(b.address)}?tenant=${encodeURIComponent(b.tenant)}`);
            notify(`The ban of ${b.address} was lifted.`, 'ok');
            await table.refresh();
          }, { dataset: { action: 'lift' } }),
        },
      ],
    });
    container.append(pageHeader('Bans'),
      h('p', { class: 'muted' }, 'Addresses banned after too many failed MQTT logins (Security:MaxFailedLogins within FailedLoginWindow).'),
      table.element);
  }

  // ---- WebSocket client --------------------------------------------------------------------------------------

  // The MQTT client lives outside the page, so that it stays connected while other pages are open.
  const websocketClient = {
    client: null,
    state: 'disconnected', // connecting, connected, disconnected
    error: null,
    subscriptions: [],     // { filter, qos }
    messages: [],          // { time, topic, payload, qos, retain }
    views: new Set(),

    changed() { this.views.forEach(v => v()); },

    loadLibrary() {
      if (window.mqtt) return Promise.resolve(window.mqtt);
      return new Promise((resolve, reject) => {
        const script = h('script', { src: 'vendor/mqtt.min.js' });
        script.addEventListener('load', () => resolve(window.mqtt));
        script.addEventListener('error', () => reject(new Error('vendor/mqtt.min.js could not be loaded')));
        document.head.append(script);
      });
    },

    async connect(settings) {
      this.disconnect();
      const mqtt = await this.loadLibrary();
      this.error = null;
      this.state = 'connecting';
      this.subscriptions = [];
      this.changed();
      const client = mqtt.connect(settings.url, {
        clientId: settings.clientId,
        username: settings.username || undefined,
        password: settings.password || undefined,
        clean: settings.clean,
        keepalive: settings.keepAlive,
        protocolVersion: settings.protocolVersion,
        reconnectPeriod: 0,
        connectTimeout: 10000,
      });
      this.client = client;
      client.on('connect', () => { if (this.client === client) { this.state = 'connected'; this.error = null; this.changed(); } });
      client.on('error', error => { if (this.client === client) { this.error = error.message; this.changed(); } });
      client.on('close', () => { if (this.client === client) { this.state = 'disconnected'; this.changed(); } });
      client.on('message', (topic, payload, packet) => {
        if (this.client !== client) return;
        this.messages.unshift({ time: new Date(), topic, payload: new Uint8Array(payload), qos: packet.qos, retain: packet.retain });
        if (this.messages.length > 500) this.messages.length = 500;
        this.changed();
      });
    },

    disconnect() {
      const client = this.client;
      this.client = null;
      if (client) client.end(true);
      if (this.state !== 'disconnected') { this.state = 'disconnected'; this.changed(); }
    },

    subscribe(filter, qos) {
      return new Promise((resolve, reject) => {
        this.client.subscribe(filter, { qos }, (error, granted) => {
          if (error) return reject(error);
          const code = granted && granted[0] ? granted[0].qos : qos;
          if (code >= 128) return reject(new Error(`The broker refused the subscription to ${filter} (reason 0x${code.toString(16)}).`));
          this.subscriptions = this.subscriptions.filter(s => s.filter !== filter).concat([{ filter, qos: code }]);
          this.changed();
          resolve(code);
        });
      });
    },

    unsubscribe(filter) {
      return new Promise((resolve, reject) => {
        this.client.unsubscribe(filter, error => {
          if (error) return reject(error);
          this.subscriptions = this.subscriptions.filter(s => s.filter !== filter);
          this.changed();
          resolve();
        });
      });
    },

    publish(topic, payload, qos, retain) {
      return new Promise((resolve, reject) => {
        this.client.publish(topic, payload, { qos, retain }, error => (error ? reject(error) : resolve()));
      });
    },
  };

  function payloadText(bytes) {
    try {
      return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), binary: false };
    } catch {
      return { text: Array.from(bytes, b => b.toString(16).padStart(2, '0')).join(' '), binary: true };
    }
  }

  async function defaultWebSocketUrl() {
    try {
      const listeners = await api.get('/listeners');
      const wanted = location.protocol === 'https:' ? ['wss', 'ws'] : ['ws', 'wss'];
      for (const protocol of wanted) {
        const listener = listeners.find(l => l.protocol === protocol);
        if (listener) return webSocketUrl(listener);
      }
    } catch {
      // the field stays editable
    }
    return `ws://${location.hostname}:8080/mqtt`;
  }

  function renderWebSocket(container, context) {
    const ws = websocketClient;
    const input = (name, attributes) => h('input', { name, id: `ws-${name}`, spellcheck: 'false', ...attributes });
    const randomId = () => `kirisame-console-${Math.random().toString(36).slice(2, 10)}`;

    const url = input('url', { required: true, placeholder: 'ws://127.0.0.1:8080/mqtt' });
    const clientId = input('client-id', { value: randomId() });
    const username = input('username', { autocomplete: 'off' });
    const password = input('password', { type: 'password', autocomplete: 'off' });
    const keepAlive = input('keep-alive', { type: 'number', min: 0, max: 65535, value: '60' });
    const version = h('select', { id: 'ws-version' }, h('option', { value: '4' }, '3.1.1'), h('option', { value: '5' }, '5.0'));
    const clean = h('input', { type: 'checkbox', id: 'ws-clean', checked: true });
    const stateBadge = h('span', { id: 'ws-state' });
    const connectButton = h('button', { type: 'submit', class: 'primary', id: 'ws-connect' }, 'Connect');
    const disconnectButton = h('button', { type: 'button', id: 'ws-disconnect', onclick: () => ws.disconnect() }, 'Disconnect');
    const errorLine = h('p', { class: 'error', id: 'ws-error', hidden: true });

    const connectForm = h('form', { class: 'card', id: 'ws-connection' },
      h('div', { class: 'page-header' }, h('h2', null, 'Connection ', stateBadge), h('div', { class: 'spacer' }), connectButton, disconnectButton),
      h('div', { class: 'connection-grid' },
        h('label', { class: 'field url' }, 'URL ', url),
        h('label', { class: 'field' }, 'Client id ', clientId),
        h('label', { class: 'field' }, 'MQTT ', version),
        h('label', { class: 'field' }, 'User ', username),
        h('label', { class: 'field' }, 'Password ', password),
        h('label', { class: 'field' }, 'Keep alive (s) ', keepAlive),
        h('label', { class: 'field checkbox' }, clean, ' Clean start')),
      errorLine);
    connectForm.addEventListener('submit', async event => {
      event.preventDefault();
      try {
        await ws.connect({
          url: url.value.trim(), clientId: clientId.value, username: username.value, password: password.value,
          keepAlive: Number(keepAlive.value) || 0, protocolVersion: Number(version.value), clean: clean.checked,
        });
      } catch (error) {
        ws.error = error.message;
        ws.state = 'disconnected';
        ws.changed();
      }
    });

    const subscribeFilter = input('subscribe-topic', { required: true, placeholder: 'sensors/#' });
    const subscribeQos = h('select', { id: 'ws-subscribe-qos' }, ['0', '1', '2'].map(q => h('option', { value: q }, q)));
    const subscriptionList = h('ul', { class: 'chips', id: 'ws-subscriptions' });
    const subscribeButton = h('button', { type: 'submit', id: 'ws-subscribe' }, 'Subscribe');
    const subscribeForm = h('form', { class: 'card', id: 'ws-subscribe-form' },
      h('h2', null, 'Subscriptions'),
      h('div', { class: 'row' }, h('label', { class: 'field grow' }, 'Filter ', subscribeFilter), h('label', { class: 'field' }, 'QoS ', subscribeQos), subscribeButton),
      subscriptionList);
    subscribeForm.addEventListener('submit', async event => {
      event.preventDefault();
      try {
        await ws.subscribe(subscribeFilter.value, Number(subscribeQos.value));
      } catch (error) {
        notify(error.message, 'error');
      }
    });

    const publishTopic = input('publish-topic', { required: true, placeholder: 'greetings/hello' });
    const publishPayload = h('textarea', { id: 'ws-publish-payload', rows: 2, spellcheck: 'false' });
    const publishQos = h('select', { id: 'ws-publish-qos' }, ['0', '1', '2'].map(q => h('option', { value: q }, q)));
    const publishRetain = h('input', { type: 'checkbox', id: 'ws-publish-retain' });
    const publishButton = h('button', { type: 'submit', id: 'ws-publish' }, 'Publish');
    const publishForm = h('form', { class: 'card', id: 'ws-publish-form' },
      h('h2', null, 'Publish'),
      h('div', { class: 'row' }, h('label', { class: 'field grow' }, 'Topic ', publishTopic), h('label', { class: 'field' }, 'QoS ', publishQos),
        h('label', { class: 'field checkbox' }, publishRetain, ' Retain')),
      h('div', { class: 'row' }, h('label', { class: 'field grow' }, 'Payload ', publishPayload), publishButton));
    publishForm.addEventListener('submit', async event => {
      event.preventDefault();
      try {
        await ws.publish(publishTopic.value, publishPayload.value, Number(publishQos.value), publishRetain.checked);
        notify(`Published to ${publishTopic.value}.`, 'ok');
      } catch (error) {
        notify(error.message, 'error');
      }
    });

    const messageList = h('tbody', { id: 'ws-messages' });
    const messageCount = h('span', { class: 'muted' });
    const messages = h('section', { class: 'card messages' },
      h('div', { class: 'page-header' }, h('h2', null, 'Messages ', messageCount), h('div', { class: 'spacer' }),
        h('button', { type: 'button', onclick: () => { ws.messages = []; ws.changed(); } }, 'Clear')),
      h('table', { class: 'grid compact' }, h('thead', null, h('tr', null, h('th', null, 'received'), h('th', null, 'topic'), h('th', null, 'QoS'),
        h('th', null, 'retained'), h('th', null, 'payload'))), messageList));

    let shownMessages = null;
    const update = () => {
      const connected = ws.state === 'connected';
      stateBadge.className = `badge ${connected ? 'ok' : ws.state === 'connecting' ? 'warn' : 'muted'}`;
      stateBadge.textContent = ws.state;
      connectButton.disabled = ws.state !== 'disconnected';
      disconnectButton.disabled = ws.state === 'disconnected';
      subscribeButton.disabled = !connected;
      publishButton.disabled = !connected;
      errorLine.hidden = !ws.error;
      errorLine.textContent = ws.error || '';
      clear(subscriptionList).append(...ws.subscriptions.map(s => h('li', { class: 'chip', dataset: { filter: s.filter } },
        h('span', { class: 'mono' }, s.filter), ` QoS ${s.qos} `,
        h('button', { type: 'button', class: 'link', 'aria-label': `Unsubscribe from ${s.filter}`, disabled: !connected,
          onclick: () => ws.unsubscribe(s.filter).catch(e => notify(e.message, 'error')) }, '×'))));
      if (shownMessages !== ws.messages[0] || ws.messages.length === 0) {
        shownMessages = ws.messages[0];
        messageCount.textContent = `(${ws.messages.length})`;
        clear(messageList).append(...ws.messages.map(m => {
          const payload = payloadText(m.payload);
          return h('tr', { dataset: { topic: m.topic } },
            h('td', null, m.time.toLocaleTimeString()), h('td', { class: 'mono' }, m.topic), h('td', { class: 'num' }, String(m.qos)),
            h('td', null, yesNo(m.retain)), h('td', null, h('pre', { class: `payload inline ${payload.binary ? 'binary' : ''}` }, payload.text)));
        }));
        if (ws.messages.length === 0) messageList.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'Messages on the subscribed topics show here.')));
      }
    };
    ws.views.add(update);
    context.onDispose(() => ws.views.delete(update));
    update();

    const wanted = context.parameters.get('url');
    if (wanted) url.value = wanted;
    else if (ws.lastUrl) url.value = ws.lastUrl;
    else defaultWebSocketUrl().then(value => { if (!url.value) url.value = value; });
    url.addEventListener('change', () => { ws.lastUrl = url.value; });

    container.append(pageHeader('WebSocket client'),
      h('p', { class: 'muted' }, 'An MQTT client in this page, connected straight to a WebSocket listener of the broker (subprotocol mqtt). It stays connected while you look at other pages.'),
      connectForm, h('div', { class: 'ws-grid' }, publishForm, subscribeForm), messages);
  }

  // ---- start -------------------------------------------------------------------------------------------------

  window.addEventListener('hashchange', () => { if (session.me) route(); });
  // Leaving the page ends the WebSocket client's connection at once, rather than whenever the browser drops the page.
  window.addEventListener('pagehide', () => websocketClient.disconnect());

  document.addEventListener('DOMContentLoaded', async () => {
    setUpLogin();
    setUpTenantPicker();
    const stored = sessionStorage.getItem(STORAGE_KEY);
    try {
      await logIn(stored); // open API (no credentials needed), or the tab's stored ones
    } catch (error) {
      session.authorization = null;
      sessionStorage.removeItem(STORAGE_KEY);
      showLogin(error.status === 401 ? (stored ? 'Log in again: the stored credentials were not accepted.' : null) : problemText(error));
    }
  });
})();
