// ragstream ops page: polls GET /v1/ops (an operator token) and draws it; no reloads, no libraries.
"use strict";

(() => {
  const TOKEN_KEY = "ragstream.ops-token";
  const POLL_MS = 2000;
  const MAX_BACKOFF_MS = 15000;
  const SVG = "http://www.w3.org/2000/svg";
  const SPARK_W = 120;
  const SPARK_H = 26;
  const SPARK_SLOTS = 60; // the rates the API keeps per topic: the newest at the right edge

  const $ = (id) => document.getElementById(id);
  const tokenInput = $("token");
  const conn = $("conn");
  const notice = $("notice");
  const warning = $("warning");
  const board = $("board");
  const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  let run = 0; // bumped when the token changes: answers to an older run are dropped
  let timer = null;
  let failures = 0;
  let seenLetters = new Set(); // "stage|reason" already shown, to mark new ones

  // ---------------------------------------------------------------- token (URL ?token= -> sessionStorage)

  (function initToken() {
    const url = new URL(location.href);
    const fromUrl = url.searchParams.get("token");
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      url.searchParams.delete("token"); // keep it out of history and bookmarks
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || "";
  })();

  tokenInput.addEventListener("change", () => {
    const token = tokenInput.value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    restart();
  });
  $("token-form").addEventListener("submit", (e) => e.preventDefault());

  // ---------------------------------------------------------------- polling

  function restart() {
    run += 1;
    failures = 0;
    clearTimeout(timer);
    poll(run);
  }

  function schedule(myRun, ms) {
    clearTimeout(timer);
    timer = setTimeout(() => poll(myRun), ms);
  }

  async function poll(myRun) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      refuse("No token. Open the link `ragstream up` prints, or paste an operator token " +
             "(`ragstream token --operator`) above.", "no token");
      return;
    }
    if (board.hidden) setConn("connecting", "connecting…");
    let response;
    try {
      response = await fetch("/v1/ops", { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
    } catch (_) {
      if (myRun !== run) return;
      return retry(myRun, "Lost contact with the API; retrying…");
    }
    if (myRun !== run) return;
    if (response.status === 401 || response.status === 403) {
      refuse(await authText(response), "not authenticated");
      return; // nothing to retry with this token: wait for a new one
    }
    if (!response.ok) return retry(myRun, `The API answered ${response.status}: ${await detail(response)}; retrying…`);
    const snap = await response.json();
    if (myRun !== run) return;
    failures = 0;
    hide(notice);
    render(snap);
    schedule(myRun, POLL_MS);
  }

  function retry(myRun, text) {
    failures += 1;
    show(notice, text);
    setConn(board.hidden ? "error" : "stale", board.hidden ? "error" : "stale");
    schedule(myRun, Math.min(POLL_MS * 2 ** failures, MAX_BACKOFF_MS));
  }

  function refuse(text, state) {
    clearTimeout(timer);
    board.hidden = true;
    hide(warning);
    show(notice, text);
    setConn("error", state);
    $("updated").textContent = "";
  }

  async function detail(response) {
    try {
      const body = await response.json();
      return typeof body.detail === "string" ? body.detail : response.statusText;
    } catch (_) {
      return response.statusText;
    }
  }

  async function authText(response) {
    const why = await detail(response);
    if (response.status === 403) {
      return "Not an operator's token: this page needs a token with the ops claim. " +
             "Get one with `ragstream token --operator`.";
    }
    const error = (response.headers.get("WWW-Authenticate") || "").match(/error="([^"]+)"/);
    if (error && error[1] === "expired_token") {
      return "Authentication failed: the token has expired. Get a fresh one with `ragstream token --operator`.";
    }
    if (error && error[1] === "missing_token") {
      return "No token. Paste an operator token (`ragstream token --operator`) above.";
    }
    return `Authentication failed: the token was refused (${why}). ` +
           "Use a token from `ragstream token --operator` for this deployment.";
  }

  // ---------------------------------------------------------------- drawing

  function render(snap) {
    board.hidden = false;
    const stale = Boolean(snap.error);
    setConn(stale ? "stale" : "open", stale ? "stale" : "live");
    if (stale) show(warning, `The last sample failed (${snap.error}); showing the one from ${decimal.format(snap.age_s)} s ago.`);
    else hide(warning);
    renderIndex(snap.index, snap.problems || []);
    renderFreshness(snap.freshness);
    renderReindex(snap.reindex);
    renderStages(snap.stages);
    renderLetters(snap.dead_letters);
    $("updated").textContent =
      `read ${decimal.format(snap.age_s)} s ago (${new Date(snap.sampled_at * 1000).toLocaleTimeString()}) · ` +
      `the API reads the broker at most every ${decimal.format(snap.interval_s)} s, and only while someone looks`;
  }

  function renderIndex(index, problems) {
    if (!index) {
      $("generation").textContent = "—";
      for (const id of ["collection", "chunks", "graph", "embedder"]) $(id).textContent = "not in this process";
    } else {
      $("generation").textContent = index.generation || "none yet";
      $("collection").textContent = index.collection || "none yet (nothing indexed)";
      $("chunks").textContent = count.format(index.chunks);
      const g = index.graph || {};
      $("graph").textContent =
        `${count.format(g.entities || 0)} entities, ${count.format(g.relations || 0)} relations, ` +
        `${count.format(g.chunks || 0)} chunks`;
      $("embedder").textContent = index.embedder || "—";
    }
    replaceChildren($("problems"), problems.map((p) => el("li", {}, p)));
  }

  function seconds(s) {
    if (s === null || s === undefined) return "—";
    return s < 60 ? `≈${decimal.format(s)} s` : `≈${decimal.format(s / 60)} min`;
  }

  function renderFreshness(fresh) {
    const note = $("fresh-note");
    if (!fresh || !fresh.here) {
      for (const id of ["fresh-p50", "fresh-p95", "fresh-count"]) $(id).textContent = "—";
      rich(note, "Not in this process: the index stage runs elsewhere " +
                 "(its `ragstream_freshness_seconds` histogram is in Prometheus).");
      return;
    }
    $("fresh-p50").textContent = seconds(fresh.p50_s);
    $("fresh-p95").textContent = seconds(fresh.p95_s);
    $("fresh-count").textContent = count.format(fresh.count);
    note.textContent = fresh.count
      ? "Since this process started; within the histogram's buckets."
      : "No document has become queryable since this process started.";
  }

  function renderReindex(progress) {
    const bar = $("reindex-bar");
    const text = $("reindex-text");
    const fill = bar.querySelector(".meter-fill");
    if (!progress) {
      bar.hidden = true;
      rich(text, "Not hosted here: `ragstream up` reindexes; a cluster builds generations with workers " +
                 "(`GET /v1/generations/{label}`).");
      return;
    }
    bar.hidden = false;
    bar.dataset.state = progress.state;
    const pct = progress.fraction === null ? 0 : Math.round(progress.fraction * 100);
    fill.style.width = `${pct}%`;
    bar.setAttribute("aria-valuenow", String(pct));
    const chunks = `${count.format(progress.new_chunks)} of ${count.format(progress.live_chunks)} chunks`;
    const words = {
      idle: "No reindex since this process started (`ragstream reindex`).",
      starting: "A reindex is starting: naming its new version.",
      "catching-up": `Building ${progress.collection}: ${chunks} (${pct}%), lag ${count.format(progress.lag)}.`,
      swapped: `${progress.collection} is live (swapped from ${progress.previous || "—"}), ${chunks}.`,
      failed: `The reindex into ${progress.collection} failed: ${progress.error}. The live index is unchanged.`,
      cancelled: `The reindex into ${progress.collection} was cancelled; the live index is unchanged.`,
    };
    rich(text, words[progress.state] || progress.state);
  }

  function renderStages(stages) {
    const most = Math.max(1, ...stages.map((s) => s.lag));
    replaceChildren($("stages"), stages.map((s) => {
      const fill = el("span", { class: "lagbar-fill" });
      fill.style.width = `${(100 * s.lag) / most}%`; // CSSOM, allowed by the style-src policy
      const rate = s.rate === null ? "—" : `${decimal.format(s.rate)} msg/s`;
      return el("tr", { "data-stage": s.stage, "data-topic": s.topic, "data-lag": String(s.lag) }, [
        el("td", { class: "stage" }, s.stage),
        el("td", {}, el("code", {}, s.topic)),
        el("td", {}, el("div", { class: "lag" }, [
          el("div", { class: "lagbar", "aria-hidden": "true" }, fill),
          el("span", { class: "n", "aria-label": `lag ${s.lag}` }, count.format(s.lag)),
        ])),
        el("td", { class: "num" }, `${count.format(s.committed)} / ${count.format(s.end)}`),
        el("td", {}, el("div", { class: "rate" }, [el("span", { class: "n" }, rate), sparkline(s.history)])),
      ]);
    }));
  }

  function sparkline(series) {
    const peak = series.length ? Math.max(...series) : 0;
    const svg = svgEl("svg", {
      class: "spark", width: SPARK_W, height: SPARK_H, viewBox: `0 0 ${SPARK_W} ${SPARK_H}`,
      role: "img", "data-peak": String(peak), "data-points": String(series.length),
      "aria-label": `throughput over the last ${series.length} samples, peak ${decimal.format(peak)} msg/s`,
    });
    svg.append(svgEl("line", { class: "base", x1: 0, y1: SPARK_H - 0.5, x2: SPARK_W, y2: SPARK_H - 0.5 }));
    if (series.length >= 2) {
      const step = SPARK_W / (SPARK_SLOTS - 1);
      const x0 = SPARK_W - step * (series.length - 1);
      // scaled to its own peak: the shape is what a sparkline is for, the figure beside it says how much
      const y = (v) => (SPARK_H - 1) - (peak > 0 ? ((SPARK_H - 3) * v) / peak : 0);
      const points = series.map((v, i) => `${(x0 + i * step).toFixed(1)},${y(v).toFixed(1)}`);
      const area = `${x0.toFixed(1)},${SPARK_H} ${points.join(" ")} ${SPARK_W},${SPARK_H}`;
      svg.append(svgEl("polygon", { class: "area", points: area }));
      svg.append(svgEl("polyline", { class: "line", points: points.join(" ") }));
    }
    return svg;
  }

  function renderLetters(letters) {
    const rows = letters.by_reason || [];
    const total = $("dlq-total");
    total.textContent = count.format(letters.total);
    total.dataset.any = String(letters.total > 0);
    $("dlq-table").hidden = rows.length === 0;
    $("dlq-empty").hidden = rows.length > 0;
    const seen = new Set();
    replaceChildren($("dlq"), rows.map((r) => {
      const key = `${r.stage}|${r.reason}`;
      seen.add(key);
      const isNew = seenLetters.size > 0 && !seenLetters.has(key);
      return el("tr", { "data-stage": r.stage, "data-reason": r.reason, class: isNew ? "new" : "" }, [
        el("td", { class: "stage" }, r.stage || "—"),
        el("td", {}, el("code", {}, r.reason || "—")),
        el("td", { class: "num count" }, count.format(r.count)),
        el("td", { class: "num" }, count.format(r.replayed)),
      ]);
    }));
    seenLetters = seen.size ? seen : new Set([""]); // non-empty once drawn: later reasons are "new"
  }

  // ---------------------------------------------------------------- small DOM helpers

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== "") node.setAttribute(k, v);
    append(node, children);
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  function append(node, children) {
    if (children === undefined || children === null) return;
    for (const child of Array.isArray(children) ? children : [children]) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }

  function replaceChildren(node, children) {
    node.replaceChildren(...children);
  }

  function setConn(state, text) {
    conn.dataset.state = state;
    conn.textContent = text;
  }

  function show(node, text) {
    rich(node, text);
    node.hidden = false;
  }

  // Text with `commands` in backticks drawn as <code> (as text nodes: nothing is parsed as HTML).
  function rich(node, text) {
    node.replaceChildren(...text.split("`").map((part, i) => (i % 2 ? el("code", {}, part) : part)));
  }

  function hide(node) {
    node.hidden = true;
    node.textContent = "";
  }

  restart();
})();
