// paperfeed map: drag to pan, wheel or pinch-free buttons to zoom, hover for a
// paper's title, click to open it. The server draws every view (/map/view); this
// only computes the new centre and zoom, swaps the picture and updates the URL.
// Without JavaScript the same links pan and zoom. No inline code (CSP).
(function () {
  "use strict";
  var canvas = document.getElementById("map-canvas");
  if (!canvas || !window.fetch) return;
  var titles = {};
  var loading = null;

  function state() {
    var svg = canvas.querySelector("svg.map");
    if (!svg) return null;
    var w = svg.getAttribute("data-window").split(",").map(Number);
    return { svg: svg, x0: w[0], x1: w[1], y0: w[2], y1: w[3], zoom: Number(svg.getAttribute("data-zoom")) };
  }

  function toMap(s, clientX, clientY) {
    var box = s.svg.getBoundingClientRect();
    var fx = (clientX - box.left) / box.width, fy = (clientY - box.top) / box.height;
    return { x: s.x0 + fx * (s.x1 - s.x0), y: s.y1 - fy * (s.y1 - s.y0) };
  }

  function load(url, push) {
    if (loading) loading.abort();
    loading = new AbortController();
    canvas.classList.add("loading");
    var viewUrl = url.replace(/^\/map(\?|$)/, "/map/view$1");
    fetch(viewUrl, { signal: loading.signal, headers: { "HX-Request": "true" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#map-canvas");
        if (!fresh) return;
        canvas.replaceWith(fresh);
        canvas = fresh;
        wire();
        if (push) history.replaceState(null, "", url);
      })
      .catch(function () { canvas.classList.remove("loading"); });
  }

  function go(x, y, zoom) {
    var params = new URLSearchParams(location.search);
    params.set("x", x.toFixed(4));
    params.set("y", y.toFixed(4));
    if (zoom <= 1) { params.delete("z"); } else { params.set("z", String(Math.round(zoom * 100) / 100)); }
    load("/map?" + params.toString(), true);
  }

  function points(s) {
    var found = [];
    s.svg.querySelectorAll("path.dots").forEach(function (path) {
      var ids = (path.getAttribute("data-ids") || "").split(" ");
      var move = /M(-?[\d.]+) (-?[\d.]+)h0/g, match, i = 0;
      while ((match = move.exec(path.getAttribute("d") || "")) !== null && i < ids.length) {
        found.push({ id: ids[i++], x: Number(match[1]), y: Number(match[2]) });
      }
    });
    return found;
  }

  function nearest(s, list, clientX, clientY) {
    var box = s.svg.getBoundingClientRect();
    var vx = (clientX - box.left) / box.width * 1000, vy = (clientY - box.top) / box.height * 625;
    var best = null, bestD = 64; // within 8 picture units
    list.forEach(function (p) {
      var d = (p.x - vx) * (p.x - vx) + (p.y - vy) * (p.y - vy);
      if (d < bestD) { best = p; bestD = d; }
    });
    return best;
  }

  function wire() {
    var s = state();
    if (!s) return;
    var tip = document.getElementById("map-tip");
    var list = points(s);
    var layer = s.svg.querySelector("g.layer");
    var drag = null, moved = false, wheelTimer = null, scale = 1;

    canvas.querySelectorAll("a[data-map-nav]").forEach(function (a) {
      a.addEventListener("click", function (e) { e.preventDefault(); load(a.getAttribute("href"), true); });
    });
    s.svg.addEventListener("pointerdown", function (e) {
      if (e.target.closest("a")) return;
      drag = { x: e.clientX, y: e.clientY };
      moved = false;
      s.svg.setPointerCapture(e.pointerId);
    });
    s.svg.addEventListener("pointermove", function (e) {
      if (drag) {
        var box = s.svg.getBoundingClientRect();
        var dx = (e.clientX - drag.x) / box.width * 1000, dy = (e.clientY - drag.y) / box.height * 625;
        if (Math.abs(dx) + Math.abs(dy) > 4) moved = true;
        layer.setAttribute("transform", "translate(" + dx + " " + dy + ")");
        return;
      }
      var hit = nearest(s, list, e.clientX, e.clientY);
      s.svg.classList.toggle("over-paper", !!hit);
      if (!hit || !tip) return;
      if (titles[hit.id]) { tip.textContent = titles[hit.id]; return; }
      tip.textContent = hit.id;
      fetch("/api/papers/" + encodeURIComponent(hit.id)).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (paper) { if (paper && paper.title) { titles[hit.id] = paper.title; tip.textContent = paper.title; } });
    });
    s.svg.addEventListener("pointerup", function (e) {
      if (!drag) return;
      var start = drag;
      drag = null;
      if (moved) {
        var a = toMap(s, start.x, start.y), b = toMap(s, e.clientX, e.clientY);
        var cx = (s.x0 + s.x1) / 2 - (b.x - a.x), cy = (s.y0 + s.y1) / 2 - (b.y - a.y);
        go(cx, cy, s.zoom);
        return;
      }
      var hit = nearest(s, list, e.clientX, e.clientY);
      if (hit) location.href = "/papers/" + encodeURIComponent(hit.id);
    });
    s.svg.addEventListener("wheel", function (e) {
      e.preventDefault();
      var factor = e.deltaY < 0 ? 1.25 : 0.8;
      var zoom = Math.min(256, Math.max(1, s.zoom * scale * factor));
      scale = zoom / s.zoom;
      var box = s.svg.getBoundingClientRect();
      var px = (e.clientX - box.left) / box.width * 1000, py = (e.clientY - box.top) / box.height * 625;
      layer.setAttribute("transform", "translate(" + px * (1 - scale) + " " + py * (1 - scale) + ") scale(" + scale + ")");
      clearTimeout(wheelTimer);
      wheelTimer = setTimeout(function () {
        var at = toMap(s, e.clientX, e.clientY);
        var cx = (s.x0 + s.x1) / 2, cy = (s.y0 + s.y1) / 2;
        go(at.x + (cx - at.x) / scale, at.y + (cy - at.y) / scale, zoom);
      }, 250);
    }, { passive: false });
  }

  wire();
})();
