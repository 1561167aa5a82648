// The self-check: a citizen's location history, read from a file on this device, against the
// published places and their times. Nothing of the file leaves the page: it is read with a
// FileReader, and the only request is the GET of the public list.
"use strict";

(function () {
  var box = document.getElementById("self-check");
  var input = document.getElementById("history");
  if (!box || !input) { return; }
  var result = document.getElementById("check-result");
  var list = document.getElementById("check-matches");
  var clinic = document.getElementById("check-clinic");
  var radius = parseFloat(box.dataset.radiusM) || 100;
  var EARTH_M = 6371000;

  function metres(lat1, lon1, lat2, lon2) {
    var rad = Math.PI / 180;
    var a = Math.pow(Math.sin((lat2 - lat1) * rad / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin((lon2 - lon1) * rad / 2), 2);
    return 2 * EARTH_M * Math.asin(Math.sqrt(Math.min(1, a)));
  }

  function when(value) {  // ISO 8601 text or milliseconds (as a number or text)
    if (value === undefined || value === null) { return NaN; }
    if (typeof value === "number" || /^\d+$/.test(value)) { return Number(value); }
    return Date.parse(value);
  }

  function e7(value) { return typeof value === "number" ? value / 1e7 : NaN; }

  function latLng(text) {  // "37.5665°, 126.978°" (the phone's Timeline export)
    var parts = String(text || "").replace(/°/g, "").split(",");
    return parts.length === 2 ? [parseFloat(parts[0]), parseFloat(parts[1])] : [NaN, NaN];
  }

  function keep(out, lat, lon, start, end) {  // a stay {lat, lon, start, end} (ms), if whole
    if (isFinite(lat) && isFinite(lon) && isFinite(start)) {
      out.push({ lat: lat, lon: lon, start: start, end: isFinite(end) ? end : start });
    }
  }

  // Stays from the formats Google has given: Takeout's Records.json
  // (points), its Semantic Location History (place visits), and the phone's Timeline export.
  function stays(doc) {
    var out = [];
    var add = keep.bind(null, out);
    (doc.locations || []).forEach(function (p) {
      var t = when(p.timestamp !== undefined ? p.timestamp : p.timestampMs);
      add(e7(p.latitudeE7), e7(p.longitudeE7), t, t);
    });
    (doc.timelineObjects || []).forEach(function (o) {
      var v = o.placeVisit;
      if (!v) { return; }
      var at = v.location || {};
      var d = v.duration || {};
      add(e7(at.latitudeE7 !== undefined ? at.latitudeE7 : v.centerLatE7),
        e7(at.longitudeE7 !== undefined ? at.longitudeE7 : v.centerLngE7),
        when(d.startTimestamp !== undefined ? d.startTimestamp : d.startTimestampMs),
        when(d.endTimestamp !== undefined ? d.endTimestamp : d.endTimestampMs));
    });
    var segments = Array.isArray(doc) ? doc : (doc.semanticSegments || []);
    segments.forEach(function (s) {
      if (s.visit && s.visit.topCandidate && s.visit.topCandidate.placeLocation) {
        var at = latLng(s.visit.topCandidate.placeLocation.latLng);
        add(at[0], at[1], when(s.startTime), when(s.endTime));
      }
      (s.timelinePath || []).forEach(function (p) {
        var pt = latLng(p.point);
        add(pt[0], pt[1], when(p.time), when(p.time));
      });
    });
    return out;
  }

  // Stays from XML: GPX (track, route and way points with a time: a GPS tracker's or a sports
  // app's export) and KML (place visits with a time span or stamp, and gx:Track's when/coord
  // pairs: the Timeline's export of a day in Google Maps). Read by pattern rather than with
  // DOMParser, whose error document for a broken file carries inline styles the page's policy
  // refuses, and which would hold a whole DOM of a long track in memory.
  function xmlStays(text) {
    var out = [];
    var add = keep.bind(null, out);
    var patterns = {};
    function elements(name, within) {  // [attributes, content] of each <name> (any prefix)
      var pattern = patterns[name] || (patterns[name] = new RegExp(
        "<(?:[\\w.-]+:)?" + name + "\\b([^>]*?)(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?" + name + "\\s*>)",
        "g"));
      pattern.lastIndex = 0;
      var found = [];
      var m;
      while ((m = pattern.exec(within)) !== null) { found.push([m[1], m[2] || ""]); }
      return found;
    }
    function first(name, within) {
      var found = elements(name, within);
      return found.length ? found[0][1].trim() : null;
    }
    function attribute(name, attributes) {
      var m = new RegExp("\\b" + name + "\\s*=\\s*[\"']([^\"']*)[\"']").exec(attributes);
      return m ? parseFloat(m[1]) : NaN;
    }
    ["trkpt", "rtept", "wpt"].forEach(function (tag) {
      elements(tag, text).forEach(function (p) {
        var t = when(first("time", p[1]));
        add(attribute("lat", p[0]), attribute("lon", p[0]), t, t);
      });
    });
    elements("Placemark", text).forEach(function (m) {
      var point = elements("Point", m[1]);  // a place visit (not a path, nor a track)
      if (!point.length) { return; }
      var xy = String(first("coordinates", point[0][1]) || "").split(",");
      var begin = first("begin", m[1]);
      var stamp = first("when", m[1]);
      add(parseFloat(xy[1]), parseFloat(xy[0]), when(begin !== null ? begin : stamp),
        when(begin !== null ? first("end", m[1]) : stamp));
    });
    elements("Track", text).forEach(function (track) {
      var times = elements("when", track[1]);
      var coords = elements("coord", track[1]);
      for (var i = 0; i < Math.min(times.length, coords.length); i++) {
        var c = coords[i][1].trim().split(/\s+/);
        var t = when(times[i][1].trim());
        add(parseFloat(c[1]), parseFloat(c[0]), t, t);
      }
    });
    return out;
  }

  // Listed places met: a stay within the radius of the place while it was exposed. A history of
  // years holds millions of points: only those within the list's days are compared, and a
  // latitude far off is passed over before the distance.
  function meetings(entries, all) {
    var found = [];
    var first = Infinity;
    var last = -Infinity;
    entries.forEach(function (e) {
      first = Math.min(first, Date.parse(e.exposure_start));
      last = Math.max(last, Date.parse(e.exposure_end));
    });
    var mine = all.filter(function (s) { return s.start <= last && s.end >= first; });
    var degrees = radius / 111000 * 1.01;
    entries.forEach(function (e) {
      if (e.latitude === null || e.longitude === null) { return; }
      var start = Date.parse(e.exposure_start);
      var end = Date.parse(e.exposure_end);
      for (var i = 0; i < mine.length; i++) {
        var s = mine[i];
        if (s.start <= end && s.end >= start && Math.abs(s.lat - e.latitude) <= degrees &&
            metres(s.lat, s.lon, e.latitude, e.longitude) <= radius) {
          found.push({ entry: e, stay: s });
          return;
        }
      }
    });
    return found;
  }

  function say(text) { result.textContent = text; }

  function show(found, count) {
    list.replaceChildren();
    if (!found.length) {
      say(box.dataset.none.replace("{stays}", String(count)));
      clinic.hidden = true;
      return;
    }
    say(box.dataset.found.replace("{n}", String(found.length)));
    found.forEach(function (m) {
      var item = document.createElement("li");
      var at = new Date(m.stay.start).toLocaleString();
      item.textContent = (m.entry.business_name || m.entry.place_kind) + " · " +
        (m.entry.road_address || m.entry.district_name_ko || m.entry.district_code) + " · " + at;
      list.appendChild(item);
    });
    clinic.hidden = false;
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) { return; }
    say(box.dataset.reading);
    var reader = new FileReader();
    reader.onerror = function () { say(box.dataset.bad); };
    reader.onload = function () {
      var mine;
      var text = String(reader.result).replace(/^\uFEFF/, "").trim();
      try {
        mine = text.charAt(0) === "<" ? xmlStays(text) : stays(JSON.parse(text));
      } catch (err) {
        mine = null;
      }
      if (!mine || !mine.length) {
        list.replaceChildren();
        clinic.hidden = true;
        say(box.dataset.bad);
        return;
      }
      fetch(box.dataset.feed, { method: "GET", credentials: "omit" })
        .then(function (r) { return r.json(); })
        .then(function (doc) { show(meetings(doc.entries || [], mine), mine.length); })
        .catch(function () { say(box.dataset.bad); });
    };
    reader.readAsText(file);
  });
})();
