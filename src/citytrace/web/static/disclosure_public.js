// The public list of places on a map: district outlines, one marker per place with a position.
// The list works without it; each marker is reachable by keyboard and leads to its list item.
"use strict";

(function () {
  function markerFor(item, map) {
    var at = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
    var label = item.dataset.label;
    var icon = L.divIcon({ className: "place-marker", iconSize: [18, 18], iconAnchor: [9, 9] });
    var marker = L.marker(at, { icon: icon, title: label, alt: label, keyboard: true });
    function select() {
      document.querySelectorAll("#places .place.selected").forEach(function (el) {
        el.classList.remove("selected");
      });
      item.classList.add("selected");
      item.scrollIntoView({ block: "center" });
      item.focus();
    }
    marker.on("click", select);
    // Leaflet turns Enter on a marker into a popup only: a button answers Enter and Space.
    marker.on("keypress", function (e) {
      var key = e.originalEvent.key;
      if (key === "Enter" || key === " ") {
        e.originalEvent.preventDefault();
        select();
      }
    });
    marker.addTo(map);
    var el = marker.getElement();
    if (el) {
      el.setAttribute("role", "button");
      el.setAttribute("aria-label", label);
    }
  }

  function setupMap(box) {
    if (!window.L) { return; }
    var map = L.map(box, { scrollWheelZoom: false, keyboard: true });
    if (box.dataset.tiles) {
      L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap" }).addTo(map);
    }
    var district = box.dataset.district;
    var items = document.querySelectorAll("#places .place[data-lat]");
    var points = [];
    items.forEach(function (item) {
      points.push([parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)]);
    });
    // The view first: markers get their elements once the map has one.
    if (points.length) {
      map.fitBounds(points, { padding: [30, 30], maxZoom: 15, animate: false });
    } else {
      map.setView([parseFloat(box.dataset.lat), parseFloat(box.dataset.lon)],
        parseInt(box.dataset.zoom, 10), { animate: false });
    }
    items.forEach(function (item) { markerFor(item, map); });
    fetch(box.dataset.outlines)
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geojson) {
        if (!geojson) { return; }
        var chosen = null;
        var outlines = L.geoJSON(geojson, {
          style: function (feature) {
            var mine = district && feature.properties && feature.properties.code === district;
            return mine
              ? { color: "#0b5cad", weight: 3, fillColor: "#dbe9f8", fillOpacity: 0.5 }
              : { color: "#4a6078", weight: 1, fillColor: "#ffffff", fillOpacity: 0.4 };
          },
          interactive: false,
          onEachFeature: function (feature, layer) {
            var props = feature.properties || {};
            if (district && props.code === district) { chosen = layer; }
            var name = document.documentElement.lang === "ko" ? props.name_ko : props.name_en;
            if (name) {
              layer.bindTooltip(name, { permanent: true, direction: "center", className: "district-label" });
            }
          },
        }).addTo(map);
        outlines.bringToBack();
        if (chosen) {
          // A district's page shows the whole district, its places within it.
          map.fitBounds(chosen.getBounds(), { padding: [10, 10], animate: false });
        }
        box.dataset.outlinesLoaded = "true";
      });
    box.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("places-map");
    if (box) { setupMap(box); }
  });
})();
