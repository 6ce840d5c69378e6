/* The associate app and the kiosk: barcode scanning with the vendored ZXing reader (camera,
   or a photo of the barcode), the kiosk's reset after inactivity, and the service worker.
   No framework: plain forms and links do the rest. */
(function () {
  "use strict";

  var zxingLoading = null;
  function loadZXing() {
    if (window.ZXing) { return Promise.resolve(window.ZXing); }
    if (!zxingLoading) {
      zxingLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/assets/vendor/zxing/zxing.umd.min.js";
        s.onload = function () { resolve(window.ZXing); };
        s.onerror = function () { reject(new Error("the barcode reader did not load")); };
        document.head.appendChild(s);
      });
    }
    return zxingLoading;
  }

  function makeReader(ZX) {
    var hints = new Map();
    hints.set(ZX.DecodeHintType.POSSIBLE_FORMATS, [ZX.BarcodeFormat.EAN_13, ZX.BarcodeFormat.EAN_8,
      ZX.BarcodeFormat.UPC_A, ZX.BarcodeFormat.UPC_E, ZX.BarcodeFormat.CODE_128, ZX.BarcodeFormat.CODE_39,
      ZX.BarcodeFormat.QR_CODE]);
    hints.set(ZX.DecodeHintType.TRY_HARDER, true);
    return new ZX.BrowserMultiFormatReader(hints);
  }

  function initScanner(box) {
    var status = box.querySelector("[data-scan-status]");
    var target = box.getAttribute("data-target");
    var param = box.getAttribute("data-param") || "code";
    var video = box.querySelector("video");
    var reader = null;
    function say(text) { if (status) { status.textContent = text; } }
    function found(text) {
      say("Read " + text);
      if (reader) { try { reader.reset(); } catch (e) { /* already stopped */ } }
      window.location.href = target + "?" + param + "=" + encodeURIComponent(text);
    }
    var file = box.querySelector("[data-scan-file]");
    if (file) {
      file.addEventListener("change", function () {
        if (!file.files || !file.files[0]) { return; }
        say("Reading the barcode…");
        var url = URL.createObjectURL(file.files[0]);
        loadZXing().then(function (ZX) {
          reader = makeReader(ZX);
          return reader.decodeFromImageUrl(url);
        }).then(function (result) {
          found(result.getText());
        }).catch(function () {
          say("No barcode could be read from this photo. Try again closer, or type the code.");
          box.setAttribute("data-scan-failed", "1");
        }).then(function () { URL.revokeObjectURL(url); });
      });
    }
    var camera = box.querySelector("[data-scan-camera]");
    if (camera) {
      camera.addEventListener("click", function () {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
          say("This browser gives no camera here: take a photo of the barcode, or type the code.");
          return;
        }
        say("Point the camera at the barcode…");
        video.hidden = false;
        loadZXing().then(function (ZX) {
          reader = makeReader(ZX);
          return reader.decodeFromVideoDevice(null, video, function (result) {
            if (result) { found(result.getText()); }
          });
        }).catch(function (e) {
          video.hidden = true;
          say("The camera could not be used (" + (e && e.name ? e.name : "no camera") + "): take a photo or type the code.");
        });
      });
    }
  }

  function initKiosk() {
    var body = document.body;
    var seconds = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
    var form = document.getElementById("kiosk-reset");
    if (!seconds || !form) { return; }
    var timer = null;
    function arm() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () {
        var reason = form.querySelector("input[name=reason]");
        if (reason) { reason.value = "idle"; }
        form.submit();
      }, seconds * 1000);
    }
    ["click", "keydown", "touchstart", "input", "scroll"].forEach(function (ev) {
      document.addEventListener(ev, arm, { passive: true });
    });
    arm();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-scanner]"), initScanner);
    if (document.body.classList.contains("app-kiosk")) { initKiosk(); }
    if ("serviceWorker" in navigator && document.body.classList.contains("app-associate") &&
        location.pathname.indexOf("/associate") === 0) {
      navigator.serviceWorker.register("/associate/sw.js", { scope: "/associate" }).catch(function () { /* optional */ });
    }
  });
})();
