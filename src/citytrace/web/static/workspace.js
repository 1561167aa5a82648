// citytrace workspace: upload progress and the route map. Pages work without it.
"use strict";

(function () {
  function setupUpload(form) {
    var progress = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) { return; }
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      progress.hidden = false;
      progress.value = 0;
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var percent = Math.round((e.loaded / e.total) * 100);
        progress.value = percent;
        status.textContent = form.dataset.uploading.replace("{percent}", String(percent));
      });
      xhr.upload.addEventListener("load", function () {
        progress.value = 100;
        status.textContent = form.dataset.processing;
      });
      xhr.addEventListener("load", function () {
        var posted = new URL(form.action, window.location.href).pathname;
        var landed = xhr.responseURL ? new URL(xhr.responseURL).pathname : posted;
        if (landed !== posted) {
          // Redirected after a successful import: show the case page with its report.
          window.location.assign(xhr.responseURL);
          return;
        }
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var fresh = doc.getElementById("evidence");
        var here = document.getElementById("evidence");
        if (fresh && here) {
          here.replaceWith(fresh);
          var newForm = document.getElementById("upload-form");
          if (newForm) { setupUpload(newForm); }
          var report = document.getElementById("import-report");
          if (report) { report.focus(); }
        } else {
          var main = doc.querySelector("main");
          if (main) { document.querySelector("main").replaceWith(main); }
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        progress.hidden = true;
        status.textContent = form.dataset.failed;
      });
      xhr.send(new FormData(form));
    });
  }

  function markerIcon(row) {
    var el = document.createElement("span");
    el.textContent = row.dataset.n;
    return L.divIcon({
      className: "visit-marker " + row.dataset.status,
      html: el,
      iconSize: [26, 26],
      iconAnchor: [13, 13],
    });
  }

  function setupMap(box) {
    if (!window.L) { return; }
    var map = L.map(box, { scrollWheelZoom: false });
    if (box.dataset.tiles) {
      L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap" }).addTo(map);
    }
    fetch(box.dataset.outlines, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geojson) {
        if (!geojson) { return; }
        var outlines = L.geoJSON(geojson, {
          style: { color: "#4a6078", weight: 1, fillColor: "#ffffff", fillOpacity: 0.6 },
          interactive: false,
          onEachFeature: function (feature, layer) {
            var props = feature.properties || {};
            var name = document.documentElement.lang === "ko" ? props.name_ko : props.name_en;
            if (name) {
              layer.bindTooltip(name, { permanent: true, direction: "center", className: "district-label" });
            }
          },
        }).addTo(map);
        outlines.bringToBack();
        box.dataset.outlinesLoaded = "true";
      });
    var rows = document.querySelectorAll("#timeline tr.visit");
    var points = [];
    var path = [];
    rows.forEach(function (row) {
      var at = [parseFloat(row.dataset.lat), parseFloat(row.dataset.lon)];
      var title = row.dataset.n + ". " + row.dataset.label;
      var marker = L.marker(at, { icon: markerIcon(row), title: title, alt: title, keyboard: true });
      marker.on("click", function () {
        row.scrollIntoView({ block: "center" });
        row.querySelector("th").focus();
      });
      marker.addTo(map);
      points.push(at);
      if (row.dataset.status !== "rejected") { path.push(at); }
    });
    if (path.length > 1) {
      L.polyline(path, { color: "#0b5cad", weight: 2, opacity: 0.7, dashArray: "4 4" }).addTo(map);
    }
    // Not closer than a district's scale, so that the outlines around the visits are in view.
    if (points.length) {
      map.fitBounds(points, { padding: [30, 30], maxZoom: 13, animate: false });
    } else {
      map.setView([parseFloat(box.dataset.lat), parseFloat(box.dataset.lon)],
        parseInt(box.dataset.zoom, 10), { animate: false });
    }
    box.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (form) { setupUpload(form); }
    var box = document.getElementById("route-map");
    if (box) { setupMap(box); }
  });
})();
