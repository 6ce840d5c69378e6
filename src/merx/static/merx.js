/*
 * Merx storefront tracking (vocabulary v1). Include it on a shop page:
 *
 *   <script src="https://shop.example/static/merx.js" data-endpoint="https://merx.example"></script>
 *   <script>
 *     merx.page();                                            // page_view
 *     merx.product({sku: "MUG-1", name: "Mug", price: "9.90", currency: "EUR"});
 *     merx.addToCart({sku: "MUG-1", quantity: 1});
 *     merx.removeFromCart({sku: "MUG-1", quantity: 1});
 *     merx.checkout({value: "9.90", currency: "EUR"});
 *     merx.search("blue mug", 12);
 *     merx.track("review", {sku: "MUG-1", rating: 5});
 *   </script>
 *
 * Events are queued and sent in batches (POST /api/v1/events) every few seconds and when the
 * page is hidden (navigator.sendBeacon). The anonymous id lives in localStorage (falling
 * back to a first-party cookie); UTM parameters and a `qr` parameter are kept for the
 * session as source and campaign. Nothing personal is collected unless the shop calls
 * merx.identify({link_token: ...}) after a login, with the token the shop's back office got from
 * POST /api/v1/customers/{id}/link-token (other identifiers alone never join a known profile).
 */
(function (window, document) {
  "use strict";
  if (window.merx && window.merx.__loaded) { return; }

  var script = document.currentScript || (function () {
    var all = document.getElementsByTagName("script");
    return all[all.length - 1];
  })();
  var endpoint = ((script && script.getAttribute("data-endpoint")) || "").replace(/\/$/, "");
  var channel = (script && script.getAttribute("data-channel")) || "web";
  var KEY = "merx_aid";
  var queue = [];
  var timer = null;
  var MAX_BATCH = 100;     // the server accepts 100 events per anonymous batch
  var FLUSH_MS = 3000;

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    });
  }

  function readCookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }

  function anonymousId() {
    var id = null;
    try { id = window.localStorage.getItem(KEY); } catch (e) { id = null; }
    id = id || readCookie(KEY);
    if (!id) {
      id = uuid();
      try { window.localStorage.setItem(KEY, id); } catch (e) { /* storage disabled: the cookie carries it */ }
      document.cookie = KEY + "=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax";
    }
    return id;
  }

  function attribution() {
    var stored = null;
    try { stored = JSON.parse(window.sessionStorage.getItem("merx_attr") || "null"); } catch (e) { stored = null; }
    var params = new URLSearchParams(window.location.search);
    var source = params.get("utm_source") || (params.get("qr") ? "qr" : null);
    var campaign = params.get("utm_campaign") || params.get("qr");
    if (source || campaign) {
      stored = {source: source, campaign: campaign};
      try { window.sessionStorage.setItem("merx_attr", JSON.stringify(stored)); } catch (e) { /* ignore */ }
    }
    return stored || {};
  }

  function send(events, useBeacon) {
    if (!events.length) { return; }
    var body = JSON.stringify({events: events});
    var url = endpoint + "/api/v1/events";
    if (useBeacon && navigator.sendBeacon) {
      navigator.sendBeacon(url, new Blob([body], {type: "application/json"}));
      return;
    }
    fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: body, keepalive: true,
                credentials: "omit"}).catch(function () { /* tracking never breaks the shop */ });
  }

  function flush(useBeacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length) { send(queue.splice(0, MAX_BATCH), useBeacon); }
  }

  function track(type, properties) {
    var attr = attribution();
    var event = {type: type, anonymous_id: anonymousId(), channel: channel,
                 timestamp: new Date().toISOString(), properties: properties || {}};
    if (attr.source) { event.source = String(attr.source).slice(0, 100); }
    if (attr.campaign) { event.campaign = String(attr.campaign).slice(0, 100); }
    queue.push(event);
    if (queue.length >= MAX_BATCH) { flush(false); }
    else if (!timer) { timer = setTimeout(function () { flush(false); }, FLUSH_MS); }
  }

  function pick(obj, keys) {
    var out = {};
    keys.forEach(function (k) { if (obj && obj[k] !== undefined && obj[k] !== null) { out[k] = obj[k]; } });
    return out;
  }

  var PRODUCT = ["product_id", "sku", "name", "category", "price", "currency"];

  window.merx = {
    __loaded: true,
    anonymousId: anonymousId,
    track: track,
    flush: function () { flush(false); },
    page: function (extra) {
      var props = {url: window.location.href.slice(0, 2000), title: document.title.slice(0, 500)};
      if (document.referrer) { props.referrer = document.referrer.slice(0, 2000); }
      track("page_view", Object.assign(props, pick(extra, ["path"])));
    },
    product: function (p) { track("product_view", pick(p, PRODUCT)); },
    addToCart: function (p) { track("add_to_cart", pick(p, PRODUCT.concat(["quantity", "cart_id"]))); },
    removeFromCart: function (p) { track("remove_from_cart", pick(p, PRODUCT.concat(["quantity", "cart_id"]))); },
    checkout: function (p) { track("checkout_started", pick(p, ["cart_id", "value", "currency", "items"])); },
    search: function (query, results) {
      var props = {query: String(query).slice(0, 500)};
      if (typeof results === "number") { props.results = results; }
      track("search", props);
    },
    identify: function (identifiers) {
      flush(false);
      var body = Object.assign({anonymous_id: anonymousId()}, pick(identifiers, ["link_token", "email", "phone", "loyalty_card"]));
      return fetch(endpoint + "/api/v1/identify", {method: "POST", headers: {"Content-Type": "application/json"},
                                                   body: JSON.stringify(body), credentials: "omit"});
    }
  };

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(true); }
  });
})(window, document);
