/* The associate app's service worker: keeps the app shell (style, script, barcode reader) for
   a quick start and shows an offline page when the store's network drops. Pages and data are
   always fetched live (stock and orders must never come from a stale cache). */
var SHELL = "merx-associate-v1";
var ASSETS = ["/assets/associate.css", "/assets/associate.js", "/assets/vendor/zxing/zxing.umd.min.js",
              "/assets/favicon.svg"];
var OFFLINE = "<!doctype html><meta name=viewport content='width=device-width'><title>Offline</title>" +
  "<body style='font:16px system-ui;padding:1.5rem'><h1>No connection</h1><p>The store app needs the network " +
  "for stock and orders. Check the Wi-Fi and try again.</p><p><a href='/associate'>Retry</a></p></body>";

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.addAll(ASSETS); }));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL; }).map(function (k) { return caches.delete(k); }));
  }));
  self.clients.claim();
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") { return; }
  var url = new URL(req.url);
  if (ASSETS.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.match(req).then(function (hit) { return hit || fetch(req); }));
  } else if (req.mode === "navigate") {
    event.respondWith(fetch(req).catch(function () {
      return new Response(OFFLINE, { headers: { "Content-Type": "text/html; charset=utf-8" } });
    }));
  }
});
