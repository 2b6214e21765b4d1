// The agent console: state pushed over Server-Sent Events, commands posted as JSON.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const cfg = root.dataset;
  const wrapLimit = Number(cfg.wrapLimit) || 60;
  const LABELS = { offline: "Offline", ready: "Ready", reserved: "Connecting", on_call: "On call",
                   wrap_up: "Wrap-up", paused: "Paused" };
  const DETAILS = {
    offline: "Go ready to take calls.",
    ready: "Waiting for the next call: it connects by itself.",
    reserved: "A customer answered: connecting you now…",
    on_call: "You are talking to the customer.",
    wrap_up: "The call has ended: choose a disposition.",
    paused: "You get no calls while paused.",
  };

  let campaign = cfg.campaign || "";
  let source = null;
  let retryTimer = null;
  let clockOffset = 0; // server seconds minus browser seconds
  let current = { state: "offline", since: null, call_id: null };
  let call = null;
  let connectedAt = null;
  let assist = { help: null, joined: [], transfer: null, colleagues: [], consulting: null };
  let survey = null;        // the call's questionnaire as the server last described it (null: none)
  let surveyAt = null;      // the answered question shown for a correction (null: the current question)
  let surveyAsked = null;   // the call whose questionnaire was fetched, so it is fetched once
  const NUMBER = "__number__";
  const STRANDED_AFTER_S = 15; // reserved this long on a call nobody else holds: the consultation is over

  // ---------------------------------------------------------------- helpers
  const now = () => Date.now() / 1000 + clockOffset;
  function text(el, value) { el.textContent = value == null ? "" : String(value); }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v; else if (k === "className") node.className = v; else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(c));
    return node;
  }
  function showError(message) {
    const box = $("console-error");
    text(box, message || "");
    box.hidden = !message;
  }
  function clearFieldErrors() {
    document.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  }
  function fieldError(field, message) {
    const p = document.querySelector(`.field-error[data-field="${field}"]`);
    if (p) { p.textContent = message; p.hidden = false; } else { showError(message); }
  }
  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": window.dialer.csrf },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data || {} };
  }
  function typing(event) {
    const t = event.target;
    return t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && !["radio", "checkbox"].includes(t.type))
                 || t.tagName === "SELECT" || t.isContentEditable);
  }

  // ---------------------------------------------------------------- state
  async function act(action) {
    showError("");
    if (!campaign) { showError("Choose a campaign first."); $("campaign").focus(); return; }
    const result = await post(cfg.urlState, { campaign_id: campaign, action, reason: $("pause-reason").value });
    if (!result.ok) { showError(result.data.error || `Could not ${action} (${result.status}).`); return; }
    listen();
  }

  function renderState() {
    const s = current.state;
    const banner = $("banner");
    banner.className = `state-banner state-${s}`;
    text($("state-label"), LABELS[s] || s);
    let detail = DETAILS[s] || "";
    if (s === "paused" && current.pause_reason) detail = `Paused: ${current.pause_reason}. ${DETAILS.paused}`;
    text($("state-detail"), detail);
    $("go-ready").disabled = !campaign || s === "ready" || s === "on_call" || s === "wrap_up"
      || (s === "reserved" && !stranded());
    if (s === "reserved" && assist.consulting && assist.consulting.state === "on_call") {
      text($("state-label"), "Warm transfer");
      text($("state-detail"), `${assist.consulting.name} brought you into their call: you, they and the customer all hear each other. They will hand the customer over to you.`);
    }
    if (s === "reserved" && stranded()) {
      text($("state-detail"), "The call you were brought into has ended: go ready for the next one.");
    }
    $("pause").disabled = !campaign || s === "paused" || s === "on_call" || s === "reserved" || s === "wrap_up";
    $("logout").disabled = !campaign || s === "offline";
    const onCall = s === "on_call" || s === "wrap_up";
    $("dispo-fields").disabled = !(onCall && call);
    $("hangup").disabled = s !== "on_call";
    $("transfer-fields").disabled = s !== "on_call" || !!assist.transfer;
    $("transfer-form").hidden = s !== "on_call";
    const pill = $("call-state");
    pill.className = `pill ${s === "wrap_up" ? "wrap_up" : s === "reserved" ? "ringing" : "on_call"}`;
    text(pill, s === "wrap_up" ? "Call ended" : s === "reserved" ? "Joining" : "On call");
    tick();
  }

  function tick() {
    const since = current.since;
    const elapsed = since ? now() - since : 0;
    if (current.state === "reserved" && stranded() && $("go-ready").disabled) {
      $("go-ready").disabled = false;
      text($("state-detail"), "The call you were brought into has ended: go ready for the next one.");
    }
    text($("state-time"), since ? window.dialer.seconds(elapsed) : "–");
    const timer = $("wrap-timer");
    if (current.state === "wrap_up" && since) {
      const left = wrapLimit - elapsed;
      timer.hidden = false;
      timer.className = `wrap-timer ${left < 0 ? "over" : left < 15 ? "soon" : ""}`;
      text(timer, left >= 0 ? `Wrap-up ${window.dialer.seconds(left)} left` : `Wrap-up over by ${window.dialer.seconds(-left)}`);
    } else {
      timer.hidden = true;
    }
    if (call && connectedAt && (current.state === "on_call")) text($("talk-time"), window.dialer.seconds(now() - connectedAt));
    if (assist.help) {
      const note = assist.help.note ? ` (“${assist.help.note}”)` : "";
      text($("help-text"), `Help requested ${window.dialer.seconds(Math.max(0, now() - assist.help.at))} ago${note}: a supervisor will come to you.`);
    }
    if (call && call.contact.utc_offset_min != null && call.contact.time_zone) {
      const local = new Date((now() + call.contact.utc_offset_min * 60) * 1000);
      const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
      text($("contact-time"), `${days[local.getUTCDay()]} ${String(local.getUTCHours()).padStart(2, "0")}:${String(local.getUTCMinutes()).padStart(2, "0")}`);
    }
  }

  // ---------------------------------------------------------------- the call
  function renderCodes(codes) {
    const box = $("codes");
    box.replaceChildren();
    codes.forEach((c, i) => {
      const input = el("input", { type: "radio", name: "code", value: c.code });
      const label = el("label", { className: `code${c.sale ? " sale" : ""}${c.adds_to_dnc ? " dnc" : ""}` }, [input]);
      if (i < 9) label.appendChild(el("kbd", { text: String(i + 1) }));
      label.appendChild(document.createTextNode(` ${c.label}`));
      label.title = [c.final ? "final" : null, c.callback ? "schedules a callback" : null,
                     c.adds_to_dnc ? "adds to do-not-call" : null,
                     c.retry_after_min != null ? `retry after ${c.retry_after_min} min` : null].filter(Boolean).join(", ");
      box.appendChild(label);
    });
  }

  function renderCall(view) {
    call = view;
    connectedAt = view.connected_at ? Date.parse(view.connected_at) / 1000 : now();
    const c = view.contact;
    $("no-call").hidden = true;
    $("call").hidden = false;
    text($("contact-name"), c.name);
    text($("contact-phone"), c.phone);
    text($("contact-zone"), c.time_zone ? c.time_zone + (c.zones_disagree ? " (its numbers span several zones)" : "")
                                        : "time zone unknown");
    const facts = $("contact-facts");
    facts.replaceChildren();
    const add = (k, v) => { if (v !== null && v !== undefined && v !== "") { facts.appendChild(el("dt", { text: k })); facts.appendChild(el("dd", { text: v })); } };
    add("State", c.state); add("Postal code", c.postal_code); add("Email", c.email); add("Customer id", c.external_id);
    add("List", c.list); add("Attempt", `${view.attempt_number}`);
    Object.entries(c.custom_fields || {}).forEach(([k, v]) => add(k, v));
    const announcement = $("announcement");
    announcement.hidden = !view.recording_announcement;
    text(announcement, view.recording_announcement ? `Say first: ${view.recording_announcement}` : "");
    // script_html is built on the server: every value is HTML-escaped there.
    $("script").innerHTML = view.script_html || '<p class="muted">This campaign has no script.</p>';
    renderCodes(view.dispositions || []);
    renderHistory(view.history || []);
    surveyAsked = view.survey === undefined ? null : view.call_id;
    renderSurvey(view.survey || null);
    // The questionnaire takes the script's place when the campaign has no script of its own.
    $("script-card").hidden = !!(view.survey && !view.survey.error && !view.script_html && !view.recording_announcement);
    text($("callback-zone"), c.time_zone ? `, ${c.time_zone}` : ", unknown: no callback possible");
    const input = $("callback-at");
    input.disabled = !c.time_zone;
    if (c.local_now) input.min = c.local_now;
    $("disposition-form").reset();
    clearFieldErrors();
    renderState();
  }

  function renderHistory(rows) {
    const body = $("history").querySelector("tbody");
    body.replaceChildren();
    $("history-empty").hidden = rows.length > 0;
    $("history-wrap").hidden = rows.length === 0;
    text($("history-empty"), "No earlier calls to this customer.");
    rows.forEach((r) => {
      const when = r.at ? new Date(r.at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "–";
      const outcome = el("td", {}, [el("span", { className: "pill", text: r.disposition_label || r.disposition || (r.ended ? "–" : "in progress") })]);
      body.appendChild(el("tr", {}, [
        el("td", { text: when }), el("td", { text: r.agent || "–" }), outcome,
        el("td", { className: "num", text: r.talk_s != null ? window.dialer.seconds(r.talk_s) : "–" }),
        el("td", { className: "notes-cell", text: r.notes || "" }),
      ]));
    });
  }

  function clearCall() {
    call = null;
    connectedAt = null;
    $("call").hidden = true;
    $("no-call").hidden = false;
    $("script").innerHTML = '<p class="muted">The campaign\'s script shows here during a call, with the customer\'s details filled in.</p>';
    $("announcement").hidden = true;
    $("script-card").hidden = false;
    surveyAsked = null;
    renderSurvey(null);
    renderHistory([]);
    text($("history-empty"), "Earlier calls to this customer show here.");
    $("disposition-form").reset();
    clearFieldErrors();
    renderState();
  }

  async function submitDisposition(event) {
    if (event) event.preventDefault();
    if ($("dispo-fields").disabled) return;
    clearFieldErrors(); showError("");
    const form = $("disposition-form");
    const chosen = form.querySelector('input[name="code"]:checked');
    if (!chosen) { fieldError("code", "Choose a disposition (keys 1–9)."); return; }
    const body = {
      campaign_id: campaign, code: chosen.value, notes: $("notes").value,
      callback_at: $("callback-at").value || null, dnc: $("dnc").checked, then_pause: $("then-pause").value || null,
    };
    $("submit-dispo").disabled = true;
    try {
      const result = await post(cfg.urlDisposition, body);
      if (!result.ok) { fieldError(result.data.field || "code", result.data.error || `Not saved (${result.status}).`); return; }
      $("dispo-fields").disabled = true;  // until the dialer confirms: the next state event clears the call
      const sent = current.call_id;
      setTimeout(() => {
        if (call && current.call_id === sent && (current.state === "wrap_up" || current.state === "on_call")) {
          $("dispo-fields").disabled = false;
          showError("The dialer has not confirmed this disposition yet. Check it and save again.");
        }
      }, 8000);
    } finally {
      $("submit-dispo").disabled = false;
    }
  }

  async function hangup() {
    showError("");
    const result = await post(cfg.urlHangup, { campaign_id: campaign });
    if (!result.ok) showError(result.data.error || "Could not hang up.");
  }

  // ---------------------------------------------------------------- the questionnaire
  const SURVEY_STATUS = { partial: ["In progress", "ringing"], complete: ["Complete", "ok"],
                          screened_out: ["Screened out", "paused"] };

  function renderSurvey(data) {
    survey = data;
    surveyAt = null;
    drawSurvey();
  }

  async function fetchSurvey() {
    // A call pushed without its questionnaire (a colleague who took over a transfer): ask for it once.
    if (!call || surveyAsked === call.call_id) return;
    surveyAsked = call.call_id;
    const response = await fetch(`${cfg.urlSurvey}?campaign_id=${encodeURIComponent(campaign)}`,
                                 { credentials: "same-origin", headers: { "Accept": "application/json" } });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!call || surveyAsked !== call.call_id) return;
    if (response.ok) renderSurvey(data.survey);
    else if (response.status === 404) renderSurvey(null);
    else renderSurvey({ error: data.error || `The questionnaire could not be loaded (${response.status}).` });
  }

  function surveyQuestion() {
    if (!survey || survey.error) return null;
    if (surveyAt) {
      const earlier = (survey.path || []).find((q) => q.id === surveyAt);
      if (earlier) return earlier;
    }
    return survey.question || null;
  }

  function surveyError(message) {
    const p = $("survey-error");
    text(p, message || "");
    p.hidden = !message;
  }

  function drawSurvey() {
    const card = $("survey-card");
    card.hidden = !survey;
    surveyError("");
    if (!survey) return;
    $("survey-problem").hidden = !survey.error;
    text($("survey-problem-text"), survey.error || "");
    if (survey.error) {
      $("survey-form").hidden = true; $("survey-end").hidden = true;
      $("survey-trail").replaceChildren(); text($("survey-title"), ""); $("survey-pill").hidden = true;
      return;
    }
    text($("survey-title"), survey.title ? `· ${survey.title} (version ${survey.version})` : "");
    const [label, kind] = SURVEY_STATUS[survey.status] || [survey.status, ""];
    const pill = $("survey-pill");
    pill.hidden = false; pill.className = `pill ${kind}`; text(pill, label);
    drawTrail();
    const q = surveyQuestion();
    const closed = survey.status !== "partial";
    $("survey-form").hidden = !q;
    $("survey-end").hidden = !!q;
    if (!q) {
      $("survey-end").className = `survey-end ${survey.status}`;
      text($("survey-end-text"), survey.end ? survey.end.text : "");
      const reason = survey.end && survey.end.reason ? ` (${survey.end.reason})` : "";
      text($("survey-end-note"), survey.status === "complete"
        ? "The interview is complete: read the closing, then choose a disposition."
        : `The respondent does not qualify${reason}: read the closing, then choose a disposition.`);
      return;
    }
    $("survey-intro").hidden = !q.intro || !!surveyAt;
    text($("survey-intro"), q.intro ? `Say first: ${q.intro}` : "");
    const correcting = !!surveyAt;
    text($("survey-position"), `Question ${q.position}${q.required ? "" : " · may be skipped"}`
      + (correcting ? (closed ? " · answered" : " · answered: change the answer or go on") : ""));
    text($("survey-question"), q.text);
    const input = $("survey-input");
    input.replaceChildren(answerInput(q));
    $("survey-fields").disabled = closed;
    $("survey-back").disabled = !previousOf(q);
    $("survey-skip").hidden = q.required || closed;
    $("survey-next").disabled = closed && !nextOf(q);
    $("survey-next").replaceChildren(document.createTextNode(correcting && !closed ? "Save and go on → " : "Next → "));
  }

  function drawTrail() {
    const trail = $("survey-trail");
    trail.replaceChildren();
    (survey.path || []).forEach((q) => {
      const button = el("button", { type: "button", className: `survey-step${q.id === surveyAt ? " current" : ""}`,
                                     title: q.text }, []);
      button.appendChild(el("span", { className: "survey-step-id", text: q.id }));
      button.appendChild(document.createTextNode(` ${q.shown || "skipped"}`));
      button.addEventListener("click", () => { surveyAt = q.id; drawSurvey(); focusAnswer(); });
      trail.appendChild(el("li", {}, [button]));
    });
    if (survey.question) {
      const button = el("button", { type: "button", className: `survey-step now${surveyAt ? "" : " current"}`,
                                     text: `${survey.question.id}: now` });
      button.addEventListener("click", () => { surveyAt = null; drawSurvey(); focusAnswer(); });
      trail.appendChild(el("li", {}, [button]));
    }
  }

  function previousOf(q) {
    const path = survey.path || [];
    if (!surveyAt) return path.length ? path[path.length - 1] : null;
    const i = path.findIndex((p) => p.id === q.id);
    return i > 0 ? path[i - 1] : null;
  }

  function nextOf(q) {
    const path = survey.path || [];
    const i = path.findIndex((p) => p.id === q.id);
    if (i < 0) return null;
    return i + 1 < path.length ? path[i + 1] : survey.question || null;
  }

  function choiceList(q, kind, choices, chosen) {
    const box = el("div", { className: `survey-choices ${kind}`, role: kind === "radio" ? "radiogroup" : "group",
                            "aria-labelledby": "survey-question" });
    choices.forEach((c) => {
      const attrs = { type: kind, name: `survey-${q.id}`, value: String(c.value) };
      if (chosen(c.value)) attrs.checked = "checked";
      const label = el("label", { className: "survey-choice" }, [el("input", attrs)]);
      label.appendChild(el("span", { text: c.label }));
      if (c.hint) label.appendChild(el("span", { className: "small muted", text: c.hint }));
      box.appendChild(label);
    });
    return box;
  }

  function answerInput(q) {
    const v = q.value;
    if (q.type === "single") {
      return choiceList(q, "radio", q.choices.map((c) => ({ value: c.code, label: c.label })), (x) => v === x);
    }
    if (q.type === "multiple") {
      const picked = Array.isArray(v) ? v : [];
      const box = choiceList(q, "checkbox", q.choices.map((c) => ({ value: c.code, label: c.label })),
                             (x) => picked.includes(x));
      const most = q.max_choices ? `at most ${q.max_choices}` : "any number";
      box.appendChild(el("p", { className: "small muted survey-hint", text: `Tick ${most}${q.min_choices > 1 ? `, at least ${q.min_choices}` : ""}.` }));
      return box;
    }
    if (q.type === "yesno") {
      return choiceList(q, "radio", [{ value: "true", label: "Yes" }, { value: "false", label: "No" }],
                        (x) => v === (x === "true"));
    }
    if (q.type === "rating") {
      const low = q.min == null ? 0 : q.min;
      const high = q.max == null ? 10 : q.max;
      const steps = [];
      for (let n = low; n <= high; n += 1) steps.push({ value: n, label: String(n) });
      return choiceList(q, "radio", steps, (x) => v === x);
    }
    if (q.type === "text") {
      const area = el("textarea", { id: "survey-answer", maxlength: String(q.max_length || 500), rows: "3",
                                    "aria-labelledby": "survey-question" });
      area.value = v == null ? "" : String(v);
      return area;
    }
    const attrs = { id: "survey-answer", "aria-labelledby": "survey-question" };
    if (q.type === "date") {
      attrs.type = "date";
    } else {
      attrs.type = "number";
      attrs.inputmode = q.decimals ? "decimal" : "numeric";
      attrs.step = q.decimals ? "any" : "1";
    }
    if (q.min != null) attrs.min = String(q.min);
    if (q.max != null) attrs.max = String(q.max);
    const field = el("input", attrs);
    field.value = v == null ? "" : String(v);
    return field;
  }

  function answerValue(q) {
    const form = $("survey-form");
    const ticked = [...form.querySelectorAll(`input[name="survey-${CSS.escape(q.id)}"]:checked`)].map((i) => i.value);
    if (q.type === "single" || q.type === "rating") return ticked.length ? Number(ticked[0]) : null;
    if (q.type === "multiple") return ticked.map(Number);
    if (q.type === "yesno") return ticked.length ? ticked[0] === "true" : null;
    const field = $("survey-answer");
    const raw = field ? field.value : "";
    return raw.trim() === "" ? null : raw;
  }

  function focusAnswer() {
    const first = $("survey-input").querySelector("input:checked, input, textarea");
    if (first && !$("survey-fields").disabled) first.focus();
  }

  async function answerSurvey(value) {
    const q = surveyQuestion();
    if (!q || survey.status !== "partial") return;
    surveyError("");
    const correcting = !!surveyAt;
    if (correcting && JSON.stringify(value) === JSON.stringify(q.value ?? null)) {
      goOnFrom(q.id);  // unchanged: nothing to write
      return;
    }
    $("survey-next").disabled = true;
    const result = await post(cfg.urlSurveyAnswer, { campaign_id: campaign, question_id: q.id, value });
    $("survey-next").disabled = false;
    if (!result.ok) {
      surveyError(result.data.error || `Not saved (${result.status}).`);
      focusAnswer();
      return;
    }
    survey = result.data.survey;
    if (correcting) goOnFrom(q.id); else { surveyAt = null; drawSurvey(); focusAnswer(); }
  }

  function goOnFrom(questionId) {
    // After a correction, the answers that follow on the (maybe new) route come up one by one, then the
    // current question; an answer the new route no longer passes is simply not shown.
    const path = survey.path || [];
    const i = path.findIndex((p) => p.id === questionId);
    surveyAt = i >= 0 && i + 1 < path.length ? path[i + 1].id : null;
    drawSurvey();
    focusAnswer();
  }

  function surveyKeys(e) {
    const q = surveyQuestion();
    if (!q || e.altKey || e.metaKey) return;
    const t = e.target;
    const field = t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && !["radio", "checkbox"].includes(t.type));
    if (e.key === "Enter" && t.tagName !== "BUTTON" && (!field || t.tagName !== "TEXTAREA" || e.ctrlKey)) {
      e.preventDefault();
      $("survey-form").requestSubmit();
      return;
    }
    if (field || e.ctrlKey || !/^[0-9]$/.test(e.key) || $("survey-fields").disabled) return;
    const options = [...$("survey-input").querySelectorAll("input[type=radio], input[type=checkbox]")];
    const pick = q.type === "rating" ? options.find((o) => o.value === e.key) : options[Number(e.key) - 1];
    if (!pick) return;
    e.preventDefault();
    pick.checked = pick.type === "checkbox" ? !pick.checked : true;
    pick.focus();
  }

  // ---------------------------------------------------------------- help and transfers
  function stranded() {
    if (current.state !== "reserved") return false;
    if (assist.consulting) return assist.consulting.state !== "on_call" && assist.consulting.state !== "reserved";
    return current.since != null && now() - current.since >= STRANDED_AFTER_S;
  }

  function renderAssist(data) {
    assist = data;
    const asked = !!data.help;
    $("help-status").hidden = !asked;
    const pill = $("help-pill");
    pill.hidden = !asked;
    pill.className = "pill ringing";
    text(pill, "Help requested");
    text($("help-ask"), asked ? "Update request " : "Ask for help ");
    $("help-ask").appendChild(el("kbd", { text: "A" }));

    const joined = $("joined");
    joined.replaceChildren();
    (data.joined || []).forEach((j) => {
      const words = j.mode === "whisper"
        ? `${j.name} is coaching you: only you hear them, the customer does not.`
        : `${j.name} has joined your call: you and the customer both hear them.`;
      joined.appendChild(el("p", { className: `joined-note ${j.mode}`, text: words }));
    });

    const select = $("transfer-to");
    const chosen = select.value;
    select.replaceChildren();
    if (!data.colleagues.length) select.appendChild(el("option", { value: "", text: "No colleague is ready right now" }));
    data.colleagues.forEach((c) => {
      const label = c.name !== c.agent_id ? `${c.name} (${c.agent_id})` : c.agent_id;
      select.appendChild(el("option", { value: c.agent_id, text: c.bot ? `${label}, simulated` : label }));
    });
    select.appendChild(el("option", { value: NUMBER, text: "A phone number…" }));
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    numberChosen();

    const warm = data.transfer;
    $("warm").hidden = !warm;
    if (warm) {
      text($("warm-text"), warm.joined
        ? `${warm.name} is on the line with you and the customer. Introduce them, then complete the transfer.`
        : `Bringing ${warm.name} into the call…`);
      $("transfer-complete").disabled = !warm.joined;
    }
    renderState();
  }

  function numberChosen() {
    const byNumber = $("transfer-to").value === NUMBER;
    $("transfer-number-label").hidden = !byNumber;
    const cold = document.querySelector('#transfer-form input[name="mode"][value="cold"]');
    const warm = document.querySelector('#transfer-form input[name="mode"][value="warm"]');
    warm.disabled = byNumber;  // an outside number cannot be brought in and then handed over
    if (byNumber) cold.checked = true;
  }

  async function askForHelp(event) {
    if (event) event.preventDefault();
    clearFieldErrors(); showError("");
    if (!campaign) { showError("Choose a campaign first."); $("campaign").focus(); return; }
    const result = await post(cfg.urlHelp, { campaign_id: campaign, note: $("help-note").value });
    if (!result.ok) { fieldError(result.data.field || "note", result.data.error || `Not sent (${result.status}).`); return; }
    $("help-note").value = "";
    renderAssist(Object.assign({}, assist, { help: result.data.help }));
  }

  async function cancelHelp() {
    showError("");
    const result = await post(cfg.urlHelpCancel, { campaign_id: campaign });
    if (!result.ok) { showError(result.data.error || "Could not cancel the request."); return; }
    renderAssist(Object.assign({}, assist, { help: null }));
  }

  async function transferCall(event) {
    if (event) event.preventDefault();
    if ($("transfer-fields").disabled) return;
    clearFieldErrors(); showError("");
    const picked = $("transfer-to").value;
    const to = picked === NUMBER ? $("transfer-number").value : picked;
    const mode = (document.querySelector('#transfer-form input[name="mode"]:checked') || {}).value || "warm";
    if (!to) { fieldError("to", picked === NUMBER ? "Type the phone number." : "No colleague is ready: choose a phone number instead."); return; }
    const result = await post(cfg.urlTransfer, { campaign_id: campaign, to, mode });
    if (!result.ok) { fieldError(result.data.field || "to", result.data.error || `Not transferred (${result.status}).`); return; }
    $("transfer-number").value = "";
    if (mode === "warm") {
      const name = (assist.colleagues.find((c) => c.agent_id === to) || {}).name || to;
      renderAssist(Object.assign({}, assist, { transfer: { to, name, at: now(), joined: false } }));
    }
  }

  async function completeTransfer() {
    if ($("warm").hidden || $("transfer-complete").disabled) return;
    showError("");
    const result = await post(cfg.urlTransferComplete, { campaign_id: campaign });
    if (!result.ok) { showError(result.data.error || "Could not complete the transfer."); return; }
    $("transfer-complete").disabled = true;  // the dialer moves the customer; the call leaves this screen
  }

  // ---------------------------------------------------------------- the push
  function listen() {
    if (!campaign) return;
    if (source) source.close();
    clearTimeout(retryTimer);
    const url = `${cfg.urlEvents}?campaign_id=${encodeURIComponent(campaign)}`;
    source = new EventSource(url);
    text($("link"), "Connecting…");
    source.addEventListener("open", () => text($("link"), "Live"));
    source.addEventListener("state", (e) => {
      const data = JSON.parse(e.data);
      clockOffset = data.server_now - Date.now() / 1000;
      current = data;
      $("dialer-warning").hidden = data.dialer_running;
      if (!data.call_id && call) clearCall();
      if (call && (data.state === "on_call" || data.state === "wrap_up") && call.survey === undefined) fetchSurvey();
      renderState();
    });
    source.addEventListener("call", (e) => renderCall(JSON.parse(e.data)));
    source.addEventListener("assist", (e) => renderAssist(JSON.parse(e.data)));
    source.addEventListener("call_closed", () => clearCall());
    source.addEventListener("error", () => {
      text($("link"), "Reconnecting…");
      if (source.readyState === EventSource.CLOSED) {  // refused (e.g. campaign gone): try again later ourselves
        retryTimer = setTimeout(listen, 5000);
      }
    });
  }

  // ---------------------------------------------------------------- softphone
  async function softphone() {
    const badge = $("audio");
    if (cfg.onTwilio !== "true") { badge.classList.add("ok"); return; }
    try {
      const response = await fetch(cfg.urlSoftphone, { method: "POST", headers: { "Authorization": `Bearer ${cfg.ticket}`, "Accept": "application/json" } });
      const data = await response.json();
      if (!response.ok) { badge.className = "audio-status pill bad"; text(badge, `Softphone: ${data.error || response.status}`); return; }
      if (!(window.Twilio && window.Twilio.Device)) {
        badge.className = "audio-status pill bad";
        text(badge, "Softphone: voice SDK not installed on this server");
        return;
      }
      const device = new window.Twilio.Device(data.token, { closeProtection: true });
      device.on("registered", () => { badge.className = "audio-status pill ok"; text(badge, "Softphone: ready"); });
      device.on("error", (err) => { badge.className = "audio-status pill bad"; text(badge, `Softphone: ${err.message || err}`); });
      device.on("incoming", (conn) => { conn.accept(); text(badge, "Softphone: in your room"); });
      device.on("tokenWillExpire", async () => {
        const again = await fetch(cfg.urlSoftphone, { method: "POST", headers: { "Authorization": `Bearer ${cfg.ticket}` } });
        if (again.ok) device.updateToken((await again.json()).token);
      });
      device.register();
    } catch (err) {
      badge.className = "audio-status pill bad";
      text(badge, `Softphone: ${err.message || err}`);
    }
  }

  // ---------------------------------------------------------------- wiring
  $("go-ready").addEventListener("click", () => act("ready"));
  $("pause").addEventListener("click", () => act("pause"));
  $("logout").addEventListener("click", () => act("logout"));
  $("hangup").addEventListener("click", hangup);
  $("disposition-form").addEventListener("submit", submitDisposition);
  $("help-form").addEventListener("submit", askForHelp);
  $("help-cancel").addEventListener("click", cancelHelp);
  $("transfer-form").addEventListener("submit", transferCall);
  $("transfer-to").addEventListener("change", numberChosen);
  $("transfer-complete").addEventListener("click", completeTransfer);
  $("survey-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = surveyQuestion();
    if (!q) return;
    if (survey.status !== "partial") { goOnFrom(q.id); return; }  // a closed interview: only look through it
    answerSurvey(answerValue(q));
  });
  $("survey-form").addEventListener("keydown", surveyKeys);
  $("survey-skip").addEventListener("click", () => answerSurvey(null));
  $("survey-back").addEventListener("click", () => {
    const q = surveyQuestion();
    const earlier = q && previousOf(q);
    if (earlier) { surveyAt = earlier.id; drawSurvey(); focusAnswer(); }
  });
  $("survey-retry").addEventListener("click", () => { surveyAsked = null; fetchSurvey(); });
  $("campaign").addEventListener("change", (e) => {
    campaign = e.target.value;
    current = { state: "offline", since: null, call_id: null };
    assist = { help: null, joined: [], transfer: null, colleagues: [], consulting: null };
    clearCall();
    listen();
  });
  $("notes").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submitDisposition(e);
  });
  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || typing(e)) return;
    if (e.target && e.target.closest && e.target.closest("#survey-card")) return;  // its own keys: Enter submits
    const key = e.key.toLowerCase();
    if (/^[1-9]$/.test(key) && !$("dispo-fields").disabled) {
      const codes = document.querySelectorAll('#codes input[name="code"]');
      const pick = codes[Number(key) - 1];
      if (pick) { pick.checked = true; pick.focus(); e.preventDefault(); }
    } else if (key === "enter" && e.target.tagName !== "BUTTON" && !$("dispo-fields").disabled) {
      submitDisposition(e);
    } else if (key === "r" && !$("go-ready").disabled) {
      act("ready");
    } else if (key === "p" && !$("pause").disabled) {
      act("pause");
    } else if (key === "h" && !$("hangup").disabled) {
      hangup();
    } else if (key === "a" && campaign) {
      askForHelp(e);
    } else if (key === "t" && !$("transfer-fields").disabled) {
      $("transfer-to").focus(); e.preventDefault();
    } else if (key === "c" && !$("warm").hidden && !$("transfer-complete").disabled) {
      completeTransfer();
    }
  });
  setInterval(tick, 1000);
  renderState();
  softphone();
  listen();
})();
