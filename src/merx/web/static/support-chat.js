// Storefront live chat. A chat starts with the first message (POST /api/v1/chats); the
// visitor's token stays in sessionStorage for this tab. New messages arrive over a WebSocket;
// where that is blocked (a proxy, a firewall) the widget falls back to long polling.
(function () {
  "use strict";
  var KEY = "merx-chat";
  var state = JSON.parse(sessionStorage.getItem(KEY) || "null");
  var seen = {}, last = 0, socket = null, polling = false;
  function $(id) { return document.getElementById(id); }
  function save() { sessionStorage.setItem(KEY, JSON.stringify(state)); }
  function status(text) { $("chat-state").textContent = text || ""; }
  function show(messages) {
    (messages || []).forEach(function (m) {
      if (seen[m.id]) return;
      seen[m.id] = true; last = Math.max(last, m.id);
      var li = document.createElement("li");
      li.className = "chat-" + m.sender;
      li.dataset.id = m.id;
      var who = document.createElement("strong");
      who.textContent = { visitor: "You", agent: "Shop", bot: "Bot" }[m.sender] || m.sender;
      li.appendChild(who);
      li.appendChild(document.createTextNode(" " + m.body));  // text, never HTML
      $("chat-log").appendChild(li);
    });
  }
  function problem(body) { status((body && (body.detail || body.title)) || "Could not send; try again."); }
  function poll() {
    if (polling || !state) return;
    polling = true;
    fetch("/api/v1/chats/" + state.id + "/messages?wait=20&after=" + last, { headers: { "X-Chat-Token": state.token } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (ms) { polling = false; show(ms); poll(); })
      .catch(function () { polling = false; setTimeout(poll, 3000); });
  }
  function connect() {
    if (!state || socket) return;
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var opened = false;
    try {
      socket = new WebSocket(proto + "//" + location.host + "/api/v1/chats/" + state.id + "/ws?token=" +
                             encodeURIComponent(state.token) + "&after=" + last);
    } catch (e) { socket = null; poll(); return; }
    socket.onopen = function () { opened = true; status(""); };
    socket.onmessage = function (e) {
      var data = JSON.parse(e.data);
      if (data.messages) show(data.messages);
      if (data.error) problem(data.error);
    };
    socket.onclose = function () { socket = null; if (!opened) { status("Live connection unavailable; still listening."); } poll(); };
  }
  function send(text) {
    if (!state) {
      // A signed-in shopper's cookie goes along (same origin) with the page's CSRF token, so
      // the chat is linked to their customer profile; a guest's chat stays anonymous.
      var csrf = document.querySelector('meta[name="csrf-token"]');
      return fetch("/api/v1/chats", { method: "POST", credentials: "same-origin",
                                      headers: { "Content-Type": "application/json",
                                                 "X-CSRF-Token": csrf ? csrf.content : "" },
                                      body: JSON.stringify({ message: text }) })
        .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
        .then(function (rb) {
          if (!rb[0].ok) return problem(rb[1]);
          state = { id: rb[1].id, token: rb[1].token }; save();
          show(rb[1].messages); connect();
        });
    }
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify({ body: text })); return Promise.resolve(); }
    return fetch("/api/v1/chats/" + state.id + "/messages", { method: "POST",
        headers: { "Content-Type": "application/json", "X-Chat-Token": state.token }, body: JSON.stringify({ body: text }) })
      .then(function (r) { return r.json().then(function (b) { if (!r.ok) problem(b); else show(b); }); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!$("chat-widget")) return;
    $("chat-open").addEventListener("click", function () {
      $("chat-panel").hidden = !$("chat-panel").hidden;
      if (!$("chat-panel").hidden) $("chat-input").focus();
    });
    $("chat-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var text = $("chat-input").value.trim();
      if (!text) return;
      $("chat-input").value = "";
      send(text);
    });
    if (state) {
      $("chat-panel").hidden = false;
      fetch("/api/v1/chats/" + state.id + "/messages", { headers: { "X-Chat-Token": state.token } })
        .then(function (r) { if (!r.ok) { state = null; sessionStorage.removeItem(KEY); return []; } return r.json(); })
        .then(function (ms) { show(ms); connect(); });
    }
  });
})();
