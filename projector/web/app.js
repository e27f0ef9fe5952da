/* seerlog's fleet dashboard: reads the projector's API (docs/api.md) from the same origin.
 * No framework, no build step: the file is compiled into the projector as it is.
 *
 * Data flow: /v1/summary fills the totals and the region x type grid; /v1/nodes fills the node
 * table a page at a time; /v1/watch (Server-Sent Events) updates the rows shown and the counts
 * as events arrive, and the summary is fetched again at most every SUMMARY_MS while they do. */
"use strict";

(function () {
  const STATUSES = ["up", "degraded", "draining", "down", "left", "maintenance", "unknown"];
  const LIVENESS = ["alive", "suspect", "dead", "left", "missing", "unknown"];
  const PAGE = 50;            // rows per page
  const SCAN_PAGE = 1000;     // nodes per request while searching node ids
  const SCAN_MAX_PAGES = 20;  // requests per search step
  const SUMMARY_MS = 2000;    // the summary at most this often while events arrive
  const SUMMARY_SETTLE_MS = 1200; // the server shares a summary for 1 s: fetch once more after
  const PERIODIC_MS = 10000;  // the summary (and /readyz) even when nothing happens
  const FLUSH_MS = 150;       // events are applied to the page in batches

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  };

  const state = {
    summary: null,
    filters: { q: "", region: "", type: "", status: "", liveness: "" },
    cursors: [null], // cursors[i]: the cursor that loads page i
    page: 0,
    next: null,      // next_cursor of the page shown
    shown: new Map(), // node_id -> {node, tr}
    nodesSeq: 0,
    nodesLoaded: false,
    events: 0,
    pending: new Map(), // node_id -> latest state NODE not yet applied
    pendingLive: [],    // liveness events not yet applied
    flushTimer: 0,
    lastEventAt: 0,
    summaryAt: 0,
    summaryTimer: 0,
    summaryBusy: false,
    errors: new Map(), // source -> message
    es: null,
    typing: 0, // the search box's debounce timer
  };

  /* ---- errors ---- */

  function setError(source, msg) {
    if (msg) state.errors.set(source, msg);
    else state.errors.delete(source);
    const box = $("error");
    box.textContent = "";
    for (const m of state.errors.values()) box.append(el("div", { text: m }));
    box.hidden = state.errors.size === 0;
  }

  async function api(path) {
    let r;
    try {
      r = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (e) {
      throw new Error(`cannot reach the projector at ${location.host} (${e.message})`);
    }
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      if (r.ok) throw new Error(`${path}: the answer is not JSON`);
    }
    if (!r.ok) {
      const msg = body && body.message ? body.message : r.statusText;
      const err = new Error(`${path}: ${r.status} ${msg}`);
      err.status = r.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  /* ---- formatting ---- */

  const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "—");

  function ago(ms) {
    if (typeof ms !== "number" || ms < 0) return "never";
    let s = Math.round((Date.now() - ms) / 1000);
    if (s < 0) s = 0;
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  function badge(kind, value) {
    return el("span", { class: `badge ${kind}-${value}`, text: value });
  }

  function bar(counts, kind, order, total) {
    const b = el("div", { class: "bar", "aria-hidden": "true" });
    fillBar(b, counts, kind, order, total);
    return b;
  }

  function fillBar(b, counts, kind, order, total) {
    b.textContent = "";
    if (!total) return;
    for (const k of order) {
      const n = (counts && counts[k]) || 0;
      if (n <= 0) continue;
      const seg = el("span", { class: `bg-${kind}-${k}`, title: `${k}: ${n}` });
      seg.style.width = `${(100 * n) / total}%`; // CSSOM, not a style attribute: the CSP allows it
      b.append(seg);
    }
  }

  /* ---- the summary: totals and the region x type grid ---- */

  function renderTotals(s) {
    const total = s ? s.nodes : null;
    const t = $("total");
    t.textContent = fmt(total);
    t.dataset.total = total === null ? "" : String(total);
    chips($("status-totals"), s && s.status, "s", "status", STATUSES);
    chips($("liveness-totals"), s && s.liveness, "l", "liveness", LIVENESS);
    fillBar($("status-bar"), s && s.status, "s", STATUSES, total);
    fillBar($("liveness-bar"), s && s.liveness, "l", LIVENESS, total);
  }

  function chips(box, counts, kind, attr, order) {
    box.textContent = "";
    for (const k of order) {
      const n = counts ? counts[k] || 0 : null;
      const chip = el("span", { class: `chip${n ? "" : " zero"}`, id: `${attr}-${k}` });
      chip.setAttribute(`data-${attr}-${k}`, n === null ? "" : String(n));
      const btn = el(
        "button",
        {
          type: "button",
          title: `list the nodes with ${attr} ${k}`,
          onclick: () => {
            $(`f-${attr}`).value = k;
            filtersChanged();
          },
        },
        el("span", { class: `sw bg-${kind}-${k}` }),
        el("span", { class: "n", text: fmt(n) }),
        el("span", { class: "k", text: k })
      );
      chip.append(btn);
      box.append(chip);
    }
  }

  function renderOverview(s) {
    const table = $("overview");
    table.textContent = "";
    const empty = !s || !s.nodes;
    $("overview-empty").hidden = !s || !empty;
    table.hidden = empty;
    if (empty) return;
    const regions = [...new Set(s.groups.map((g) => g.region))].sort();
    const types = [...new Set(s.groups.map((g) => g.type))].sort();
    const by = new Map(s.groups.map((g) => [`${g.region}\u0000${g.type}`, g]));
    const head = el("tr", null, el("th", { text: "region \\ type" }));
    for (const t of types) head.append(el("th", { text: t }));
    head.append(el("th", { class: "num", text: "total" }));
    table.append(el("thead", null, head));
    const body = el("tbody");
    const colSum = new Map(types.map((t) => [t, 0]));
    for (const r of regions) {
      const tr = el("tr", null, el("th", { class: "region", text: r }));
      let rowSum = 0;
      for (const t of types) {
        const g = by.get(`${r}\u0000${t}`);
        if (!g) {
          tr.append(el("td", { class: "cell none", "data-region": r, "data-type": t, "data-count": "0", text: "·" }));
          continue;
        }
        rowSum += g.nodes;
        colSum.set(t, colSum.get(t) + g.nodes);
        const down = (g.status.down || 0);
        const dead = (g.liveness.dead || 0);
        const sel = state.filters.region === r && state.filters.type === t;
        const td = el(
          "td",
          {
            class: `cell${sel ? " selected" : ""}`,
            "data-region": r,
            "data-type": t,
            "data-count": String(g.nodes),
            title: `${r} / ${t}: ` + STATUSES.filter((k) => g.status[k]).map((k) => `${k} ${g.status[k]}`).join(", ") +
              " · " + LIVENESS.filter((k) => g.liveness[k]).map((k) => `${k} ${g.liveness[k]}`).join(", "),
            onclick: () => {
              $("f-region").value = r;
              $("f-type").value = t;
              filtersChanged();
              $("nodes-title").scrollIntoView({ behavior: "smooth", block: "start" });
            },
          },
          el("span", { class: "count", text: fmt(g.nodes) }),
          down ? el("span", { class: "bad", text: `${down} down` }) : null,
          dead ? el("span", { class: "bad dim", text: `${dead} dead` }) : null,
          bar(g.status, "s", STATUSES, g.nodes)
        );
        tr.append(td);
      }
      tr.append(el("td", { class: "num rowsum", text: fmt(rowSum) }));
      body.append(tr);
    }
    table.append(body);
    const foot = el("tr", null, el("td", { text: "total" }));
    for (const t of types) foot.append(el("td", { text: fmt(colSum.get(t)) }));
    foot.append(el("td", { class: "num", text: fmt(s.nodes) }));
    table.append(el("tfoot", null, foot));
  }

  function fillSelect(sel, values, allLabel) {
    const cur = sel.value;
    const want = [...values];
    if (cur && !want.includes(cur)) want.push(cur); // keep a selection that has no node now
    const have = [...sel.options].slice(1).map((o) => o.value);
    if (have.join("\u0000") === want.join("\u0000")) return;
    sel.textContent = "";
    sel.append(el("option", { value: "", text: allLabel }));
    for (const v of want) sel.append(el("option", { value: v, text: v }));
    sel.value = cur;
  }

  async function loadSummary() {
    if (state.summaryBusy) return;
    state.summaryBusy = true;
    const started = Date.now();
    try {
      const prev = state.summary;
      const s = await api("/v1/summary");
      loadReady();
      state.summary = s;
      state.summaryAt = Date.now();
      setError("summary", null);
      renderTotals(s);
      renderOverview(s);
      fillSelect($("f-region"), [...new Set(s.groups.map((g) => g.region))].sort(), "all regions");
      fillSelect($("f-type"), [...new Set(s.groups.map((g) => g.type))].sort(), "all types");
      const at = $("summary-at");
      at.textContent = new Date(state.summaryAt).toLocaleTimeString();
      at.dataset.summaryAt = String(state.summaryAt);
      // New nodes may belong on a page that is not full: load it again.
      if (prev && prev.nodes !== s.nodes && state.shown.size < PAGE && !state.next && !state.filters.q) loadNodes();
      else if (!state.shown.size) renderNodesEmpty();
    } catch (e) {
      setError("summary", `Cannot load the summary: ${e.message}`);
      if (!state.summary) {
        renderTotals(null);
        renderOverview(null);
      }
    } finally {
      state.summaryBusy = false;
    }
    // Events arrived during or just before that request: its answer may predate them.
    if (state.lastEventAt > started - SUMMARY_SETTLE_MS) scheduleSummary();
  }

  function scheduleSummary() {
    if (state.summaryTimer) return;
    const wait = Math.max(0, state.summaryAt + SUMMARY_MS - Date.now());
    state.summaryTimer = setTimeout(() => {
      state.summaryTimer = 0;
      loadSummary();
    }, wait);
  }

  async function loadReady() {
    try {
      const r = await fetch("/readyz", { cache: "no-store" });
      const b = await r.json().catch(() => ({}));
      if (r.ok) setError("ready", null);
      else
        setError("ready", `The projector is not ready: ${b.reason || b.status || r.status}` +
          (b.lag > 0 ? ` (${fmt(b.lag)} records behind); the counts are still moving.` : "."));
    } catch (e) {
      /* the summary reports an unreachable projector */
    }
  }

  /* ---- the node table ---- */

  function query(extra) {
    const p = new URLSearchParams();
    for (const k of ["region", "type", "status", "liveness"]) if (state.filters[k]) p.set(k, state.filters[k]);
    for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined) p.set(k, v);
    return p.toString();
  }

  async function loadNodes() {
    const seq = ++state.nodesSeq;
    const cursor = state.cursors[state.page];
    const q = state.filters.q.trim().toLowerCase();
    $("page-info").textContent = "loading…";
    try {
      let nodes = [];
      let next = cursor;
      let scanned = 0;
      if (!q) {
        const d = await api(`/v1/nodes?${query({ limit: PAGE, cursor })}`);
        nodes = d.nodes;
        next = d.next_cursor;
      } else {
        // The API has no node id filter: walk the pages (with the other filters) and keep the
        // ids that contain the text, until a page of them or SCAN_MAX_PAGES requests.
        for (let i = 0; i < SCAN_MAX_PAGES; i++) {
          const d = await api(`/v1/nodes?${query({ limit: SCAN_PAGE, cursor: next })}`);
          if (seq !== state.nodesSeq) return;
          scanned += d.nodes.length;
          nodes.push(...d.nodes.filter((n) => n.node_id.toLowerCase().includes(q)));
          next = d.next_cursor;
          if (!next || nodes.length >= PAGE) break;
        }
      }
      if (seq !== state.nodesSeq) return;
      setError("nodes", null);
      state.next = next || null;
      renderNodes(nodes, q, scanned);
    } catch (e) {
      if (seq !== state.nodesSeq) return;
      setError("nodes", `Cannot load the nodes: ${e.message}`);
      state.next = null;
      renderNodes([], q, 0, e.message);
    }
  }

  function row(n) {
    const usage = (n.state && n.state.usage) || {};
    const cpu = typeof usage.cpu_percent === "number" ? `${usage.cpu_percent.toFixed(1)}%` : "—";
    const mem = usage.mem_total ? `${((100 * usage.mem_used) / usage.mem_total).toFixed(0)}%` : "—";
    const heard = n.last_heard_ms >= 0 ? n.last_heard_ms : n.event_time_ms;
    return el(
      "tr",
      { "data-node-id": n.node_id, "data-status": n.status, "data-liveness": n.liveness },
      el("td", { class: "id", text: n.node_id, title: n.state && n.state.hostname ? `host ${n.state.hostname}` : null }),
      el("td", { text: n.region }),
      el("td", { text: n.node_type }),
      el("td", { class: "status" }, badge("s", n.status)),
      el("td", { class: "liveness", title: n.liveness_since_ms > 0 ? `since ${new Date(n.liveness_since_ms).toLocaleString()}` : null }, badge("l", n.liveness)),
      el("td", { class: "num heard", "data-ms": String(heard), title: heard > 0 ? new Date(heard).toLocaleString() : null, text: ago(heard) }),
      el("td", { class: "num", text: cpu }),
      el("td", { class: "num", text: mem }),
      el("td", { class: "muted", text: (n.state && n.state.agent_version) || "" })
    );
  }

  function renderNodes(nodes, q, scanned, failed) {
    const body = $("nodes-body");
    body.textContent = "";
    state.shown.clear();
    state.nodesLoaded = true;
    for (const n of nodes) {
      const tr = row(n);
      state.shown.set(n.node_id, { node: n, tr });
      body.append(tr);
    }
    $("nodes").dataset.rows = String(nodes.length);
    if (!nodes.length) renderNodesEmpty(failed);
    else $("nodes-empty").hidden = true;
    const first = state.page * PAGE;
    let info;
    if (!nodes.length) info = "";
    else if (q) info = `${nodes.length} node${nodes.length === 1 ? "" : "s"} matching “${q}”${scanned ? ` (${fmt(scanned)} scanned${state.next ? ", more to scan" : ""})` : ""}`;
    else info = `nodes ${fmt(first + 1)}–${fmt(first + nodes.length)}${state.next ? "" : " (last page)"}`;
    $("page-info").textContent = info;
    $("page-next").disabled = !state.next;
    $("page-prev").disabled = state.page === 0;
    $("page-first").disabled = state.page === 0;
    for (const td of $("overview").querySelectorAll("td.cell")) {
      td.classList.toggle("selected", td.dataset.region === state.filters.region && td.dataset.type === state.filters.type);
    }
  }

  function renderNodesEmpty(failed) {
    const box = $("nodes-empty");
    if (!state.nodesLoaded) return; // not yet known
    const f = state.filters;
    if (failed) box.textContent = "The nodes could not be loaded (see the message above).";
    else if (state.summary && state.summary.nodes === 0) box.textContent = "No nodes yet: the fleet is empty.";
    else if (f.q || f.region || f.type || f.status || f.liveness) box.textContent = "No node matches these filters.";
    else box.textContent = "No nodes.";
    box.hidden = $("nodes").dataset.rows !== "0";
  }

  function filtersChanged() {
    const f = state.filters;
    clearTimeout(state.typing); // a pending search is superseded by this change
    f.q = $("f-node").value;
    f.region = $("f-region").value;
    f.type = $("f-type").value;
    f.status = $("f-status").value;
    f.liveness = $("f-liveness").value;
    state.cursors = [null];
    state.page = 0;
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    const s = p.toString();
    history.replaceState(null, "", s ? `?${s}` : location.pathname);
    loadNodes();
  }

  /* ---- live updates ---- */

  function adjust(counts, from, to) {
    if (!counts || from === to) return;
    if (from && counts[from] > 0) counts[from]--;
    if (to) counts[to] = (counts[to] || 0) + 1;
  }

  function group(n) {
    const s = state.summary;
    return s && s.groups.find((g) => g.region === n.region && g.type === n.node_type);
  }

  function flash(tr) {
    tr.classList.remove("flash");
    void tr.offsetWidth; // restart the animation
    tr.classList.add("flash");
  }

  function flush() {
    state.flushTimer = 0;
    const s = state.summary;
    let counted = false;
    for (const n of state.pending.values()) {
      const shown = state.shown.get(n.node_id);
      if (!shown) continue;
      // Counts move at once for the nodes whose old state is known; the summary fetched after
      // the events settles the rest.
      if (s && shown.node.status !== n.status) {
        adjust(s.status, shown.node.status, n.status);
        const g = group(n);
        if (g) adjust(g.status, shown.node.status, n.status);
        counted = true;
      }
      const tr = row(n);
      shown.tr.replaceWith(tr);
      state.shown.set(n.node_id, { node: n, tr });
      flash(tr);
    }
    state.pending.clear();
    for (const ev of state.pendingLive) {
      if (s) {
        adjust(s.liveness, ev.previous, ev.liveness);
        counted = true;
      }
      const shown = state.shown.get(ev.node_id);
      if (!shown || shown.node.liveness === ev.liveness) continue;
      const g = group(shown.node);
      if (g) adjust(g.liveness, ev.previous, ev.liveness);
      shown.node.liveness = ev.liveness;
      shown.node.liveness_since_ms = ev.liveness_since_ms;
      shown.tr.dataset.liveness = ev.liveness;
      const td = shown.tr.querySelector("td.liveness");
      td.textContent = "";
      td.append(badge("l", ev.liveness));
      flash(shown.tr);
    }
    state.pendingLive = [];
    if (counted) {
      renderTotals(s);
      renderOverview(s);
    }
    const c = $("sse-events");
    c.textContent = fmt(state.events);
    c.dataset.sseEvents = String(state.events);
  }

  function onEvent() {
    state.events++;
    state.lastEventAt = Date.now();
    if (!state.flushTimer) state.flushTimer = setTimeout(flush, FLUSH_MS);
    scheduleSummary();
  }

  function setLive(s, text) {
    $("live").dataset.sseState = s;
    $("live-text").textContent = text;
  }

  function reloadAll() {
    loadSummary();
    loadNodes();
  }

  function connect() {
    if (!window.EventSource) {
      setLive("error", "no live updates (this browser has no EventSource)");
      return;
    }
    const es = new EventSource("/v1/watch");
    state.es = es;
    es.onopen = () => {
      setLive("open", "live");
      setError("watch", null);
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (e.g. 503: api.max.watchers reached): the browser gives up; we retry.
        setLive("error", "live updates off");
        setError("watch", "Live updates are unavailable (the projector refused /v1/watch, or is gone); retrying every 5 s.");
        es.close();
        setTimeout(() => {
          if (state.es === es) {
            connect();
            reloadAll();
          }
        }, 5000);
      } else {
        setLive("connecting", "reconnecting…"); // the browser retries with Last-Event-ID
      }
    };
    es.addEventListener("state", (m) => {
      try {
        const n = JSON.parse(m.data);
        state.pending.set(n.node_id, n);
        onEvent();
      } catch (e) {
        /* a malformed event is skipped */
      }
    });
    es.addEventListener("liveness", (m) => {
      try {
        state.pendingLive.push(JSON.parse(m.data));
        onEvent();
      } catch (e) {
        /* skipped */
      }
    });
    // The events after our last one are gone (reset), or we fell behind and the stream ended
    // (overflow; the browser reconnects): the page is stale, load it again.
    es.addEventListener("reset", reloadAll);
    es.addEventListener("overflow", () => setLive("connecting", "fell behind; reloading…"));
  }

  /* ---- start ---- */

  function init() {
    for (const [id, values] of [["f-status", STATUSES], ["f-liveness", LIVENESS]]) {
      for (const v of values) $(id).append(el("option", { value: v, text: v }));
    }
    const p = new URLSearchParams(location.search);
    for (const k of ["q", "region", "type", "status", "liveness"]) {
      const v = p.get(k);
      if (!v) continue;
      state.filters[k] = v;
      const sel = $(k === "q" ? "f-node" : `f-${k}`);
      if (sel.tagName === "SELECT" && ![...sel.options].some((o) => o.value === v)) sel.append(el("option", { value: v, text: v }));
      sel.value = v;
    }
    for (const id of ["f-region", "f-type", "f-status", "f-liveness"]) $(id).addEventListener("change", filtersChanged);
    $("f-node").addEventListener("input", () => {
      clearTimeout(state.typing);
      state.typing = setTimeout(filtersChanged, 250);
    });
    $("filters").addEventListener("submit", (e) => {
      e.preventDefault();
      filtersChanged();
    });
    $("f-clear").addEventListener("click", () => {
      for (const id of ["f-node", "f-region", "f-type", "f-status", "f-liveness"]) $(id).value = "";
      filtersChanged();
    });
    $("page-next").addEventListener("click", () => {
      if (!state.next) return;
      state.cursors[state.page + 1] = state.next;
      state.page++;
      loadNodes();
    });
    $("page-prev").addEventListener("click", () => {
      if (state.page === 0) return;
      state.page--;
      loadNodes();
    });
    $("page-first").addEventListener("click", () => {
      state.page = 0;
      loadNodes();
    });
    renderTotals(null);
    connect();
    loadSummary();
    loadNodes();
    setInterval(loadSummary, PERIODIC_MS);
    setInterval(() => {
      for (const td of document.querySelectorAll("#nodes-body td.heard")) td.textContent = ago(Number(td.dataset.ms));
    }, 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
