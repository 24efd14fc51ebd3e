// Slice viewer: server-rendered PNG tiles, window presets, overlays, and synchronised panels.
(function () {
  var panels = Array.prototype.slice.call(document.querySelectorAll(".panel"));
  if (!panels.length) return;
  var sync = document.getElementById("sync");
  var windowSelect = document.getElementById("window-preset");
  var overlaySelect = document.getElementById("overlay");
  var contours = document.getElementById("contours");
  var state = panels.map(function () { return { geometry: null, z: 0 }; });

  function tileUrl(i) {
    var p = panels[i], s = state[i], g = s.geometry;
    var win = windowSelect.value === "default" ? g.default_window : windowSelect.value;
    var overlay = g.overlays.indexOf(overlaySelect.value) >= 0 ? overlaySelect.value : "none";
    return "/api/series/" + p.dataset.series + "/slice?z=" + s.z + "&window=" + win + "&overlay=" + overlay +
      "&contours=" + (contours.checked ? "true" : "false");
  }

  function draw(i) {
    var p = panels[i], s = state[i];
    if (!s.geometry) return;
    p.querySelector(".slice").src = tileUrl(i);
    p.querySelector(".slider").value = s.z;
    p.querySelector(".z").textContent = s.z + 1;
    p.querySelector(".zmm").textContent = s.geometry.slice_positions_mm[s.z].toFixed(1);
    var overlay = s.geometry.overlays.indexOf(overlaySelect.value) >= 0 ? overlaySelect.value : "none";
    var bar = p.querySelector(".colorbar");
    var label = p.querySelector(".cbar-label");
    if (overlay === "none") { bar.classList.add("hidden"); label.textContent = ""; }
    else {
      bar.src = "/api/colorbar/" + (overlay === "pet" ? "suv" : "adc");
      bar.classList.remove("hidden");
      label.textContent = overlay === "pet" ? "· colour: SUV 0 (dark) – 10 (white)" : "· colour: ADC 0 – 3×10⁻³ mm²/s";
    }
  }

  function nearest(positions, zmm) {
    var best = 0;
    for (var k = 1; k < positions.length; k++) {
      if (Math.abs(positions[k] - zmm) < Math.abs(positions[best] - zmm)) best = k;
    }
    return best;
  }

  function setSlice(i, z) {
    var g = state[i].geometry;
    if (!g) return;
    state[i].z = Math.max(0, Math.min(g.n_slices - 1, z));
    draw(i);
    if (sync.checked) {
      var zmm = g.slice_positions_mm[state[i].z];
      state.forEach(function (other, j) {
        if (j !== i && other.geometry) { other.z = nearest(other.geometry.slice_positions_mm, zmm); draw(j); }
      });
    }
  }

  function load(i) {
    var p = panels[i];
    if (!p.dataset.series) return;
    fetch("/api/series/" + p.dataset.series + "/geometry", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("geometry " + r.status); return r.json(); })
      .then(function (g) {
        state[i].geometry = g;
        var slider = p.querySelector(".slider");
        slider.max = g.n_slices - 1;
        p.querySelector(".nz").textContent = g.n_slices;
        var other = state.find(function (s, j) { return j !== i && s.geometry; });
        if (sync.checked && other) setSlice(i, nearest(g.slice_positions_mm, other.geometry.slice_positions_mm[other.z]));
        else setSlice(i, Math.floor(g.n_slices / 2));
        p.dataset.ready = "1";
      })
      .catch(function (e) { p.querySelector(".slice-info").textContent = "cannot load this series (" + e.message + ")"; });
  }

  panels.forEach(function (p, i) {
    p.querySelector(".slider").addEventListener("input", function (e) { setSlice(i, parseInt(e.target.value, 10)); });
    p.querySelector(".frame").addEventListener("wheel", function (e) {
      e.preventDefault();
      setSlice(i, state[i].z + (e.deltaY > 0 ? 1 : -1));
    }, { passive: false });
    p.querySelector(".series-select").addEventListener("change", function (e) {
      p.dataset.series = e.target.value; state[i].geometry = null; load(i);
    });
    load(i);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowUp" || e.key === "ArrowDown") { e.preventDefault(); setSlice(0, state[0].z + (e.key === "ArrowDown" ? 1 : -1)); }
  });
  [windowSelect, overlaySelect, contours].forEach(function (el) {
    el.addEventListener("change", function () { state.forEach(function (_, i) { draw(i); }); });
  });
})();
