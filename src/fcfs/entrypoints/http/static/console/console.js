// The live event console (DESIGN.md §10). No library: a fetch-based Server-Sent Events reader
// (EventSource cannot send the admin token as a header, and the token never goes in a URL),
// counters, an SVG chart and the pause / resume / close / top-up controls.
"use strict";

(() => {
  const couponId = (location.pathname.match(/\/console\/coupons\/(\d+)/) || [])[1];
  const api = `/api/v1/coupons/${couponId}`;
  const HISTORY = 300; // seconds kept on the chart
  const SERIES = ["remaining", "accepted", "persisted"];
  const state = { token: "", history: [], controller: null, needsToken: false };
  window.fcfsConsole = state; // what a test (or a curious operator) can read

  const $ = (id) => document.getElementById(id);
  const show = (id, text) => { $(id).textContent = String(text); };

  function headers(extra) {
    const all = Object.assign({ Accept: "text/event-stream" }, extra || {});
    if (state.token) all.Authorization = `Bearer ${state.token}`;
    return all;
  }

  function render(snapshot) {
    for (const name of ["remaining", "accepted", "persisted", "pending"]) show(name, snapshot[name]);
    show("lag", snapshot.lag === null ? "?" : snapshot.lag);
    show("total", snapshot.totalQuantity);
    const badge = $("state");
    badge.textContent = snapshot.state;
    badge.className = `state ${snapshot.state}`;
    show("clock", new Date(snapshot.second * 1000).toLocaleTimeString());
    const body = $("answers").tBodies[0];
    body.replaceChildren(...Object.entries(snapshot.answers).map(([code, count]) => {
      const row = document.createElement("tr");
      row.dataset.code = code;
      for (const text of [code, count]) {
        const cell = document.createElement("td");
        cell.textContent = String(text);
        row.append(cell);
      }
      return row;
    }));
    const last = state.history[state.history.length - 1];
    if (!last || last.second !== snapshot.second) state.history.push(snapshot);
    if (state.history.length > HISTORY) state.history.shift();
    draw();
  }

  function draw() {
    const svg = $("chart");
    const [width, height, pad] = [640, 260, 8];
    const points = state.history;
    const first = points.length ? points[0].second : 0;
    const span = Math.max(points.length ? points[points.length - 1].second - first : 0, 30);
    const x = (p) => pad + ((p.second - first) / span) * (width - 2 * pad);
    const top = Math.max(1, ...points.map((p) => Math.max(p.totalQuantity, p.accepted, p.remaining)));
    const y = (value, scale) => height - pad - (value / scale) * (height - 2 * pad);
    for (const name of SERIES) {
      svg.querySelector(`polyline[data-series="${name}"]`).setAttribute(
        "points", points.map((p) => `${x(p).toFixed(1)},${y(p[name], top).toFixed(1)}`).join(" "));
    }
    const perSecond = points.map((p) => Object.values(p.answers).reduce((a, b) => a + b, 0));
    const busiest = Math.max(1, ...perSecond);
    svg.querySelector('polyline[data-series="answers"]').setAttribute(
      "points", points.map((p, i) => `${x(p).toFixed(1)},${y(perSecond[i], busiest).toFixed(1)}`).join(" "));
    svg.dataset.points = String(points.length);
    const grid = $("grid");
    if (!grid.childElementCount) {
      for (let i = 0; i <= 4; i += 1) {
        const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
        const at = pad + (i * (height - 2 * pad)) / 4;
        line.setAttribute("x1", "0"); line.setAttribute("x2", String(width));
        line.setAttribute("y1", String(at)); line.setAttribute("y2", String(at));
        grid.append(line);
      }
    }
  }

  function dispatch(block) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // keep-alive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    const payload = JSON.parse(data.join("\n"));
    if (event === "snapshot") {
      render(payload);
      show("connection", "live");
    } else if (event === "unavailable" || event === "gone") {
      show("connection", payload.message);
    }
  }

  async function listen(signal) {
    const response = await fetch(`${api}/live`, { headers: headers(), signal, cache: "no-store" });
    if (response.status === 401) {
      state.needsToken = true;
      show("connection", "admin token required");
      $("token").focus();
      return false;
    }
    if (!response.ok) {
      const envelope = await response.json().catch(() => null);
      show("connection", envelope ? `${envelope.code} ${envelope.message}` : `HTTP ${response.status}`);
      return response.status < 400 || response.status >= 500; // a 404 will not change by retrying
    }
    state.needsToken = false;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      buffer = (buffer + value).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  async function connect() {
    if (state.controller) state.controller.abort();
    const controller = (state.controller = new AbortController());
    show("connection", "connecting…");
    while (!controller.signal.aborted) {
      let again = true;
      try {
        again = await listen(controller.signal);
      } catch (error) {
        if (controller.signal.aborted) return;
        show("connection", "reconnecting…");
      }
      if (!again) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function command(path, body) {
    const init = { method: "POST", headers: headers({ Accept: "application/json" }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(`${api}/${path}`, init);
      const envelope = await response.json();
      show("message", `${path}: ${envelope.code} ${envelope.message}`);
      $("message").dataset.code = envelope.code;
    } catch (error) {
      show("message", `${path}: ${error}`);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    show("coupon-id", couponId || "?");
    if (!couponId) {
      show("connection", "no coupon id in the address");
      return;
    }
    $("auth").addEventListener("submit", (event) => {
      event.preventDefault();
      state.token = $("token").value.trim();
      $("token").value = "";
      $("token").placeholder = state.token ? "admin token set" : "admin token (kept in this page only)";
      connect();
    });
    for (const button of document.querySelectorAll("button[data-action]")) {
      button.addEventListener("click", () => command(button.dataset.action));
    }
    $("top-up").addEventListener("click", () => {
      command("stock", { add: Number.parseInt($("top-up-amount").value, 10) });
    });
    connect(); // an open development setup needs no token; otherwise the page asks for it
  });
})();
