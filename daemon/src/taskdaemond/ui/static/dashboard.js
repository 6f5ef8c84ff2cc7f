// The dashboard's script: the token in this tab's sessionStorage (sent as a bearer header,
// never in a URL), the shell's fragment loaded with htmx, and live updates from the daemon's
// Server-Sent Events, read with fetch so that they carry the header too.
(function () {
  "use strict";
  const KEY = "taskdaemon-token";
  const body = document.body;
  const main = document.getElementById("main");
  const login = document.getElementById("login");
  const signOut = document.getElementById("sign-out");
  const tokenRequired = body.dataset.tokenRequired === "true";
  const token = () => sessionStorage.getItem(KEY);
  const headers = () => (token() ? { Authorization: "Bearer " + token() } : {});

  function refresh() { htmx.trigger(main, "td:refresh"); }

  function showLogin(message) {
    stopStream();
    main.hidden = true;
    login.hidden = false;
    document.getElementById("login-error").textContent = message || "";
    document.getElementById("token").focus();
  }

  body.addEventListener("htmx:configRequest", (event) => {
    Object.assign(event.detail.headers, headers());
  });
  body.addEventListener("htmx:responseError", (event) => {
    if (event.detail.xhr.status === 401) {
      sessionStorage.removeItem(KEY);
      showLogin(token() ? "That token was refused." : "");
    } else {
      main.insertAdjacentHTML("afterbegin", '<p class="problem" role="alert">The daemon answered ' +
        event.detail.xhr.status + ".</p>");
    }
  });
  body.addEventListener("htmx:afterSettle", () => watch());

  login.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = document.getElementById("token").value.trim();
    const answer = await fetch("/ui/part/overview", { headers: { Authorization: "Bearer " + value } });
    if (answer.status === 401) { showLogin("That token was refused."); return; }
    sessionStorage.setItem(KEY, value);
    document.getElementById("token").value = "";
    login.hidden = true;
    main.hidden = false;
    signOut.hidden = false;
    refresh();
  });
  signOut.addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });

  // -- live updates ---------------------------------------------------------------------
  let stream = null; // { url, controller }
  let pending = null;

  function stopStream() {
    if (stream) { stream.controller.abort(); stream = null; }
  }

  function later(fn, ms) { if (!pending) pending = setTimeout(() => { pending = null; fn(); }, ms); }

  async function read(url, controller, onEvent, seen) {
    const resume = seen ? { "Last-Event-ID": String(seen) } : {};
    const answer = await fetch(url, { headers: { ...headers(), ...resume }, signal: controller.signal });
    if (!answer.ok || !answer.body) return;
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message", data = "", id = null;
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
          else if (line.startsWith("id: ")) id = Number(line.slice(4));
        }
        if (data) onEvent(name, JSON.parse(data), id);
      }
    }
  }

  function percent(value) { return value == null ? "-" : Math.round(value * 100) + "%"; }

  function onTaskEvent(name, data, id) {
    const logs = document.getElementById("logs");
    // An event's id is its position in the task's history: the page may hold it already.
    if (id !== null && logs && id <= logs.children.length) return;
    if (name === "progress") {
      document.getElementById("progress").value = data.progress;
      document.getElementById("progress-text").textContent =
        percent(data.progress) + (data.message ? " · " + data.message : "");
    }
    if (name === "log" || name === "progress") {
      const item = document.createElement("li");
      const time = document.createElement("time");
      time.textContent = (data.at ? new Date(data.at * 1000).toISOString() : "").replace("T", " ").slice(0, 19);
      const level = document.createElement("span");
      level.className = "level";
      level.textContent = name === "log" ? (data.level || "info") : "progress";
      const text = name === "log" ? data.message : percent(data.progress) + " " + (data.message || "");
      item.append(time, " ", level, " ", text || "");
      logs.append(item);
      document.getElementById("no-logs").hidden = true;
    }
    if (name === "task") {
      const status = document.getElementById("status");
      if (status && status.textContent !== data.status) {
        status.textContent = data.status;
        status.className = "badge status-" + data.status;
      }
      document.getElementById("attempts").firstChild.textContent = data.attempts + " ";
    }
    if (name === "end") { stopStream(); refresh(); }
  }

  function watch() {
    const live = main.querySelector("[data-live]");
    const url = live ? live.dataset.live : null;
    if (stream && stream.url === url) return;
    stopStream();
    if (!url) return;
    const controller = new AbortController();
    stream = { url, controller };
    const onEvent = url.startsWith("/api/tasks/")
      ? onTaskEvent
      : (name) => { if (name === "task" || name === "overflow") later(refresh, 1000); };
    const current = stream;
    const seen = Number(live.dataset.seen || 0);
    const run = async () => {
      while (stream === current) {
        try { await read(url, controller, onEvent, seen); } catch (error) { if (controller.signal.aborted) return; }
        if (stream !== current) return;
        await new Promise((resolve) => setTimeout(resolve, 2000)); // the stream ended: reconnect
        if (url.startsWith("/api/tasks/")) { refresh(); return; }
      }
    };
    run();
  }

  // -- start: once htmx has processed the page (its own DOMContentLoaded listener runs first) --
  document.addEventListener("DOMContentLoaded", () => {
    if (tokenRequired && !token()) {
      showLogin("");
    } else {
      signOut.hidden = !tokenRequired;
      refresh();
    }
  });
})();
