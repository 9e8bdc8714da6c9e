// ragstream web chat: one websocket to the gateway (/ws), protocol in docs/gateway-protocol.md.
"use strict";

(() => {
  const TOKEN_KEY = "ragstream.token";
  const MAX_RECONNECTS = 6;
  const STEP_LABELS = {
    plan: "Planning",
    retrieve: "Searching documents",
    tool: "Using a tool",
    respond: "Writing the answer",
  };
  const ERROR_TEXT = {
    bad_json: "The page sent a message the server could not read.",
    unknown_type: "The page sent a message the server does not understand.",
    bad_message: "The question was not in a form the server accepts.",
    question_empty: "Please type a question first.",
    question_too_long: "That question is too long; please shorten it (4000 characters at most).",
    not_found: "The server no longer has this answer (it may have restarted). Please ask again.",
    forbidden: "That answer belongs to someone else.",
    gap: "Part of this answer was lost while disconnected. Please ask again.",
    unavailable: "The question could not be submitted right now. Asking again is safe.",
    agent_error: "Something went wrong while answering. Please try again.",
    internal: "The server hit an unexpected error. Please try again.",
  };

  const $ = (id) => document.getElementById(id);
  const tokenInput = $("token");
  const conn = $("conn");
  const notice = $("notice");
  const transcript = $("transcript");
  const askForm = $("ask-form");
  const question = $("question");
  const send = $("send");
  const turnTpl = $("turn-tpl");

  const sessionId = randomId();
  let ws = null;
  let wsToken = null;
  let current = null; // the turn being answered: {el, question, requestId, lastSeq, text, done}
  let reconnects = 0;
  let reconnectTimer = null;
  let outbox = []; // frames waiting for the socket to open (ratings sent while disconnected)
  const ratings = window.ragstreamRatings(sendFrame); // ratings.js
  const sources = window.ragstreamSources; // sources.js

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

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
    hideNotice();
    if (ws && wsToken !== token) ws.close(1000, "token changed");
  });
  $("token-form").addEventListener("submit", (e) => e.preventDefault());

  // ---------------------------------------------------------------- notices and connection state

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = false;
  }
  function hideNotice() {
    notice.hidden = true;
    notice.textContent = "";
  }
  function setConn(state, text) {
    conn.dataset.state = state;
    conn.textContent = text;
  }

  function closeText(code) {
    switch (code) {
      case 4401:
        return "Authentication failed: the access token is missing or has expired. Paste a fresh token and ask again.";
      case 4403:
        return "Authentication failed: this access token was refused (invalid signature, malformed, or missing claims). Use a different token.";
      case 1009:
        return "That message was too large for the server. Please send something shorter.";
      default:
        return null;
    }
  }

  // ---------------------------------------------------------------- socket

  function socketUrl(token) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`;
  }

  function connect() {
    const token = tokenInput.value.trim();
    if (!token) {
      showNotice("Enter an access token first.");
      tokenInput.focus();
      return false;
    }
    clearTimeout(reconnectTimer);
    setConn("connecting", reconnects ? "reconnecting…" : "connecting…");
    if (ws) {
      const old = ws;
      ws = null; // its close event is ignored from now on
      old.close(1000, "replaced");
    }
    const sock = new WebSocket(socketUrl(token));
    ws = sock;
    wsToken = token;
    sock.addEventListener("open", () => {
      if (ws !== sock) return;
      setConn("open", "connected");
      for (const frame of outbox.splice(0)) sock.send(frame);
      if (current && !current.done) {
        if (current.requestId) {
          sock.send(JSON.stringify({ type: "resume", request_id: current.requestId, after_seq: current.lastSeq }));
        } else if (!current.sent) {
          sendAsk();
        }
      }
    });
    sock.addEventListener("message", (e) => {
      if (ws !== sock) return;
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      onMessage(msg);
    });
    sock.addEventListener("close", (e) => {
      if (ws !== sock) return;
      ws = null;
      onClose(e.code, e.reason);
    });
    return true;
  }

  function onClose(code, reason) {
    const authOrSize = closeText(code);
    if (authOrSize) {
      setConn("error", code === 1009 ? "disconnected" : "not authenticated");
      if (current && !current.done) failTurn(authOrSize); // shown once: on the question it stopped
      else showNotice(authOrSize);
      reconnects = 0;
      return;
    }
    const inFlight = current && !current.done;
    if (!inFlight) {
      setConn("idle", "not connected");
      reconnects = 0;
      return;
    }
    if (!current.requestId && current.sent) {
      // Dropped before "accepted": we cannot tell whether the question went through.
      setConn("idle", "disconnected");
      failTurn("The connection dropped before the question was accepted. Please ask again.");
      return;
    }
    if (reconnects >= MAX_RECONNECTS) {
      setConn("error", "disconnected");
      failTurn("Lost the connection to the server and could not reconnect. Please try again later.");
      return;
    }
    const delay = Math.min(8000, 250 * 2 ** reconnects) * (0.75 + Math.random() / 2);
    reconnects += 1;
    setConn("connecting", "connection lost, reconnecting…");
    reconnectTimer = setTimeout(connect, delay);
  }

  // ---------------------------------------------------------------- asking

  askForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = question.value.trim();
    if (!text) {
      showNotice(ERROR_TEXT.question_empty);
      return;
    }
    if (current && !current.done) return;
    hideNotice();
    startTurn(text);
    question.value = "";
    if (ws && ws.readyState === WebSocket.OPEN && wsToken === tokenInput.value.trim()) sendAsk();
    else if (ws && ws.readyState === WebSocket.CONNECTING) {
      /* sent on open */
    } else if (!connect()) failTurn("Enter an access token first.");
  });

  question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      askForm.requestSubmit();
    }
  });

  function sendAsk() {
    current.sent = true;
    ws.send(JSON.stringify({ type: "ask", question: current.question, session_id: sessionId }));
  }

  function startTurn(text) {
    $("empty")?.remove();
    const el = turnTpl.content.firstElementChild.cloneNode(true);
    el.querySelector(".question").textContent = text;
    transcript.appendChild(el);
    current = { el, question: text, requestId: null, lastSeq: -1, text: "", done: false, sent: false };
    el.dataset.state = "pending";
    send.disabled = true;
    reconnects = 0;
    el.scrollIntoView({ block: "end", behavior: "smooth" });
  }

  function finishTurn(state) {
    current.done = true;
    current.el.dataset.state = state;
    current.el.querySelector(".answer").setAttribute("aria-busy", "false");
    current.el.querySelectorAll(".steps li.active").forEach((li) => {
      li.classList.remove("active");
      li.classList.add(state === "done" ? "done" : "failed");
    });
    send.disabled = false;
    question.focus();
  }

  function failTurn(text) {
    if (!current || current.done) return;
    const err = current.el.querySelector(".turn-error");
    err.textContent = text;
    err.hidden = false;
    finishTurn("error");
  }

  // ---------------------------------------------------------------- server messages

  function onMessage(msg) {
    if (msg.type === "pong") return;
    if (msg.type === "feedback_recorded") return ratings.onRated(msg);
    if (msg.type === "error" && msg.seq === undefined && ratings.has(msg.request_id)) return ratings.onError(msg);
    if (msg.type === "error" && msg.seq === undefined) return onRequestError(msg);
    if (!current || current.done) return;
    if (msg.type === "accepted") {
      current.requestId = msg.request_id;
      current.el.dataset.requestId = msg.request_id;
      return;
    }
    if (msg.type === "resumed") {
      reconnects = 0;
      current.el.dataset.resumed = "true";
      return;
    }
    if (msg.request_id !== current.requestId) return;
    if (typeof msg.seq === "number") {
      if (msg.seq <= current.lastSeq) return; // already shown (replay overlap)
      current.lastSeq = msg.seq;
    }
    switch (msg.type) {
      case "status":
        return addStep(msg.step);
      case "token":
        return appendToken(msg.text);
      case "citations":
        return sources.show(current.el, msg.citations || []);
      case "final":
        renderAnswer(msg.text);
        ratings.offer(current.el, current.requestId);
        return finishTurn("done");
      case "error":
        return failTurn(ERROR_TEXT[msg.code] || msg.message || "Something went wrong.");
    }
  }

  function onRequestError(msg) {
    let text;
    if (msg.code === "rate_limited") {
      const wait = Math.max(1, Math.ceil(Number(msg.retry_after_s) || 1));
      text = `You are asking too quickly. Please wait ${wait} second${wait === 1 ? "" : "s"} and try again.`;
    } else {
      text = ERROR_TEXT[msg.code] || msg.message || "Something went wrong.";
    }
    if (current && !current.done && (!msg.request_id || msg.request_id === current.requestId || !current.requestId)) {
      failTurn(text);
    } else {
      showNotice(text);
    }
  }

  // ---------------------------------------------------------------- frames (ratings may go while disconnected)

  function sendFrame(obj) {
    const frame = JSON.stringify(obj);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(frame);
    else {
      outbox.push(frame);
      if (!ws || ws.readyState !== WebSocket.CONNECTING) connect();
    }
  }

  function addStep(step) {
    const steps = current.el.querySelector(".steps");
    steps.querySelectorAll("li.active").forEach((li) => {
      li.classList.remove("active");
      li.classList.add("done");
    });
    const li = document.createElement("li");
    li.dataset.step = step;
    li.className = "active";
    li.textContent = STEP_LABELS[step] || step;
    steps.appendChild(li);
  }

  function appendToken(text) {
    current.text += text;
    const answer = current.el.querySelector(".answer");
    answer.textContent = current.text;
  }

  // The final text, with [n] markers as buttons that open source n.
  function renderAnswer(text) {
    current.text = text;
    const answer = current.el.querySelector(".answer");
    const el = current.el;
    answer.replaceChildren();
    const parts = text.split(/(\[\d+\])/);
    for (const part of parts) {
      const m = /^\[(\d+)\]$/.exec(part);
      const target = m && el.querySelector(`.citations li[data-n="${m[1]}"]`);
      if (target) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "marker";
        btn.textContent = part;
        btn.setAttribute("aria-label", `Source ${m[1]}`);
        btn.addEventListener("click", () => sources.open(target));
        answer.appendChild(btn);
      } else if (part) {
        answer.appendChild(document.createTextNode(part));
      }
    }
  }

})();
