"use strict";
// convcli explain: draw (or upload) → POST /api/predict → bars and feature maps;
// click a tile → POST /api/arithmetic → the kernel, the patch, the products and their sum.
(() => {
  const $ = (id) => document.getElementById(id);
  // The reader's language (i18n.js): a message id, its {name} fields filled in.
  const msg = window.convcliI18n ? window.convcliI18n.t : (id, v = {}) => id.replace(/\{(\w+)\}/g, (f, k) => (k in v ? String(v[k]) : f));
  const language = () => (window.convcliI18n ? window.convcliI18n.language() : "en");
  const THROTTLE_MS = 50; // while drawing, at most one update per this many ms (plus the request)
  const state = {
    model: null, // GET /api/model
    last: null, // the last POST /api/predict answer
    unit: null, // {layer, filter, row, col}: the selected tile and pixel
    unitAnswer: null, // the last POST /api/arithmetic answer
    channel: 0,
    scale: "255", // pixel values in the arithmetic: "255" (the lecture's 0–255) or "1" (the model's 0–1)
    timer: 0,
    inFlight: false,
    pending: null,
    unitLoads: 0,
    drawn: false,
    tiles: {}, // layer name → [canvas per filter]
    timings: [], // ms per update, from reading the canvas to the maps drawn
  };
  window.convcliExplain = state; // for scripts and tests

  // ---------------------------------------------------------------- helpers

  async function api(path, body, type) {
    // A static site (convcli explain --export-site) answers the same requests in the browser.
    if (window.convcliStatic) return window.convcliStatic.api(path, body, type);
    const options = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": type || "application/json", "Accept-Language": language() },
      body: type ? body : JSON.stringify(body),
    };
    // the server's error messages in the page's language (it reads Accept-Language per request)
    if (body === undefined) options.headers = { "Accept-Language": language() };
    const response = await fetch(path, options);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function el(tag, attrs = {}, text = "") {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text) node.textContent = text;
    return node;
  }

  const fmt = (v) => (v === null || v === undefined ? "pad" : Number(v).toFixed(4));
  // Pixels 0–255 as the lecture's worked example writes them: whole numbers stay whole.
  const fmt255 = (v) => (v === null || v === undefined ? "pad" : String(Number(Number(v).toFixed(2))));
  const DIGITS = "0,1,2,3,4,5,6,7,8,9";
  const isDigitModel = (model) => Boolean(model) && model.class_names.join(",") === DIGITS;
  const hintText = () => (isDigitModel(state.model) ? msg("Draw a digit, or upload a photo of one.") :
    msg("Draw or upload a picture."));
  const status = (text) => { $("status").textContent = text; };
  const setBusy = () => {
    const busy = Boolean(state.timer || state.inFlight || state.pending || state.unitLoads);
    document.body.dataset.busy = String(busy);
  };

  // Gray for activations (≥ 0), blue–white–red for signed values (kernels, templates).
  function colour(v, scale, signed) {
    const t = scale > 0 ? Math.max(-1, Math.min(1, v / scale)) : 0;
    if (!signed) { const g = Math.round(255 * Math.max(0, t)); return [g, g, g]; }
    const fade = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? [255, fade, fade] : [fade, fade, 255];
  }
  const css = (rgb) => `rgb(${rgb.join(",")})`;

  // Text on a coloured cell: black or white, whichever contrasts more with it (WCAG's relative
  // luminance), so numbers stay readable on deep blue and deep red alike.
  function textColour(rgb) {
    const [r, g, b] = rgb.map((c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) ? "#000" : "#fff";
  }

  function paint(canvas, grid, scale, signed) {
    const h = grid.length, w = grid[0].length;
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = grid[y][x]; // a number, or [r, g, b] for a colour model's uploaded picture
        const [r, g, b] = Array.isArray(v) ? v.map((c) => Math.round(c)) : colour(v, scale, signed);
        image.data.set([r, g, b, 255], 4 * (y * w + x));
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  const maxAbs = (grid) => grid.flat(2).reduce((m, v) => Math.max(m, Math.abs(v ?? 0)), 0);

  // ---------------------------------------------------------------- predictions

  function schedule(delay) {
    if (state.timer && delay > 0) return; // throttle: one update already on its way
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = 0;
      const start = performance.now();
      send({ body: { image: $("draw").toDataURL("image/png").split(",")[1] }, start });
    }, delay);
    setBusy();
  }

  async function send(request) {
    if (state.inFlight) { state.pending = request; setBusy(); return; }
    state.inFlight = true;
    setBusy();
    try {
      const start = request.start ?? performance.now();
      showResult(await api("/api/predict", request.body, request.type));
      state.timings.push(performance.now() - start); // canvas → PNG → server → bars and maps drawn
      if (state.unit) await loadUnit();
    } catch (error) {
      clearResult(); // a failed request leaves no earlier prediction on screen
      status(error.message);
    } finally {
      state.inFlight = false;
      const next = state.pending;
      state.pending = null;
      if (next) send(next); else setBusy();
    }
  }

  function clearResult() {
    state.last = null;
    $("prediction").dataset.class = "";
    $("prediction").textContent = "–";
    for (const row of $("probs").children) {
      row.querySelector(".fill").style.width = "0";
      row.querySelector(".pct").textContent = "–";
      row.classList.remove("best");
    }
    const seen = $("seen");
    seen.getContext("2d").clearRect(0, 0, seen.width, seen.height);
    for (const canvases of Object.values(state.tiles)) {
      for (const canvas of canvases) canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    }
  }

  function showResult(result) {
    state.last = result;
    const best = result.prediction;
    const p = $("prediction");
    p.dataset.class = String(best);
    p.textContent = result.class_name;
    result.probabilities.forEach((prob, i) => {
      const row = $("probs").children[i];
      row.querySelector(".fill").style.width = `${(100 * prob).toFixed(1)}%`;
      row.querySelector(".pct").textContent = `${(100 * prob).toFixed(1)}%`;
      row.classList.toggle("best", i === best);
    });
    paint($("seen"), result.input, 255, false);
    for (const layer of result.layers) {
      const scale = Math.max(Math.abs(layer.min), Math.abs(layer.max));
      layer.maps.forEach((grid, i) => paint(state.tiles[layer.name][i], grid, scale, layer.min < 0));
    }
    const pct = (100 * result.probabilities[best]).toFixed(1);
    status(msg("The model says {name} ({percent}%).", { name: result.class_name, percent: pct }));
  }

  // ---------------------------------------------------------------- one unit's arithmetic

  async function loadUnit() {
    if (!state.last || !state.unit) return;
    const u = state.unit;
    state.unitLoads += 1;
    setBusy();
    try {
      const answer = await api("/api/arithmetic", {
        pixels: state.last.input, layer: u.layer, filter: u.filter, row: u.row, col: u.col,
      });
      u.row = answer.row; u.col = answer.col;
      state.unitAnswer = answer;
      showUnit(answer);
    } catch (error) {
      status(error.message);
    } finally {
      state.unitLoads -= 1;
      setBusy();
    }
  }

  function selectTile(layer, filter) {
    for (const button of document.querySelectorAll(".tile")) {
      button.setAttribute("aria-pressed", String(button.dataset.layer === layer && Number(button.dataset.filter) === filter));
    }
    state.unit = { layer, filter, row: null, col: null };
    state.channel = 0;
    loadUnit().then(() => {
      // On a narrow screen the arithmetic is far below the tiles: bring it into view.
      const panel = $("unit-panel").getBoundingClientRect();
      if (panel.top < 0 || panel.top > window.innerHeight * 0.5) $("unit-panel").scrollIntoView({ block: "start" });
    });
  }

  function table(caption, grid, scale, signed, show = fmt) {
    const t = el("table");
    t.append(el("caption", {}, caption));
    for (const line of grid) {
      const tr = el("tr");
      for (const v of line) {
        const td = el("td", {}, show(v));
        if (v !== null) {
          const rgb = colour(v, scale, signed);
          td.style.background = css(rgb);
          td.style.color = textColour(rgb);
        } else td.className = "pad";
        tr.append(td);
      }
      t.append(tr);
    }
    return t;
  }

  function showUnitMap(answer) {
    const layer = state.last.layers.find((l) => l.name === answer.layer);
    const grid = layer ? layer.maps[answer.filter] : [[0]];
    const source = el("canvas");
    paint(source, grid, Math.max(Math.abs(layer.min), Math.abs(layer.max)), layer.min < 0);
    const cell = Math.max(4, Math.floor(240 / Math.max(grid.length, grid[0].length)));
    const canvas = $("unit-map");
    canvas.width = cell * grid[0].length; canvas.height = cell * grid.length;
    canvas.dataset.cell = String(cell);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#ff9800"; ctx.lineWidth = 2;
    ctx.strokeRect(answer.col * cell + 1, answer.row * cell + 1, cell - 2, cell - 2);
    const shown = $("pixel-value");
    shown.dataset.value = String(grid[answer.row][answer.col]);
    // the layer's own output, rounded once: the same number the arithmetic below ends on
    shown.textContent = msg("Map value at row {row}, column {col}: {value}", { row: answer.row, col: answer.col, value: fmt(answer.value) });
  }

  function showUnit(answer) {
    $("unit-body").hidden = false;
    $("unit-hint").hidden = true;
    $("unit-title").textContent = msg("{layer} ({type}), filter {filter}: pixel (row {row}, column {col})", answer);
    showUnitMap(answer);
    const arith = $("arith");
    const tables = $("unit-tables");
    tables.replaceChildren();
    const pixels = readsPixels(answer.layer); // its input is the picture: 0–255 unless asked for 0–1
    const k = pixels && state.scale === "255" ? 255 : 1;
    const shown = (v) => (v === null ? null : v * k);
    const show = k === 255 ? fmt255 : fmt;
    $("scale-label").hidden = !pixels;
    if (answer.type === "Conv2D") {
      Object.assign(arith.dataset, { sum: answer.sum, bias: answer.bias, z: answer.z, value: answer.value });
      const act = answer.activated === null ? `${answer.activation}(z)` : `${answer.activation}(z) = ${fmt(answer.activated)}`;
      const scaled = k === 255 ? msg("Σ patch ⊙ kernel = {sum} (pixels 0–255)", { sum: fmt255(answer.sum * 255) }) + "\n" +
        msg("÷ 255 = {sum} (the model reads pixels as 0–1)", { sum: fmt(answer.sum) }) + "\n" :
        msg("Σ patch ⊙ kernel = {sum}", { sum: fmt(answer.sum) }) + "\n";
      arith.textContent = scaled +
        `z = Σ + bias = ${fmt(answer.sum)} + (${fmt(answer.bias)}) = ${fmt(answer.z)}\n` +
        msg("{activation}: the map value {value}", { activation: act, value: fmt(answer.value) });
      showChannels(answer, (v) => show(v * k));
      const c = state.channel;
      const patch = answer.patch[c].map((line) => line.map(shown));
      const products = answer.products[c].map((line) => line.map(shown));
      tables.append(
        table(k === 255 ? msg("Input patch (channel {channel}), pixels 0–255", { channel: c }) :
          msg("Input patch (channel {channel})", { channel: c }), patch, maxAbs(patch),
          patch.flat().some((v) => v < 0), show),
        table(msg("Kernel (channel {channel}), bias {bias}", { channel: c, bias: fmt(answer.bias) }), answer.kernel[c], maxAbs(answer.kernel), true),
        table(msg("Products, patch ⊙ kernel (channel {channel})", { channel: c }), products, maxAbs(answer.products.map((g) => g.map((l) => l.map(shown)))),
          true, show),
      );
    } else {
      Object.assign(arith.dataset, { sum: "", bias: "", z: "", value: answer.value });
      const scaled = k === 255 ? msg(" ({value} of 255)", { value: fmt255(answer.value * 255) }) : "";
      arith.textContent = msg("{op} of the {size} window = {value}", { op: answer.op, size: answer.size.join("×"), value: fmt(answer.value) }) + scaled;
      showChannels(null);
      const window = answer.window.map((line) => line.map(shown));
      tables.append(table(msg("Window of input channel {channel}", { channel: answer.filter }), window, maxAbs(window), false, show));
    }
  }

  function showChannels(answer, show = fmt) {
    const many = answer && answer.channel_sums.length > 1;
    $("channel-label").hidden = !many;
    $("channel-sums").hidden = !many;
    if (!many) return;
    const select = $("channel");
    select.replaceChildren(...answer.channel_sums.map((s, i) => el("option", { value: String(i) }, msg("{index} (sum {sum})", { index: i, sum: show(s) }))));
    select.value = String(state.channel);
    $("channel-sums").replaceChildren(
      el("li", {}, msg("Σ over {count} channels: ", { count: answer.channel_sums.length }) + answer.channel_sums.map(show).join(" + ") +
        ` = ${show(answer.sum)}`),
    );
  }

  // Whether a layer reads the picture itself (only zero padding before it), whose values the
  // model takes as 0–1 and the lecture writes as 0–255.
  function readsPixels(name) {
    const layers = state.model ? state.model.layers : [];
    const index = layers.findIndex((l) => l.name === name);
    return index >= 0 && layers.slice(0, index).every((l) => l.type === "ZeroPadding2D");
  }

  function moveUnit(row, col) {
    const a = state.unitAnswer;
    if (!a) return;
    const [h, w] = a.output_shape;
    if (row < 0 || col < 0 || row >= h || col >= w) return;
    Object.assign(state.unit, { row, col });
    loadUnit();
  }

  // ---------------------------------------------------------------- page set-up

  function setupDrawing() {
    const canvas = $("draw");
    const ctx = canvas.getContext("2d");
    let last = null;
    const point = (e) => {
      const r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
    };
    const line = (from, to) => {
      ctx.beginPath(); ctx.moveTo(...from); ctx.lineTo(...to); ctx.stroke();
    };
    canvas.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      canvas.setPointerCapture(e.pointerId);
      last = point(e);
      line(last, [last[0] + 0.01, last[1]]);
      state.drawn = true;
      schedule(THROTTLE_MS);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!last) return;
      const next = point(e);
      line(last, next);
      last = next;
      schedule(THROTTLE_MS);
    });
    const stop = () => { if (last) { last = null; schedule(0); } };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    clear();
  }

  function clear() {
    const canvas = $("draw");
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    Object.assign(ctx, { strokeStyle: "#fff", lineWidth: 20, lineCap: "round", lineJoin: "round" });
    state.drawn = false;
    clearTimeout(state.timer);
    state.timer = 0;
    setBusy();
  }

  async function upload() {
    const file = $("upload").files[0];
    if (!file) return;
    clear();
    try {
      const bitmap = await createImageBitmap(file);
      const canvas = $("draw");
      const s = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
      const w = bitmap.width * s, h = bitmap.height * s;
      canvas.getContext("2d").drawImage(bitmap, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
      state.drawn = true;
    } catch (error) {
      // not an image the browser can show: the server still answers (with an error message)
    }
    send({ body: file, type: file.type.startsWith("image/") ? file.type : "application/octet-stream" });
  }

  function setupModel(model) {
    const [h, w] = model.input_shape;
    status(hintText());
    $("draw").setAttribute("aria-label", isDigitModel(model) ?
      msg("Drawing area: draw one digit with a mouse, pen or finger") :
      msg("Drawing area: draw a picture ({examples}…) with a mouse, pen or finger", { examples: model.class_names.slice(0, 3).join(", ") }));
    $("model-name").textContent = msg("{source} ({name}): input {shape}, classes {classes}", {
      source: model.source, name: model.name, shape: model.input_shape.join("×"), classes: model.class_names.join(", ") });
    $("seen-caption").textContent = msg("What the model sees ({height}×{width})", { height: h, width: w });
    $("probs").replaceChildren(...model.class_names.map((name) => {
      const li = el("li");
      li.append(el("span", { class: "name" }, name), el("span", { class: "bar" }), el("span", { class: "pct" }, "–"));
      li.querySelector(".bar").append(el("span", { class: "fill" }));
      return li;
    }));
    const layers = $("layers");
    layers.replaceChildren(summaryTable(model));
    const mapped = model.layers.filter((l) => l.maps);
    if (!mapped.length) {
      $("layers-hint").textContent = msg("This model has no Conv2D or pooling layers: no feature maps.");
      $("unit-panel").hidden = true;
      $("layers-panel").classList.add("wide");
    }
    for (const layer of mapped) layers.append(layerBlock(layer));
    if (model.templates) {
      $("templates-block").hidden = false;
      const scale = maxAbs(model.templates);
      $("templates").replaceChildren(...model.templates.map((grid, i) => {
        const fig = el("figure", { class: "template" });
        const canvas = el("canvas", { role: "img", "aria-label": msg("weights of class {name}", { name: model.class_names[i] }) });
        paint(canvas, grid, scale, true);
        fig.append(canvas, el("figcaption", {}, model.class_names[i]));
        return fig;
      }));
    }
  }

  function summaryTable(model) {
    const details = el("details", { class: "summary" });
    details.append(el("summary", {}, msg("All layers: shapes and parameters, with the arithmetic (as convcli summary)")));
    const total = model.layers.reduce((sum, l) => sum + l.params, 0);
    const wrap = el("div", { class: "scroll-x" }); // a phone scrolls the table, not the page
    const t = el("table", { class: "summary" });
    const head = el("tr");
    for (const name of [msg("Layer (type)"), msg("Output shape"), msg("Shape arithmetic"), msg("Parameters")]) head.append(el("th", {}, name));
    t.append(head);
    for (const l of model.layers) {
      const tr = el("tr");
      tr.append(el("td", {}, `${l.name} (${l.type})`), el("td", {}, `(${l.output_shape.join(", ")})`),
        el("td", {}, shapeWords(l.shape_formula)), el("td", {}, shapeWords(l.params_formula)));
      t.append(tr);
    }
    wrap.append(t);
    details.append(wrap);
    const block = el("div");
    block.append(el("p", { id: "total-params", class: "formula" }, msg("Total params: {total}", { total: total.toLocaleString("en-US") })), details);
    return block;
  }

  // A shape formula's words in the page's language (the API sends convcli.models.summary's English).
  function shapeWords(formula) {
    let m;
    if ((m = /^(\d+) units$/.exec(formula))) return msg("{units} units", { units: m[1] });
    if ((m = /^mean over (\d+)×(\d+) → (\d+)$/.exec(formula))) return msg("mean over {height}×{width} → {channels}", { height: m[1], width: m[2], channels: m[3] });
    if (formula === "unchanged") return msg("unchanged");
    if ((m = /^(.*) \(P zeros each side\)$/.exec(formula))) return msg("{formula} (P zeros each side)", { formula: m[1] });
    if ((m = /^γ, β, mean, variance: 4·(\d+) = (\d+) \((\d+) trainable\)$/.exec(formula)))
      return msg("γ, β, mean, variance: 4·{channels} = {params} ({trainable} trainable)", { channels: m[1], params: m[2], trainable: m[3] });
    return formula;
  }

  function layerBlock(layer) {
    const block = el("section", { class: "layer", "data-layer": layer.name });
    const [h, w, n] = layer.output_shape;
    block.append(el("h3", {}, msg("{name} ({type}): {count} maps of {height}×{width}", { name: layer.name, type: layer.type, count: n, height: h, width: w })));
    block.append(el("p", { class: "formula" }, `T = (N + 2P − K)/S + 1: ${shapeWords(layer.shape_formula)}`));
    const tiles = el("div", { class: "tiles" });
    state.tiles[layer.name] = [];
    for (let i = 0; i < n; i++) {
      const button = el("button", {
        type: "button", class: "tile", "data-layer": layer.name, "data-filter": String(i),
        "aria-pressed": "false", "aria-label": msg("{layer} filter {index}", { layer: layer.name, index: i }),
        title: msg("{layer} filter {index}", { layer: layer.name, index: i }),
      });
      const canvas = el("canvas", { width: String(w), height: String(h) });
      button.append(canvas);
      button.addEventListener("click", () => selectTile(layer.name, i));
      state.tiles[layer.name].push(canvas);
      tiles.append(button);
    }
    block.append(tiles);
    return block;
  }

  function wire() {
    $("clear").addEventListener("click", () => {
      clear();
      $("prediction").dataset.class = "";
      $("prediction").textContent = "–";
      clearResult();
      status(hintText());
    });
    $("upload").addEventListener("change", upload);
    $("scale").addEventListener("change", () => {
      state.scale = $("scale").value;
      if (state.unitAnswer) showUnit(state.unitAnswer);
    });
    $("channel").addEventListener("change", () => {
      state.channel = Number($("channel").value);
      if (state.unitAnswer) showUnit(state.unitAnswer);
    });
    const map = $("unit-map");
    map.addEventListener("click", (e) => {
      const r = map.getBoundingClientRect();
      const cell = Number(map.dataset.cell) * (r.width / map.width);
      moveUnit(Math.floor((e.clientY - r.top) / cell), Math.floor((e.clientX - r.left) / cell));
    });
    map.addEventListener("keydown", (e) => {
      const steps = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[e.key];
      if (!steps || !state.unit) return;
      e.preventDefault();
      moveUnit(state.unit.row + steps[0], state.unit.col + steps[1]);
    });
  }

  // The reader switched language (i18n.js): write this script's own text again, in the new one.
  function relabel() {
    if (!state.model) return;
    const open = document.querySelector("details.summary")?.open;
    setupModel(state.model);
    if (open) document.querySelector("details.summary").open = true;
    if (state.last) showResult(state.last);
    const u = state.unit;
    for (const button of document.querySelectorAll(".tile")) {
      button.setAttribute("aria-pressed", String(Boolean(u) && button.dataset.layer === u.layer && Number(button.dataset.filter) === u.filter));
    }
    if (state.unitAnswer) showUnit(state.unitAnswer);
  }

  async function init() {
    if (window.convcliI18n) window.convcliI18n.onChange(relabel);
    wire();
    setupDrawing();
    try {
      state.model = await api("/api/model");
      setupModel(state.model);
    } catch (error) {
      status(msg("Could not load the model: {message}", { message: error.message }));
    }
  }

  init();
})();
