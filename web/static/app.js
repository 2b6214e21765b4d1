// Shared by every page: the CSRF token for in-page requests, and a small JSON helper.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');
  window.dialer = {
    csrf: meta ? meta.content : "",
    async post(url, body) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": window.dialer.csrf, "Accept": "application/json" },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (!response.ok) {
        const message = (data && data.error) || response.statusText;
        throw new Error(message);
      }
      return data;
    },
    seconds(s) {
      s = Math.max(0, Math.floor(s));
      const m = Math.floor(s / 60), r = s % 60;
      return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(r).padStart(2, "0")}`
                     : `${m}:${String(r).padStart(2, "0")}`;
    },
  };
})();
