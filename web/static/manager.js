// The campaign manager's pages: schedule and disposition rows, merge fields, upload, import progress.
(function () {
  "use strict";

  const MODE_HELP = {
    preview: "The agent sees the contact first and places the call.",
    progressive: "One call per free agent: no abandoned calls.",
    power: "A fixed number of lines per agent (the pacer's ratio).",
    predictive: "Lines chosen from live answer and talk times, held under the abandonment target.",
  };

  function nextIndex(rows, pattern) {
    let max = -1;
    rows.querySelectorAll("input[name]").forEach((input) => {
      const m = input.name.match(pattern);
      if (m) max = Math.max(max, parseInt(m[1], 10));
    });
    return max + 1;
  }

  function addRow(button, rowsSelector, templateSelector, pattern) {
    const rows = document.querySelector(rowsSelector);
    const template = document.querySelector(templateSelector);
    if (!rows || !template || !button) return;
    button.addEventListener("click", () => {
      const n = nextIndex(rows, pattern);
      const html = template.innerHTML.replace(/-N-/g, `-${n}-`);
      rows.insertAdjacentHTML("beforeend", html);
      const first = rows.lastElementChild && rows.lastElementChild.querySelector("input:not([type=checkbox])");
      if (first) first.focus();
    });
  }

  function campaignForm() {
    const form = document.getElementById("campaign-form");
    if (!form) return;
    addRow(form.querySelector("[data-add-schedule]"), "[data-schedule-rows]", "[data-schedule-template]",
           /^schedule-(\d+)-/);
    addRow(form.querySelector("[data-add-code]"), "[data-code-rows]", "[data-code-template]", /^code-(\d+)-/);
    form.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove-row]");
      if (remove) remove.closest("tr").remove();
      const chip = event.target.closest("[data-merge]");
      if (chip) {
        const script = form.querySelector("[data-script]");
        const start = script.selectionStart ?? script.value.length;
        const end = script.selectionEnd ?? start;
        script.value = script.value.slice(0, start) + chip.dataset.merge + script.value.slice(end);
        script.focus();
        script.selectionStart = script.selectionEnd = start + chip.dataset.merge.length;
      }
    });

    const mode = form.querySelector("[data-mode-select]");
    const help = form.querySelector("[data-mode-help]");
    const pacer = form.querySelector("[data-pacer-input]");
    const original = mode ? mode.value : "";
    const originalPacer = pacer ? pacer.value : "";
    function showMode() {
      if (help) help.textContent = MODE_HELP[mode.value] || "";
      // A pacer belongs to its mode: moving the mode clears a pacer that was the old mode's.
      if (pacer) pacer.value = mode.value === original ? originalPacer : (pacer.value === originalPacer ? "" : pacer.value);
    }
    if (mode) { mode.addEventListener("change", showMode); showMode(); }

    function toggle(control, selector, on) {
      const target = form.querySelector(selector);
      if (!control || !target) return;
      const apply = () => target.classList.toggle("m-off", !on());
      control.addEventListener("change", apply);
      apply();
    }
    const machine = form.querySelector("[data-machine-select]");
    toggle(machine, "[data-voicemail]", () => machine.value === "voicemail");
    const record = form.querySelector("[data-record-toggle]");
    toggle(record, "[data-recording]", () => record.checked);

    const invalid = form.querySelector(".m-invalid");
    if (invalid) invalid.focus();
  }

  function confirms() {
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  function dropZone() {
    const zone = document.querySelector("[data-drop]");
    if (!zone) return;
    const input = zone.querySelector("input[type=file]");
    const text = zone.querySelector(".m-drop-text");
    const show = () => { if (input.files.length) text.textContent = input.files[0].name; };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => {
      e.preventDefault(); zone.classList.add("m-hover");
    }));
    ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("m-hover")));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer.files.length) { input.files = event.dataTransfer.files; show(); }
    });
  }

  function jobProgress() {
    const card = document.querySelector("[data-job-url]");
    if (!card || card.dataset.state === "finished" || card.dataset.state === "failed") return;
    const $ = (sel) => card.querySelector(sel);
    const number = (n) => Number(n || 0).toLocaleString();
    let delay = 1000;
    async function poll() {
      try {
        const response = await fetch(card.dataset.jobUrl, { headers: { Accept: "application/json" },
                                                            credentials: "same-origin" });
        if (!response.ok) throw new Error(response.statusText);
        const view = await response.json();
        $("[data-bar]").style.width = `${view.percent}%`;
        card.querySelector("[role=progressbar]").setAttribute("aria-valuenow", view.percent);
        $("[data-percent]").textContent = view.percent;
        $("[data-phase]").textContent = view.phase;
        $("[data-state-pill]").textContent = view.state;
        $("[data-rows]").textContent = number(view.rows_read);
        $("[data-landed]").textContent = number(view.landed);
        $("[data-rejected]").textContent = number(view.rejected);
        if (view.error) { $("[data-error]").hidden = false; $("[data-error]").textContent = view.error; }
        if (view.state === "finished" || view.state === "failed") {
          window.location.reload();  // the summary and the report link are drawn by the server
          return;
        }
        delay = 1000;
      } catch (error) {
        delay = Math.min(delay * 2, 15000);
        $("[data-phase]").textContent = `connection lost, retrying (${error.message})`;
      }
      window.setTimeout(poll, delay);
    }
    window.setTimeout(poll, delay);
  }

  campaignForm();
  confirms();
  dropZone();
  jobProgress();
})();
