// citytrace screening pages: "use my location", camera scanning of check-in QR codes and a
// queue that refreshes itself. Every page works without this script.
"use strict";

(function () {
  function setupLocation() {
    var button = document.getElementById("use-location");
    var form = document.getElementById("find-form");
    if (!button || !form || !navigator.geolocation) { return; }
    var status = document.getElementById("location-status");
    var lat = document.getElementById("lat");
    var lon = document.getElementById("lon");
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = button.dataset.locating;
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lon.value = position.coords.longitude.toFixed(6);
        lat.disabled = false;
        lon.disabled = false;
        document.getElementById("district").value = "";
        form.submit();
      }, function () {
        button.disabled = false;
        status.textContent = button.dataset.failed;
      }, { maximumAge: 300000, timeout: 15000 });
    });
  }

  function setupCameraScan() {
    var button = document.getElementById("scan-camera");
    var input = document.getElementById("checkin-code");
    if (!button || !input) { return; }
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
    var video = document.getElementById("scan-video");
    var status = document.getElementById("scan-status");
    var stream = null;
    button.hidden = false;

    function stop() {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
      stream = null;
      video.hidden = true;
    }

    button.addEventListener("click", function () {
      if (stream) { stop(); status.textContent = ""; return; }
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
        .then(function (s) {
          stream = s;
          video.srcObject = s;
          video.hidden = false;
          status.textContent = button.dataset.scanning;
          return video.play();
        })
        .then(function scan() {
          if (!stream) { return; }
          detector.detect(video).then(function (codes) {
            if (codes.length) {
              input.value = codes[0].rawValue;
              stop();
              input.form.submit();
            } else {
              window.setTimeout(scan, 250);
            }
          }).catch(function () { window.setTimeout(scan, 500); });
        })
        .catch(function () {
          stop();
          status.textContent = button.dataset.unavailable;
        });
    });
  }

  function setupQueuePolling() {
    var queue = document.getElementById("queue");
    if (!queue || !queue.dataset.poll || !window.fetch) { return; }
    var version = null;

    function busy() {
      // Never reload under someone typing or choosing.
      var active = document.activeElement;
      if (active && active.tagName === "INPUT" && active.value) { return true; }
      var fields = document.querySelectorAll("main input:not([type=hidden]), main select");
      for (var i = 0; i < fields.length; i++) {
        if (fields[i].type !== "checkbox" && fields[i].type !== "radio" && fields[i].value &&
            fields[i].tagName !== "SELECT") { return true; }
      }
      return document.querySelector("details[open]") !== null;
    }

    function poll() {
      fetch(queue.dataset.poll, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          if (version !== null && data.version !== version && !busy()) {
            window.location.reload();
            return;
          }
          version = data.version;
        })
        .catch(function () { /* offline for a moment: try again later */ })
        .then(function () { window.setTimeout(poll, 10000); });
    }
    poll();
  }

  setupLocation();
  setupCameraScan();
  setupQueuePolling();
})();
