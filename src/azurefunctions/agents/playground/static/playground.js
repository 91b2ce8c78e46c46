// The playground's script: a client of the app's public HTTP API and nothing else.
// Routes used: GET {api}/agents, GET {api}/agents/{name}/info, POST {api}/agents/{name}/chat (JSON, SSE or
// "async"), GET {api}/sessions/{id}, GET {api}/sessions/{id}/stream?after=ID, GET|DELETE {api}/sessions/{id}/turns/{turn},
// POST {api}/sessions/{id}/turns/{turn}/approvals (a person's decision on tool calls that need approval).
"use strict";
(function () {
  const STORE_KEY = "agents-playground";
  const POLL_MS = 1000;

  // Where the API is: injected by the host that serves the page, else beside the page (apps serve it there).
  const injected = document.querySelector('meta[name="agents-api-base"]').content;
  const API = injected && !injected.includes("{{") ? injected
    : location.pathname.replace(/\/playground\/?$/, "");

  const $ = (id) => document.getElementById(id);
  const els = {
    status: $("app-status"), agent: $("agent"), info: $("agent-info"), user: $("user-id"),
    session: $("session-id"), open: $("open-session"), fresh: $("new-session"), key: $("function-key"),
    transcript: $("transcript"), composer: $("composer"), message: $("message"), send: $("send"),
  };

  // State kept in this tab (sessionStorage), so a reload shows the conversation and resumes a running turn.
  const saved = (() => { try { return JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}"); } catch { return {}; } })();
  const state = {
    agent: saved.agent || "", userId: saved.userId || "playground", sessionId: saved.sessionId || "",
    mode: saved.mode || "", key: saved.key || new URLSearchParams(location.search).get("code") || "",
    turns: Array.isArray(saved.turns) ? saved.turns : [],
  };
  let saveTimer = null;
  // Set when the page goes away: the browser then aborts its requests, which is not the turn failing.
  let leaving = false;
  // At most one write per 150 ms while a stream runs (a timer that is not pushed back by every event).
  function save(now) {
    const write = () => {
      clearTimeout(saveTimer); saveTimer = null;
      try { sessionStorage.setItem(STORE_KEY, JSON.stringify(state, (k, v) => (k === "view" ? undefined : v))); } catch { /* full */ }
    };
    if (now) write(); else if (!saveTimer) saveTimer = setTimeout(write, 150);
  }

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (state.key) h["x-functions-key"] = state.key;
    return h;
  }
  const enc = encodeURIComponent;
  const url = (path, query) => {
    const q = Object.entries(query || {}).filter(([, v]) => v !== undefined && v !== null && v !== "")
      .map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
    return API + path + (q ? "?" + q : "");
  };

  // An HTTP error as the app's envelope {"error": {"code", "message"}}, or a stand-in naming the status.
  async function errorOf(response) {
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    const error = body && body.error && typeof body.error === "object" ? body.error : {};
    return { code: error.code || `http_${response.status}`, message: error.message || response.statusText || "Request failed",
             status: response.status };
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  const pretty = (value) => {
    if (typeof value === "string") { try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; } }
    return JSON.stringify(value, null, 2);
  };
  function setStatus(text) { els.status.textContent = text; }

  // Agents ----------------------------------------------------------------------------------------------
  async function loadAgents() {
    let response;
    try { response = await fetch(url("/agents"), { headers: headers() }); } catch (e) {
      setStatus(`Cannot reach the app at ${API || "/"}: ${e.message}`); return;
    }
    if (!response.ok) {
      const error = await errorOf(response);
      setStatus(`Cannot list agents (${error.code}): ${error.message}` +
        (error.status === 401 ? " Enter the function key under Function key." : ""));
      return;
    }
    const data = await response.json();
    els.agent.replaceChildren(...data.agents.map((a) => el("option", { value: a.name, text: a.name })));
    if (!data.agents.some((a) => a.name === state.agent)) state.agent = data.agents.length ? data.agents[0].name : "";
    els.agent.value = state.agent;
    setStatus(`${data.count} agent${data.count === 1 ? "" : "s"} · mode ${data.mode} · API ${API || "/"}`);
    await showAgentInfo();
  }

  async function showAgentInfo() {
    if (!state.agent) { els.info.replaceChildren(); return; }
    const response = await fetch(url(`/agents/${enc(state.agent)}/info`), { headers: headers() });
    if (!response.ok) {
      const error = await errorOf(response);
      els.info.replaceChildren(el("p", { class: "state-error", text: `${error.code}: ${error.message}` }));
      return;
    }
    const info = await response.json();
    const parts = [];
    if (info.description) parts.push(el("p", { text: info.description }));
    const tools = (info.tools || []).map((t) => t.name);
    if (tools.length) parts.push(el("p", { text: "Tools: " + tools.join(", ") }));
    const servers = (info.mcp_servers || []).map((s) => (s.tools_known === false ? `${s.name} (tools listed at the first turn)` : s.name));
    if (servers.length) parts.push(el("p", { text: "MCP servers: " + servers.join(", ") }));
    const handoffs = ((info.handoffs || {}).targets || []).map((t) => t.agent).filter(Boolean);
    if (handoffs.length) parts.push(el("p", { text: `Hands off to: ${handoffs.join(", ")} (${info.handoffs.mode})` }));
    parts.push(el("p", { text: info.streaming ? "Streams by default" : "Answers in JSON by default" }));
    els.info.replaceChildren(...parts);
  }

  // Rendering a turn from its events ---------------------------------------------------------------------
  // Every turn is a list of the runtime's stream events; JSON and background answers are turned into the
  // same events, so one renderer shows all three and a reload replays the kept ones.
  function turnView(turn) {
    const answer = el("div", { class: "agent-turn", "aria-busy": "false" });
    const node = el("div", { class: "turn" },
      el("div", { class: "bubble user" }, el("span", { class: "who", text: "You" }), el("p", { class: "text", text: turn.user })),
      answer);
    const view = { turn, node, answer, segment: null, segmentAgent: null, tools: {}, path: [], usage: { input: 0, output: 0 },
                   meta: null, background: null };
    turn.view = view;
    return view;
  }

  function ensurePath(view, agent) {
    if (agent && view.path[view.path.length - 1] !== agent) view.path.push(agent);
  }

  function applyEvent(view, event) {
    const turn = view.turn;
    switch (event.type) {
      case "turn_started":
        if (event.session_id && event.session_id !== state.sessionId) { state.sessionId = event.session_id; els.session.value = event.session_id; }
        turn.sessionId = event.session_id || turn.sessionId; turn.turnId = event.turn_id;
        ensurePath(view, event.agent);
        break;
      case "text_delta": {
        if (!view.segment || view.segmentAgent !== event.agent) {
          view.segmentAgent = event.agent;
          view.segment = el("p", { class: "text" });
          view.answer.append(el("div", { class: "bubble agent", "data-agent": event.agent },
            el("span", { class: "who", text: event.agent }), view.segment));
        }
        view.segment.textContent += event.text;
        ensurePath(view, event.agent);
        break;
      }
      case "tool_call": {
        const state_ = el("span", { class: "tool-state", text: "running" });
        const result = el("pre", { class: "tool-result", text: "…" });
        const card = el("details", { class: "tool-card", open: true, "data-tool": event.name },
          el("summary", {}, "Tool ", el("code", { text: event.name }), " · ", state_),
          el("p", { class: "label", text: "Arguments" }), el("pre", { class: "tool-arguments", text: pretty(event.arguments || {}) }),
          el("p", { class: "label", text: "Result" }), result);
        view.tools[event.call_id] = { card, state: state_, result };
        view.answer.append(card);
        view.segment = null;
        break;
      }
      case "tool_result": {
        const tool = view.tools[event.call_id];
        if (tool) {
          tool.result.textContent = pretty(event.result);
          tool.state.textContent = event.is_error ? "failed" : "done";
          tool.state.className = "tool-state " + (event.is_error ? "state-error" : "state-ok");
        }
        break;
      }
      case "handoff":
        view.answer.append(el("p", { class: "handoff", "data-from": event.from_agent, "data-to": event.to_agent,
          text: `Handoff: ${event.from_agent} → ${event.to_agent}` + (event.reason ? ` (${event.reason})` : "") }));
        ensurePath(view, event.from_agent); ensurePath(view, event.to_agent);
        view.segment = null;
        break;
      case "reflection":
        view.answer.append(el("p", { class: "meta", text: `Reflection ${event.iteration}: score ${event.score ?? "n/a"}` +
          (event.threshold_met ? " (accepted)" : "") + (event.feedback ? ` — ${event.feedback}` : "") }));
        break;
      case "usage":
        view.usage.input += event.input_tokens || 0; view.usage.output += event.output_tokens || 0;
        break;
      case "done": {
        const response = event.response || {};
        if (!view.segment && response.response && !view.answer.querySelector(".bubble.agent")) {
          applyEvent(view, { type: "text_delta", agent: response.agent, text: response.response });
        }
        if ((response.handoff_path || []).length > view.path.length) view.path = response.handoff_path.slice();
        if (response.session_id) { state.sessionId = response.session_id; els.session.value = response.session_id; }
        finish(view, response.status === "awaiting_approval" ? "awaiting_approval" : "done");
        break;
      }
      case "error":
        view.answer.append(el("div", { class: "error-card", role: "alert" }, "Error ", el("code", { text: event.code }), ": " + event.message));
        if (event.session_id && !state.sessionId) { state.sessionId = event.session_id; els.session.value = event.session_id; }
        finish(view, "error");
        break;
      case "approval_required":
        for (const approval of event.approvals || []) view.answer.append(approvalCard(view, event, approval));
        view.segment = null;
        break;
      case "interrupted":
        view.answer.append(el("p", { class: "meta", text: "The page was reloaded before this answer arrived; the turn " +
          "went on in the app. Open the session to read it." }));
        finish(view, "interrupted");
        break;
      case "cancelled":
        view.answer.append(el("p", { class: "meta", text: "The turn was cancelled." }));
        finish(view, "cancelled");
        break;
      default:  // an event this page does not know yet: shown as it came
        view.answer.append(el("details", { class: "tool-card", "data-event": event.type },
          el("summary", {}, "Event ", el("code", { text: String(event.type) })), el("pre", { text: pretty(event) })));
        view.segment = null;
        break;
    }
  }

  function finish(view, outcome) {
    const turn = view.turn;
    turn.state = outcome;
    if (!turn.finishedAt) turn.finishedAt = Date.now();
    view.answer.setAttribute("aria-busy", "false");
    renderMeta(view);
    save(true);
  }

  function renderMeta(view) {
    const turn = view.turn;
    const bits = [];
    if (view.path.length > 1) bits.push("Path: " + view.path.join(" → "));
    if (view.usage.input || view.usage.output) bits.push(`Tokens: ${view.usage.input} in, ${view.usage.output} out`);
    if (turn.firstEventMs !== undefined) bits.push(`first event ${turn.firstEventMs} ms`);
    if (turn.finishedAt && turn.startedAt) bits.push(`total ${turn.finishedAt - turn.startedAt} ms`);
    if (turn.resumed) bits.push("resumed after reload");
    const text = bits.join(" · ");
    if (!view.meta) { view.meta = el("p", { class: "meta" }); view.answer.append(view.meta); }
    view.meta.textContent = text;
    view.answer.append(view.meta);  // keep it last
  }

  // A ChatResponse (JSON route, background turn) as the stream's events.
  function eventsOf(response) {
    const events = [];
    const agent = response.agent;
    const path = response.handoff_path || [];
    for (let i = 1; i < path.length; i++) events.push({ type: "handoff", from_agent: path[i - 1], to_agent: path[i] });
    for (const call of response.tool_calls || []) {
      events.push({ type: "tool_call", agent: call.agent || agent, call_id: call.id, name: call.name, arguments: call.arguments });
      events.push({ type: "tool_result", agent: call.agent || agent, call_id: call.id, name: call.name, result: call.result, is_error: call.is_error });
    }
    const usage = response.usage || {};
    if (usage.input_tokens || usage.output_tokens) events.push({ type: "usage", agent, input_tokens: usage.input_tokens, output_tokens: usage.output_tokens });
    if (response.status === "awaiting_approval") {
      events.push({ type: "approval_required", turn_id: response.turn_id, session_id: response.session_id, agent,
                    approvals: response.approvals || [] });
      events.push({ type: "done", response });
    } else if (response.status === "error") {
      events.push({ type: "error", code: response.error_code || "agent_error", message: response.error || "The turn failed.", session_id: response.session_id });
    } else {
      if (response.response) events.push({ type: "text_delta", agent, text: response.response });
      events.push({ type: "done", response });
    }
    return events;
  }

  // Approvals ---------------------------------------------------------------------------------------------
  // A tool call that needs a person's approval: its card offers Approve / Reject (with an optional message for
  // the model); the decision goes to the turn's approvals route and the resumed turn is shown as a new turn.
  function approvalCard(view, event, approval) {
    const turnId = event.turn_id || view.turn.turnId;
    const sessionId = event.session_id || view.turn.sessionId || state.sessionId;
    const decided = (view.turn.decided || {})[approval.id];
    const note = el("input", { type: "text", class: "approval-message", "aria-label": `Message for the model about ${approval.tool}`,
                               placeholder: "Optional message for the model" });
    const approve = el("button", { type: "button", class: "approve", text: "Approve" });
    const reject = el("button", { type: "button", class: "secondary reject", text: "Reject" });
    const outcome = el("p", { class: "approval-state", role: "status", text: decided ? `You ${decided}.` : "Waiting for your decision." });
    const card = el("section", { class: "approval-card", "data-approval": approval.id, "data-tool": approval.tool,
                                 "aria-label": `Approval for ${approval.tool}` },
      el("p", { class: "approval-title" }, el("strong", { text: approval.agent || event.agent || "The agent" }),
         " wants to call ", el("code", { text: approval.tool })),
      approval.reason ? el("p", { class: "approval-reason", text: approval.reason }) : null,
      el("p", { class: "label", text: "Arguments" }), el("pre", { class: "tool-arguments", text: pretty(approval.arguments || {}) }),
      approval.expires_at ? el("p", { class: "meta", text: "Expires " + new Date(approval.expires_at * 1000).toLocaleString() }) : null,
      note, el("div", { class: "buttons" }, approve, reject), outcome);
    if (decided || view.turn.replaying) { approve.disabled = reject.disabled = note.disabled = true; }
    const decide = async (approved) => {
      approve.disabled = reject.disabled = note.disabled = true;
      outcome.textContent = approved ? "Approving…" : "Rejecting…";
      const ok = await sendDecision(view, sessionId, turnId, approval, approved, note.value.trim());
      if (ok) {
        view.turn.decided = Object.assign(view.turn.decided || {}, { [approval.id]: approved ? "approved" : "rejected" });
        outcome.textContent = `You ${approved ? "approved" : "rejected"}.`;
        save(true);
      } else { approve.disabled = reject.disabled = note.disabled = false; outcome.textContent = "The decision was not accepted."; }
    };
    approve.addEventListener("click", () => decide(true));
    reject.addEventListener("click", () => decide(false));
    return card;
  }

  async function sendDecision(from, sessionId, turnId, approval, approved, message) {
    const mode = from.turn.mode || currentMode();
    const label = `${approved ? "Approved" : "Rejected"} ${approval.tool}` + (message ? `: ${message}` : "");
    const turn = { user: label, agent: from.turn.agent, mode, events: [], state: "streaming", startedAt: Date.now(),
                   sessionId, lastEventId: null, decision: true };
    const decision = { id: approval.id, approved };
    if (message) decision.message = message;
    const body = { decisions: [decision] };
    if (mode === "stream") body.stream = true;
    if (mode === "async") body.async = true;
    let response;
    try {
      response = await fetch(url(`/sessions/${enc(sessionId)}/turns/${enc(turnId)}/approvals`, { user_id: state.userId }), {
        method: "POST", body: JSON.stringify(body),
        headers: headers({ "Content-Type": "application/json", Accept: mode === "stream" ? "text/event-stream" : "application/json" }),
      });
    } catch (e) { setStatus(`The decision could not be sent: ${e.message}`); return false; }
    if (!response.ok && response.status !== 202) {
      const error = await errorOf(response);
      setStatus(`The decision was not accepted (${error.code}): ${error.message}`);
      return false;
    }
    state.turns.push(turn);
    const view = turnView(turn);
    els.transcript.append(view.node);
    view.answer.setAttribute("aria-busy", "true");
    save(true);
    const type = response.headers.get("content-type") || "";
    if (response.status === 202) { followBackground(view, await response.json()); return true; }
    if (type.includes("text/event-stream")) { await streamInto(view, response); return true; }
    for (const event of eventsOf(await response.json())) record(view, event);
    return true;
  }

  function record(view, event, id) {
    if (leaving) return;
    const turn = view.turn;
    if (turn.firstEventMs === undefined && turn.startedAt) turn.firstEventMs = Date.now() - turn.startedAt;
    turn.events.push(event);
    if (id) turn.lastEventId = id;
    applyEvent(view, event);
    if (view.turn.state === "streaming") renderMeta(view);
    save(false);
    scrollDown();
  }

  function scrollDown() { els.transcript.scrollTop = els.transcript.scrollHeight; }

  // Server-sent events from a fetch body (EventSource cannot POST or send the function key header).
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let current = { id: null, event: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let index;
      while ((index = buffer.search(/\r\n|\n|\r(?=[^\n])/)) >= 0) {
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + (buffer.startsWith("\r\n", index) ? 2 : 1));
        if (line === "") {
          if (current.data.length) {
            let data = null;
            try { data = JSON.parse(current.data.join("\n")); } catch { /* not JSON: ignored */ }
            if (data) onEvent(data, current.id);
          }
          current = { id: null, event: "message", data: [] };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? "" : line.slice(colon + 1);
          if (text.startsWith(" ")) text = text.slice(1);
          if (field === "id") current.id = text; else if (field === "event") current.event = text;
          else if (field === "data") current.data.push(text);
        }
      }
    }
  }

  // Sending -----------------------------------------------------------------------------------------------
  async function send(text) {
    const mode = currentMode();
    const turn = { user: text, agent: state.agent, mode, events: [], state: "streaming", startedAt: Date.now(),
                   sessionId: state.sessionId || null, lastEventId: null };
    state.turns.push(turn);
    const view = turnView(turn);
    els.transcript.append(view.node);
    view.answer.setAttribute("aria-busy", "true");
    save(true);
    scrollDown();
    const body = { message: text, user_id: state.userId || undefined, session_id: state.sessionId || undefined };
    if (mode === "stream") body.stream = true;
    if (mode === "async") body.async = true;
    let response;
    try {
      response = await fetch(url(`/agents/${enc(turn.agent)}/chat`), {
        method: "POST", body: JSON.stringify(body),
        headers: headers({ "Content-Type": "application/json", Accept: mode === "stream" ? "text/event-stream" : "application/json" }),
      });
    } catch (e) {
      record(view, { type: "error", code: "network_error", message: e.message });
      return;
    }
    const type = response.headers.get("content-type") || "";
    // A background turn is followed on its own: the composer is free for the next message meanwhile.
    if (response.status === 202) { followBackground(view, await response.json()); return; }
    if (!response.ok) { const error = await errorOf(response); record(view, Object.assign({ type: "error" }, error)); return; }
    if (type.includes("text/event-stream")) { await streamInto(view, response); return; }
    for (const event of eventsOf(await response.json())) record(view, event);
  }

  async function streamInto(view, response) {
    try {
      await readEvents(response, (event, id) => record(view, event, id));
    } catch (e) {
      if (leaving) return;
      if (view.turn.state === "streaming") { setStatus(`The stream was interrupted (${e.message}); resuming…`); await resume(view); return; }
    }
    if (view.turn.state === "streaming") await resume(view);  // the connection closed before done: pick up where it left
  }

  // Resuming a stream: GET {api}/sessions/{id}/stream?after=<last event id>.
  async function resume(view) {
    const turn = view.turn;
    const sessionId = turn.sessionId || state.sessionId;
    if (!sessionId) { record(view, { type: "error", code: "not_resumable", message: "The turn ended before it reported its session; send the message again." }); return; }
    turn.resumed = true;
    if (!turn.lastEventId) {  // nothing arrived yet: what follows the session's previous streamed turn is this one
      const before = state.turns.slice(0, state.turns.indexOf(turn)).reverse()
        .find((t) => t.lastEventId && (t.sessionId || sessionId) === sessionId);
      if (before) turn.lastEventId = before.lastEventId;
    }
    for (let attempt = 0; attempt < 5 && turn.state === "streaming"; attempt++) {
      let response;
      try {
        response = await fetch(url(`/sessions/${enc(sessionId)}/stream`, { user_id: state.userId, after: turn.lastEventId }),
          { headers: headers({ Accept: "text/event-stream" }) });
      } catch (e) { await sleep(POLL_MS); continue; }
      if (response.status === 204) { finish(view, "done"); return; }
      if (!response.ok) { const error = await errorOf(response); record(view, Object.assign({ type: "error" }, error)); return; }
      try { await readEvents(response, (event, id) => { if (!id || id !== turn.lastEventId) record(view, event, id); }); } catch { /* retry */ }
    }
  }

  // Background turns: 202 with the turn's location; poll it until it ends, then show its answer.
  async function followBackground(view, accepted) {
    const turn = view.turn;
    turn.state = "streaming";
    turn.location = accepted.location; turn.sessionId = accepted.session_id; turn.turnId = accepted.turn_id;
    if (accepted.session_id) { state.sessionId = accepted.session_id; els.session.value = accepted.session_id; }
    save(true);
    await pollBackground(view);
  }

  function backgroundView(view) {
    if (view.background) return view.background;
    const status = el("p", { role: "status", class: "background-status" });
    const cancel = el("button", { type: "button", class: "secondary", text: "Cancel turn" });
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      const response = await fetch(backgroundUrl(view.turn), { method: "DELETE", headers: headers() });
      if (!response.ok) { const error = await errorOf(response); setStatus(`Cancel failed (${error.code}): ${error.message}`); }
    });
    view.background = { status, cancel, node: el("div", { class: "background" }, status, cancel) };
    view.answer.prepend(view.background.node);
    return view.background;
  }

  function backgroundUrl(turn) {
    // The location the app answered with is absolute from the site root; add the user and keep the key header.
    const sep = turn.location.includes("?") ? "&" : "?";
    return turn.location + (state.userId ? `${sep}user_id=${enc(state.userId)}` : "");
  }

  async function pollBackground(view) {
    const turn = view.turn;
    const shown = backgroundView(view);
    for (let i = 0; i < 3600 && turn.state === "streaming"; i++) {
      let response;
      try { response = await fetch(backgroundUrl(turn), { headers: headers() }); } catch { await sleep(POLL_MS); continue; }
      if (!response.ok) { const error = await errorOf(response); shown.cancel.hidden = true; record(view, Object.assign({ type: "error" }, error)); return; }
      const data = await response.json();
      shown.status.textContent = `Background turn: ${data.status}` + (data.attempts ? ` (attempt ${data.attempts})` : "");
      turn.backgroundStatus = data.status;
      if (["completed", "failed", "cancelled", "awaiting_approval"].includes(data.status)) {
        shown.status.textContent = `Background turn: ${data.status}`;
        shown.cancel.hidden = true;
        if (data.response) for (const event of eventsOf(data.response)) record(view, event);
        else if (data.error) record(view, { type: "error", code: data.error.code, message: data.error.message });
        else record(view, { type: "cancelled" });
        return;
      }
      save(false);
      await sleep(POLL_MS);
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  function currentMode() {
    const checked = document.querySelector('input[name="mode"]:checked');
    return checked ? checked.value : "stream";
  }

  // Sessions ------------------------------------------------------------------------------------------------
  async function openSession() {
    const id = els.session.value.trim();
    if (!id) { setStatus("Enter a session id to open."); els.session.focus(); return; }
    const response = await fetch(url(`/sessions/${enc(id)}`, { user_id: state.userId }), { headers: headers() });
    if (!response.ok) { const error = await errorOf(response); setStatus(`Cannot open session (${error.code}): ${error.message}`); return; }
    const session = await response.json();
    state.sessionId = id;
    state.turns = turnsOfHistory(session.messages || []);
    renderAll();
    setStatus(`Opened session ${id}` + (session.active_agent ? `; active agent ${session.active_agent}` : ""));
    save(true);
  }

  // A saved history (the runtime's message model) as turns: each user message starts one.
  function turnsOfHistory(messages) {
    const turns = [];
    let turn = null;
    for (const m of messages) {
      if (m.role === "user") { turn = { user: m.content || "", events: [], state: "done" }; turns.push(turn); continue; }
      if (!turn) continue;
      for (const call of m.tool_calls || []) turn.events.push({ type: "tool_call", agent: m.agent, call_id: call.id, name: call.name, arguments: call.arguments });
      if (m.role === "tool") turn.events.push({ type: "tool_result", agent: m.agent, call_id: m.tool_call_id, name: m.name, result: m.content, is_error: !!m.is_error });
      else if (m.role === "assistant" && m.content) turn.events.push({ type: "text_delta", agent: m.agent || "assistant", text: m.content });
    }
    return turns;
  }

  function newSession() {
    state.sessionId = ""; state.turns = [];
    els.session.value = "";
    renderAll();
    save(true);
    setStatus("New session: the next message starts it.");
    els.message.focus();
  }

  function renderAll() {
    els.transcript.replaceChildren();
    for (const turn of state.turns) {
      const view = turnView(turn);
      els.transcript.append(view.node);
      const kept = turn.state;
      turn.replaying = kept !== "awaiting_approval";  // only a turn still waiting keeps its buttons live
      for (const event of turn.events) applyEvent(view, event);
      delete turn.replaying;
      turn.state = kept;
      if (turn.location && turn.backgroundStatus) {  // a background turn: its last known status
        const shown = backgroundView(view);
        shown.status.textContent = `Background turn: ${turn.backgroundStatus}`;
        shown.cancel.hidden = turn.state !== "streaming";
      }
      if (turn.state !== "streaming") renderMeta(view); else view.answer.setAttribute("aria-busy", "true");
    }
    scrollDown();
  }

  // Start-up ------------------------------------------------------------------------------------------------
  function bind() {
    els.user.value = state.userId; els.session.value = state.sessionId; els.key.value = state.key;
    const mode = document.querySelector(`input[name="mode"][value="${state.mode || "stream"}"]`);
    if (mode) mode.checked = true;
    els.agent.addEventListener("change", () => { state.agent = els.agent.value; save(true); showAgentInfo(); });
    els.user.addEventListener("change", () => { state.userId = els.user.value.trim(); save(true); });
    els.session.addEventListener("change", () => {
      const id = els.session.value.trim();
      if (!id) newSession(); else { state.sessionId = id; save(true); }  // the next message continues it
    });
    els.key.addEventListener("change", () => { state.key = els.key.value; save(true); loadAgents(); });
    for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", () => { state.mode = currentMode(); save(true); });
    els.open.addEventListener("click", openSession);
    els.fresh.addEventListener("click", newSession);
    els.message.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); els.composer.requestSubmit(); }
    });
    let sending = false;
    els.composer.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (sending) return;  // one turn at a time: a session takes one turn at once (409 session_busy)
      const text = els.message.value.trim();
      if (!text) { setStatus("Type a message first."); els.message.focus(); return; }
      if (!state.agent) { setStatus("No agent to talk to."); return; }
      els.message.value = "";
      els.send.disabled = sending = true;
      try { await send(text); } finally { els.send.disabled = sending = false; els.message.focus(); }
    });
  }

  async function start() {
    bind();
    addEventListener("pagehide", () => { leaving = true; save(true); });
    renderAll();
    await loadAgents();
    // A turn that was running when the page was left: follow it again.
    for (const turn of state.turns) {
      if (turn.state !== "streaming") continue;
      if (turn.location) pollBackground(turn.view);
      else if (turn.mode === "stream") resume(turn.view);
      else record(turn.view, { type: "interrupted" });  // a JSON answer is not kept as events: nothing to resume
    }
  }
  start();
})();
