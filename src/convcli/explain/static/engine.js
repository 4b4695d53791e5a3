"use strict";
// convcli explain as a static site: the page's three API requests answered in the browser, with
// the JSON the server sends (convcli.explain.probe and .arithmetic), from model.json and
// weights.bin (float32). A forward pass in float64 over a plain chain of layers; app.js calls
// window.convcliStatic.api(path, body, type) instead of fetch when this script is present.
(() => {
  const MAX_IMAGE_PIXELS = 40000000;
  const MAX_SIDE = 1024; // a photo is read at most this large (long side), as predict's WORK_SIDE
  let site = null; // {manifest, weights: Float32Array}
  let loading = null;

  async function load() {
    const answer = await fetch("model.json");
    // not convcli's server: the web server hosting the site answered (its status text as it sent it)
    if (!answer.ok) throw new Error(msg("model.json: {status} {reason}", { status: answer.status, reason: answer.statusText }));
    const manifest = await answer.json();
    if (manifest.format !== "convcli-explain-site/1") throw new Error(msg("model.json is not a convcli explain site's model"));
    const bytes = await (await fetch(manifest.weights.file)).arrayBuffer();
    if (bytes.byteLength !== 4 * manifest.weights.floats) throw new Error(msg("{file} is damaged or incomplete", { file: manifest.weights.file }));
    const view = new DataView(bytes), weights = new Float64Array(manifest.weights.floats);
    for (let i = 0; i < weights.length; i++) weights[i] = view.getFloat32(4 * i, true);
    site = { manifest, weights };
    window.convcliStatic.loadedMs = performance.now(); // since navigation began: for measurements
    return site;
  }
  const ready = () => (site ? Promise.resolve(site) : (loading = loading || load()));
  const slice = (place) => (place ? site.weights.subarray(place[0], place[0] + place[1]) : null);
  // A message in the page's language (i18n.js's t(): English, or Spanish from the catalog).
  const msg = (id, v = {}) => (window.convcliI18n ? window.convcliI18n.t(id, v) : id.replace(/\{(\w+)\}/g, (f, k) => (k in v ? String(v[k]) : f)));
  const fail = (message) => { throw new Error(message); };

  // ------------------------------------------------------------ activations (Keras 3's formulas)

  function erf(x) { // |error| < 1e-15: the series near 0, the continued fraction of erfc beyond
    const z = Math.abs(x);
    if (z < 3) {
      let term = z, sum = z;
      for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) { term *= -z * z / n; sum += term / (2 * n + 1); }
      return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
    }
    let f = 0;
    for (let n = 60; n >= 1; n--) f = n / 2 / (z + f);
    return Math.sign(x) * (1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f));
  }
  const sigmoid = (v) => 1 / (1 + Math.exp(-v));
  const ACTIVATIONS = {
    linear: (v) => v,
    relu: (v) => Math.max(v, 0),
    relu6: (v) => Math.min(Math.max(v, 0), 6),
    sigmoid,
    tanh: Math.tanh,
    elu: (v) => (v > 0 ? v : Math.expm1(v)),
    selu: (v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)),
    gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
    swish: (v) => v * sigmoid(v),
    silu: (v) => v * sigmoid(v),
    softplus: (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))),
    leaky_relu: (v) => (v >= 0 ? v : 0.2 * v),
    hard_sigmoid: (v) => Math.min(Math.max(v + 3, 0), 6) / 6,
  };
  function activate(name, data) {
    if (name === "softmax") {
      const top = Math.max(...data), e = data.map((v) => Math.exp(v - top)), s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    }
    return data.map(ACTIVATIONS[name]);
  }

  // ------------------------------------------------------------ the forward pass (HWC, float64)

  // Where the window of output `index` starts along one axis (arithmetic.window_origin).
  function origin(index, size, out, kernel, stride, dilation, padding) {
    const span = (kernel - 1) * dilation + 1;
    const before = padding === "same" ? Math.floor(Math.max((out - 1) * stride + span - size, 0) / 2) : 0;
    return index * stride - before;
  }

  function conv(layer, x) {
    const [h, w, c] = x.shape, [oh, ow, f] = layer.output_shape, [kh, kw] = layer.kernel;
    const [sh, sw] = layer.strides, [dh, dw] = layer.dilation;
    const k = slice(layer.weights), b = slice(layer.bias), out = new Float64Array(oh * ow * f);
    for (let oy = 0; oy < oh; oy++) {
      const top = origin(oy, h, oh, kh, sh, dh, layer.padding);
      for (let ox = 0; ox < ow; ox++) {
        const left = origin(ox, w, ow, kw, sw, dw, layer.padding), o = (oy * ow + ox) * f;
        for (let n = 0; n < f; n++) out[o + n] = b ? b[n] : 0;
        for (let ky = 0; ky < kh; ky++) {
          const y = top + ky * dh;
          if (y < 0 || y >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const xx = left + kx * dw;
            if (xx < 0 || xx >= w) continue;
            for (let ch = 0; ch < c; ch++) {
              const v = x.data[(y * w + xx) * c + ch], kk = ((ky * kw + kx) * c + ch) * f;
              if (v !== 0) for (let n = 0; n < f; n++) out[o + n] += v * k[kk + n];
            }
          }
        }
      }
    }
    return { shape: [oh, ow, f], data: activate(layer.activation, out) };
  }

  function pool(layer, x, max) {
    const [h, w, c] = x.shape, [oh, ow] = layer.output_shape, [kh, kw] = layer.kernel, [sh, sw] = layer.strides;
    const out = new Float64Array(oh * ow * c);
    for (let oy = 0; oy < oh; oy++) {
      const top = origin(oy, h, oh, kh, sh, 1, layer.padding);
      for (let ox = 0; ox < ow; ox++) {
        const left = origin(ox, w, ow, kw, sw, 1, layer.padding);
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity, sum = 0, count = 0;
          for (let y = Math.max(top, 0); y < Math.min(top + kh, h); y++) {
            for (let xx = Math.max(left, 0); xx < Math.min(left + kw, w); xx++) {
              const v = x.data[(y * w + xx) * c + ch];
              best = Math.max(best, v); sum += v; count++;
            }
          }
          out[(oy * ow + ox) * c + ch] = max ? best : sum / count;
        }
      }
    }
    return { shape: [oh, ow, c], data: out };
  }

  function globalPool(x, max) {
    const c = x.shape[x.shape.length - 1], n = x.data.length / c, out = new Float64Array(c).fill(max ? -Infinity : 0);
    for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) {
      const v = x.data[i * c + ch];
      out[ch] = max ? Math.max(out[ch], v) : out[ch] + v / n;
    }
    return { shape: [c], data: out };
  }

  function dense(layer, x) {
    const k = slice(layer.weights), b = slice(layer.bias), units = layer.units, n = x.data.length;
    const out = new Float64Array(units);
    for (let u = 0; u < units; u++) out[u] = b ? b[u] : 0;
    for (let i = 0; i < n; i++) {
      const v = x.data[i];
      if (v !== 0) for (let u = 0; u < units; u++) out[u] += v * k[i * units + u];
    }
    return { shape: [units], data: activate(layer.activation, out) };
  }

  function perChannel(x, f) {
    const c = x.shape[x.shape.length - 1];
    return { shape: x.shape, data: x.data.map((v, i) => f(v, i % c)) };
  }

  function zeroPad(layer, x) {
    const [h, w, c] = x.shape, [[t], [l]] = layer.padding, [oh, ow] = layer.output_shape;
    const out = new Float64Array(oh * ow * c);
    for (let y = 0; y < h; y++) out.set(x.data.subarray(y * w * c, (y + 1) * w * c), ((y + t) * ow + l) * c);
    return { shape: [oh, ow, c], data: out };
  }

  function step(layer, x) {
    switch (layer.type) {
      case "Conv2D": return conv(layer, x);
      case "MaxPooling2D": return pool(layer, x, true);
      case "AveragePooling2D": return pool(layer, x, false);
      case "GlobalMaxPooling2D": return globalPool(x, true);
      case "GlobalAveragePooling2D": return globalPool(x, false);
      case "Dense": return dense(layer, x);
      case "Activation": return { shape: x.shape, data: activate(layer.activation, x.data) };
      case "ZeroPadding2D": return zeroPad(layer, x);
      case "Flatten": case "Reshape": return { shape: layer.output_shape, data: x.data };
      case "Rescaling": case "Normalization": {
        const scale = slice(layer.scale), offset = slice(layer.offset);
        return perChannel(x, (v, ch) => v * scale[ch] + offset[ch]);
      }
      case "BatchNormalization": {
        const [g, b, m, v] = ["gamma", "beta", "mean", "variance"].map((key) => slice(layer[key]));
        return perChannel(x, (u, ch) => (u - m[ch]) / Math.sqrt(v[ch] + layer.epsilon) * (g ? g[ch] : 1) + (b ? b[ch] : 0));
      }
      default: return x; // Dropout and other layers that pass their input at inference
    }
  }

  // The grid (0–255) through every layer: the scores and, per map layer, its output and input.
  function run(grid) {
    const { input, layers } = site.manifest;
    const flat = grid.flat(2), data = new Float64Array(input.height * input.width * input.channels);
    const gray = flat.length === input.height * input.width;
    for (let i = 0; i < data.length; i++) {
      const v = gray ? flat[Math.floor(i / input.channels)] : flat[i];
      data[i] = input.raw_pixels ? v : Math.fround(v / 255); // the model's float32 input
    }
    let x = { shape: [input.height, input.width, input.channels], data };
    const seen = {};
    for (const layer of layers) {
      const before = x;
      x = step(layer, x);
      seen[layer.name] = { input: before, output: x };
    }
    return { scores: x.data, seen };
  }

  // ------------------------------------------------------------ the API: /api/model

  const nested = (t) => { // HWC data → channel-first N×H×W arrays (the maps as JSON gives them)
    const [h, w, c] = t.shape;
    return Array.from({ length: c }, (_, n) => Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => t.data[(y * w + x) * c + n])));
  };
  const round5 = (v) => Math.round(v * 1e5) / 1e5;

  function checkPixels(pixels) {
    const { height, width, channels } = site.manifest.input;
    const shape = [];
    for (let a = pixels; Array.isArray(a); a = a[0]) shape.push(a.length);
    const flat = Array.isArray(pixels) ? pixels.flat(2) : [];
    const ok = shape[0] === height && shape[1] === width && (shape.length === 2 || (shape.length === 3 && shape[2] === 3 && channels === 3)) &&
      flat.length === shape.reduce((a, b) => a * b, 1) && pixels.every((row) => Array.isArray(row) && row.length === width);
    if (!ok) {
      const also = channels === 3 ? msg(" (an RGB model also takes {height}×{width}×3)", { height, width }) : "";
      fail(msg("pixels must have shape {height}×{width}, got {got}{also}", { height, width, got: shape.join("×") || msg("none"), also }));
    }
    if (!flat.every((v) => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 255)) fail(msg("pixels must be finite numbers from 0 to 255"));
    return pixels;
  }

  async function decode(blob) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    } catch (error) {
      fail(msg("{path}: not an image file (or a format this browser cannot read)", { path: msg("uploaded image") }));
    }
    if (bitmap.width * bitmap.height > MAX_IMAGE_PIXELS) fail(msg("{source}: over {limit} pixels", { source: msg("uploaded image"), limit: MAX_IMAGE_PIXELS.toLocaleString("en-US") }));
    const s = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const w = Math.max(1, Math.round(bitmap.width * s)), h = Math.max(1, Math.round(bitmap.height * s));
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0, w, h);
    return { rgba: ctx.getImageData(0, 0, w, h).data, w, h };
  }

  async function prepare(body, type) {
    const { input } = site.manifest;
    if (!type && body && body.pixels !== undefined && body.image === undefined) return checkPixels(body.pixels);
    let blob = body;
    if (!type) {
      if (body.pixels !== undefined || typeof body.image !== "string") fail(msg("give either pixels (an H×W array of 0–255 values) or an image, not both or neither"));
      let bytes;
      try { bytes = Uint8Array.from(atob(body.image), (ch) => ch.charCodeAt(0)); } catch (error) { fail(msg("image must be base64-encoded image bytes")); }
      blob = new Blob([bytes]);
    }
    const { rgba, w, h } = await decode(blob);
    const P = window.convcliPrepare, size = [input.height, input.width];
    if (input.preparation === "frame") return P.prepareFrame(rgba, w, h, size, input.channels, input.paper);
    return input.preparation === "resize" ? P.prepareResize(rgba, w, h, size, input.channels, input.paper) : P.prepareDigit(rgba, w, h, size);
  }

  function mapLayer(name) {
    const known = site.manifest.map_layers;
    if (!known.includes(name)) fail(msg("no Conv2D or pooling layer named {name}; the model has: {known}", { name: JSON.stringify(name), known: known.join(", ") || msg("none") }));
    return site.manifest.layers.find((l) => l.name === name);
  }

  async function predict(body, type) {
    const grid = await prepare(body, type);
    const names = body && !type && body.layers !== undefined ? body.layers : site.manifest.map_layers;
    if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) fail(msg("layers must be a list of layer names"));
    const chosen = names.map(mapLayer);
    const { scores, seen } = run(grid);
    let probabilities = Array.from(scores);
    const total = probabilities.reduce((a, b) => a + b, 0);
    if (Math.min(...probabilities) < 0 || Math.abs(total - 1) > 1e-3 + 1e-5) probabilities = Array.from(activate("softmax", scores));
    const best = probabilities.indexOf(Math.max(...probabilities));
    const layers = chosen.map((layer) => {
      const out = seen[layer.name].output;
      let min = Infinity, max = -Infinity;
      for (const v of out.data) { if (v < min) min = v; if (v > max) max = v; }
      return { name: layer.name, type: layer.type, shape: out.shape, min, max, maps: nested({ ...out, data: out.data.map(round5) }) };
    });
    const input = grid.map((line) => line.map((v) => (Array.isArray(v) ? v.slice() : v)));
    return { prediction: best, class_name: site.manifest.info.class_names[best], probabilities, input, layers };
  }


  // ------------------------------------------------------------ the API: /api/arithmetic

  // The (KH, KW, C) input values under one output's window; null where it is padding.
  function taps(volume, row, col, layer, out) {
    const [h, w, c] = volume.shape, [kh, kw] = layer.kernel, [sh, sw] = layer.strides;
    const [dh, dw] = layer.dilation || [1, 1];
    const top = origin(row, h, out[0], kh, sh, dh, layer.padding), left = origin(col, w, out[1], kw, sw, dw, layer.padding);
    return Array.from({ length: kh }, (_, ky) => Array.from({ length: kw }, (_, kx) => {
      const y = top + ky * dh, x = left + kx * dw;
      return y < 0 || y >= h || x < 0 || x >= w ? null : Array.from(volume.data.subarray((y * w + x) * c, (y * w + x + 1) * c));
    }));
  }

  function convUnit(layer, volume, filter, row, col, out) {
    const c = volume.shape[2], [kh, kw] = layer.kernel, f = layer.filters;
    const k = slice(layer.weights), bias = layer.bias ? slice(layer.bias)[filter] : 0;
    const window = taps(volume, row, col, layer, out);
    const byChannel = (value) => Array.from({ length: c }, (_, ch) => Array.from({ length: kh }, (_, ky) => Array.from({ length: kw }, (_, kx) => value(ch, ky, kx))));
    const weight = (ch, ky, kx) => k[((ky * kw + kx) * c + ch) * f + filter];
    const patch = byChannel((ch, ky, kx) => (window[ky][kx] === null ? 0 : window[ky][kx][ch]));
    const products = byChannel((ch, ky, kx) => patch[ch][ky][kx] * weight(ch, ky, kx));
    const channelSums = products.map((g) => g.flat().reduce((a, b) => a + b, 0));
    const sum = channelSums.reduce((a, b) => a + b, 0), z = sum + bias;
    const written = ["linear", "relu", "sigmoid", "tanh", "relu6"].includes(layer.activation); // as arithmetic.activate
    return {
      patch, padded: window.map((line) => line.map((v) => v === null)), products, channel_sums: channelSums,
      sum, bias, z, kernel: byChannel(weight), activation: layer.activation, activated: written ? ACTIVATIONS[layer.activation](z) : null,
    };
  }

  function poolUnit(layer, volume, filter, row, col, out) {
    const window = taps(volume, row, col, layer, out).map((line) => line.map((v) => (v === null ? null : v[filter])));
    const inside = window.flat().filter((v) => v !== null);
    const op = layer.type === "MaxPooling2D" ? "max" : "average";
    const pooled = op === "max" ? Math.max(...inside) : inside.reduce((a, b) => a + b, 0) / inside.length;
    return { window, op, pooled };
  }

  const whole = (v) => typeof v === "number" && Number.isInteger(v);

  function arithmetic(body) {
    if (!body || typeof body !== "object" || Array.isArray(body)) fail(msg("the JSON body must be an object"));
    for (const key of ["pixels", "layer", "filter"]) if (!(key in body)) fail(msg("{path} needs {key}", { path: "/api/arithmetic", key: `'${key}'` }));
    const layer = mapLayer(body.layer);
    const { seen } = run(checkPixels(body.pixels));
    const { input: volume, output } = seen[layer.name];
    const [oh, ow, count] = output.shape;
    let { filter, row, col } = body;
    if (!whole(filter) || filter < 0 || filter >= count) fail(msg("filter must be a whole number from 0 to {last} for {layer}, got {filter}", { last: count - 1, layer: layer.name, filter: JSON.stringify(filter) }));
    if ((row === undefined || row === null) && (col === undefined || col === null)) {
      let best = -Infinity;
      for (let p = 0; p < oh * ow; p++) if (output.data[p * count + filter] > best) { best = output.data[p * count + filter]; row = Math.floor(p / ow); col = p % ow; }
    }
    for (const [name, value, limit] of [["row", row, oh], ["col", col, ow]]) {
      if (!whole(value)) fail(msg("{name} must be a whole number, got {value}", { name, value: JSON.stringify(value) }));
      if (value < 0 || value >= limit) fail(msg("{name} {value} is outside {layer}'s {height}×{width} maps", { name, value, layer: layer.name, height: oh, width: ow }));
    }
    const result = {
      layer: layer.name, type: layer.type, filter, row, col, value: output.data[(row * ow + col) * count + filter],
      input_shape: volume.shape, output_shape: output.shape, size: layer.kernel, strides: layer.strides,
      dilation: layer.dilation || [1, 1], padding: layer.padding,
    };
    const unit = layer.type === "Conv2D" ? convUnit(layer, volume, filter, row, col, output.shape) : poolUnit(layer, volume, filter, row, col, output.shape);
    return { ...result, ...unit };
  }

  window.convcliStaticParts = { run, prepare };
  window.convcliStatic = {
    async api(path, body, type) {
      await ready();
      if (path === "/api/model") return site.manifest.info;
      if (path === "/api/predict") return predict(body, type);
      if (path === "/api/arithmetic") return arithmetic(body);
      return fail(msg("no API endpoint {path}", { path }));
    },
  };
})();
