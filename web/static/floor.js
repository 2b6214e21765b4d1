// The supervisor floor: live numbers pushed by the server (server-sent events), counters that tick locally,
// and the monitoring buttons (listen, whisper, barge), help requests and pacing controls.
(function () {
  "use strict";
  const root = document.getElementById("floor");
  if (!root) return;
  const base = root.dataset.base;
  const lineInput = document.getElementById("my-line");
  const note = document.getElementById("monitor-note");
  let clockSkew = 0; // server time minus browser time, so "time in state" matches the dialer's clock

  if (lineInput) {
    lineInput.value = localStorage.getItem("floor.line") || "";
    lineInput.addEventListener("change", () => localStorage.setItem("floor.line", lineInput.value.trim()));
  }

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const pct = (v) => (v == null || v === "" ? "–" : `${(Number(v) * 100).toFixed(1)}%`);
  const setF = (name, value) => document.querySelectorAll(`[data-f="${name}"]`).forEach((el) => { el.textContent = value; });
  const now = () => Date.now() / 1000 + clockSkew;

  function tickTimers() {
    document.querySelectorAll(".timer[data-since]").forEach((el) => {
      el.textContent = window.dialer.seconds(now() - Number(el.dataset.since));
    });
  }

  function monitorButtons(a) {
    if (a.state !== "on_call") return "";
    const buttons = ["listen", "whisper", "barge"].map((m) =>
      `<button type="button" class="small-button" data-action="monitor" data-mode="${m}" data-agent="${esc(a.agent_id)}">${m[0].toUpperCase() + m.slice(1)}</button>`).join(" ");
    const transfer = `<details class="transfer"><summary class="small">Transfer…</summary>
      <form class="transfer-form" data-agent="${esc(a.agent_id)}"><input name="to" placeholder="agent id or +1 number" required aria-label="Transfer to">
      <select name="mode" aria-label="Transfer mode"><option value="cold">Cold</option><option value="warm">Warm (consult first)</option></select>
      <button type="submit" class="small-button">Transfer</button></form></details>`;
    const who = a.monitor ? `<div class="small muted">${esc(a.monitor.by)} ${a.monitor.mode === "barge" ? "barged in" : esc(a.monitor.mode) + "ing"}</div>` : "";
    return buttons + transfer + who;
  }

  function renderAgents(agents) {
    const body = document.getElementById("agents-body");
    if (!body) return;
    // Someone is typing a transfer target or has a menu open: leave the rows alone this second.
    if (body.contains(document.activeElement) && document.activeElement.tagName !== "BUTTON") return;
    if (body.querySelector("details[open]")) return;
    if (!agents.length) {
      body.innerHTML = '<tr class="empty-row"><td colspan="5" class="empty">No agent is logged in.</td></tr>';
      return;
    }
    body.innerHTML = agents.map((a) => `
      <tr data-agent="${esc(a.agent_id)}" class="${a.help ? "asking" : ""}">
        <td><strong>${esc(a.name)}</strong>${a.name !== a.agent_id ? ` <span class="muted small">${esc(a.agent_id)}</span>` : ""}${a.bot ? ' <span class="pill small">bot</span>' : ""}${a.help ? ' <span class="pill bad">help</span>' : ""}</td>
        <td><span class="pill ${esc(a.state)}">${esc(a.state.replace("_", " "))}</span>${a.pause_reason ? ` <span class="small muted">${esc(a.pause_reason)}</span>` : ""}</td>
        <td class="num timer" data-since="${Number(a.since)}"></td>
        <td class="small mono">${esc(a.call_id || "")}</td>
        <td>${monitorButtons(a)}</td>
      </tr>`).join("");
  }

  function renderHelp(help) {
    const list = document.getElementById("help-list");
    if (!list) return;
    const count = document.querySelector('[data-f="help_count"]');
    if (count) { count.hidden = help.length === 0; count.textContent = help.length; }
    if (!help.length) { list.innerHTML = '<li class="empty small">No agent is asking for help.</li>'; return; }
    list.innerHTML = help.map((h) => `
      <li data-agent="${esc(h.agent_id)}"><div><strong>${esc(h.name)}</strong> <span class="muted small timer" data-since="${Number(h.at)}"></span>
        <div class="small">${esc(h.note || "No note")}</div></div>
        <div class="help-actions">
          <button type="button" class="primary small-button" data-action="monitor" data-mode="barge" data-agent="${esc(h.agent_id)}">Join</button>
          <button type="button" class="small-button" data-action="help-done" data-agent="${esc(h.agent_id)}">Done</button>
        </div></li>`).join("");
  }

  function renderWhy(nd) {
    const card = document.getElementById("why");
    if (!card || !nd) return;
    card.classList.toggle("blocked", !nd.dialing);
    setF("why_title", nd.dialing ? "Dialing" : "Not dialing because");
    setF("dialing", nd.dialing ? "dialing" : "not dialing");
    document.querySelectorAll('[data-f="dialing"]').forEach((el) => { el.className = `pill ${nd.dialing ? "ok" : "bad"}`; });
    document.getElementById("why-blockers").innerHTML = nd.blockers.map((b) =>
      `<li class="blocker"><span class="code">${esc(b.code.replace(/_/g, " "))}</span> ${esc(b.sentence)}</li>`).join("");
    document.getElementById("why-contacts").innerHTML = nd.contacts.map((b) =>
      `<tr><td>${esc(b.sentence)}</td><td class="num"><strong>${b.estimated ? "~" : ""}${b.count}</strong></td></tr>`).join("");
    setF("dialable_now", nd.dialable_now);
    setF("remaining", nd.remaining);
    setF("in_call", nd.in_call);
  }

  function render(data) {
    clockSkew = data.now - Date.now() / 1000;
    const live = data.live || {};
    ["agents_working", "agents_ready", "agents_on_call", "agents_wrap_up", "agents_paused", "calls_ringing",
     "calls_waiting", "calls_connected", "hopper_size", "abandoned_today", "live_answers_today"].forEach((k) => setF(k, live[k] ?? 0));
    setF("dial_level", live.dial_level ?? "–");
    if (live.pacer) setF("pacer", live.pacer);
    setF("abandon_rate_today", pct(live.abandon_rate_today));
    setF("answer_rate_today", pct(data.answer_rate_today));
    setF("calls_today", data.calls_today ?? 0);
    const ab = data.abandonment || {};
    setF("rolling_30d_rate", pct(ab.rolling_30d_rate));
    setF("target", pct(ab.target));
    setF("budget_left", ab.budget_left ?? "–");
    const budget = document.querySelector('[data-tile="budget"]');
    if (budget) budget.className = `tile ${ab.budget_spent ? "bad" : ab.budget_left === 0 ? "warn" : "ok"}`;
    setF("rolling_30d_live_answers", ab.rolling_30d_live_answers ?? 0);
    const rolling = document.querySelector('[data-tile="rolling"]');
    if (rolling) rolling.classList.toggle("bad", !!ab.budget_spent);
    setF("status", data.campaign.status);
    setF("freshness", data.dialer_running ? (data.live_age_s != null && data.live_age_s > 5 ? `dialer silent ${Math.round(data.live_age_s)} s` : "live") : "no dialer holds this campaign");
    renderAgents(data.agents || []);
    renderHelp(data.help || []);
    renderWhy(data.not_dialing);
    tickTimers();
  }

  function say(text, bad) {
    if (!note) return;
    note.textContent = text;
    note.classList.toggle("field-error", !!bad);
  }

  root.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    event.preventDefault();
    const agent = button.dataset.agent;
    button.disabled = true;
    try {
      if (button.dataset.action === "monitor") {
        const line = lineInput ? lineInput.value.trim() : "";
        const answer = await window.dialer.post(`${base}/agents/${encodeURIComponent(agent)}/monitor`, { mode: button.dataset.mode, line });
        say(answer.message, false);
      } else if (button.dataset.action === "help-done") {
        const answer = await window.dialer.post(`${base}/help/${encodeURIComponent(agent)}/done`, {});
        say(answer.message, false);
      }
    } catch (error) {
      say(error.message, true);
    } finally {
      button.disabled = false;
    }
  });

  root.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.transfer-form");
    if (!form) return;
    event.preventDefault();
    const agent = form.dataset.agent;
    const data = new FormData(form);
    try {
      const answer = await window.dialer.post(`${base}/agents/${encodeURIComponent(agent)}/transfer`,
        { to: String(data.get("to") || ""), mode: String(data.get("mode") || "cold") });
      say(answer.message, false);
      form.closest("details").open = false;
    } catch (error) {
      say(error.message, true);
    }
  });

  const initial = document.getElementById("floor-initial");
  if (initial) { try { render(JSON.parse(initial.textContent)); } catch (e) { /* the server-rendered page stays */ } }
  setInterval(tickTimers, 1000);

  if (window.EventSource) {
    const source = new EventSource(root.dataset.events);
    source.addEventListener("live", (event) => render(JSON.parse(event.data)));
    source.addEventListener("gone", () => { source.close(); say("This campaign no longer exists.", true); });
    source.onerror = () => setF("freshness", "reconnecting…");
  }
})();
