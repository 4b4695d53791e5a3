"use strict";
// convcli explain as a static site: a drawing or photo prepared as `predict` prepares it
// (convcli.prediction.predict and .digits), in the browser. Ported: transparency on white paper,
// the 3×3 median, the paper's polarity, Otsu's threshold with hysteresis, the digit's connected
// components, the 20×20 box with Pillow's Lanczos filter and the centre of mass in 28×28; for a
// folder model, Pillow's L conversion and bilinear resize, bit for bit, and for a Fashion-MNIST
// model the framing of the garment (trim, fit, centre), bit for bit up to 1024 pixels a side (the
// page reads a larger photo scaled down by the browser first); the paper's flat or cubic
// fit under the light. Not ported: the erasing of ruled lines; and the paper's small copy is made
// with scikit-image's filters approximated, so a photo may come out a few gray levels apart.
(() => {
  // A message in the page's language (i18n.js's t(): English, or Spanish from the catalog).
  const msg = (id, v = {}) => (window.convcliI18n ? window.convcliI18n.t(id, v) : id.replace(/\{(\w+)\}/g, (f, k) => (k in v ? String(v[k]) : f)));
  const OBJECT_STEP = 16, FILLED = 0.85; // framing.py's
  const FIELD = 28, BOX = 20, MIN_CONTRAST = 24, NOISE_FACTOR = 6, MIN_HEIGHT = 0.03, SUPPORT = 0.25;

  // numpy's median: the middle value, or the mean of the two middle ones (found by selection, O(n))
  function median(values) {
    const a = Float64Array.from(values), n = a.length;
    if (n === 0) return NaN;
    const upper = select(a, n >> 1);
    if (n % 2) return upper;
    let lower = -Infinity;
    for (let i = 0; i < n >> 1; i++) if (a[i] > lower) lower = a[i]; // select left the smaller ones before
    return (lower + upper) / 2;
  }
  function select(a, k) { // Hoare's selection: a[k] as in sorted order, smaller values before it
    let lo = 0, hi = a.length - 1;
    while (hi > lo) {
      const pivot = a[(lo + hi) >> 1];
      let i = lo, j = hi;
      while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
      }
      if (k <= j) hi = j; else if (k >= i) lo = i; else break;
    }
    return a[k];
  }
  // Python's round() and numpy's rint: halves to even
  const roundEven = (v) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };

  // ------------------------------------------------------------ Pillow's resampling (Resample.c)

  const FILTERS = {
    bilinear: [1, (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; }],
    lanczos: [3, (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0)],
  };
  function sinc(x) { if (x === 0) return 1; x *= Math.PI; return Math.sin(x) / x; }

  function coefficients(inSize, outSize, filterName) {
    const [base, filter] = FILTERS[filterName];
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = base * filterScale;
    const rows = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      const k = [];
      let ww = 0;
      for (let x = 0; x < xmax; x++) { const w = filter((x + xmin - center + 0.5) / filterScale); k.push(w); ww += w; }
      rows.push({ xmin, k: ww !== 0 ? k.map((w) => w / ww) : k });
    }
    return rows;
  }

  // One pass along an axis. `eight`: Pillow's 8-bit path (22-bit fixed-point weights, each pass
  // rounded and clipped to 0–255); otherwise its float path (double sums stored as float32).
  function pass(src, w, h, c, outSize, filterName, horizontal, eight) {
    const rows = coefficients(horizontal ? w : h, outSize, filterName);
    const ow = horizontal ? outSize : w, oh = horizontal ? h : outSize;
    const out = new Float64Array(ow * oh * c);
    const ONE = 1 << 22;
    for (const row of rows) {
      row.q = row.k.map((v) => Math.trunc(v < 0 ? -0.5 + v * ONE : 0.5 + v * ONE));
    }
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const { xmin, k, q } = rows[horizontal ? x : y];
        for (let ch = 0; ch < c; ch++) {
          let s = eight ? ONE / 2 : 0;
          for (let i = 0; i < k.length; i++) {
            const sx = horizontal ? xmin + i : x, sy = horizontal ? y : xmin + i;
            s += src[(sy * w + sx) * c + ch] * (eight ? q[i] : k[i]);
          }
          out[(y * ow + x) * c + ch] = eight ? Math.min(255, Math.max(0, Math.floor(s / ONE))) : Math.fround(s);
        }
      }
    }
    return out;
  }

  // Pillow's Image.resize((outW, outH), filter): horizontal pass, then vertical, each only if needed.
  function resize(src, w, h, c, outW, outH, filterName, eight) {
    let data = src, width = w;
    if (outW !== w) { data = pass(data, width, h, c, outW, filterName, true, eight); width = outW; }
    if (outH !== h) data = pass(data, width, h, c, outH, filterName, false, eight);
    return data;
  }

  // ------------------------------------------------------------ pictures as numbers

  // RGBA bytes → float RGB on white paper (convcli's on_paper), and whether any pixel was transparent
  function onPaper(rgba) {
    const n = rgba.length / 4, rgb = new Float64Array(n * 3);
    let transparent = false;
    for (let i = 0; i < n; i++) {
      const a = Math.fround(rgba[4 * i + 3] / 255);
      if (a < 1) transparent = true;
      for (let ch = 0; ch < 3; ch++) {
        const v = rgba[4 * i + ch];
        rgb[3 * i + ch] = a < 1 ? Math.fround(Math.fround(v * a) + Math.fround(255 * Math.fround(1 - a))) : v;
      }
    }
    return { rgb, transparent };
  }

  // convcli's gray_picture: luma 0.3 R + 0.59 G + 0.11 B in float64, stored as float32 (gray stays as is)
  function lumaGray(rgb) {
    const n = rgb.length / 3, gray = new Float64Array(n);
    let colour = false;
    for (let i = 0; i < n && !colour; i++) colour = rgb[3 * i] !== rgb[3 * i + 1] || rgb[3 * i] !== rgb[3 * i + 2];
    for (let i = 0; i < n; i++) {
      gray[i] = colour ? Math.fround(0.3 * rgb[3 * i] + 0.59 * rgb[3 * i + 1] + 0.11 * rgb[3 * i + 2]) : rgb[3 * i];
    }
    return gray;
  }

  // ------------------------------------------------------------ the digit's ink (digits.py)

  function noise(g, h, w) {
    if (w < 2) return 0;
    const diff = new Float64Array(h * (w - 1));
    for (let y = 0; y < h; y++) for (let x = 0; x < w - 1; x++) diff[y * (w - 1) + x] = g[y * w + x + 1] - g[y * w + x];
    const m = median(diff);
    return (1.4826 * median(diff.map((d) => Math.abs(d - m)))) / Math.SQRT2;
  }

  function median3(g, h, w) { // scipy's median_filter, 3×3, mode "nearest"
    const out = new Float64Array(h * w), win = new Float64Array(9);
    const clamp = (v, n) => (v < 0 ? 0 : v >= n ? n - 1 : v);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let i = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const v = g[clamp(y + dy, h) * w + clamp(x + dx, w)];
            let j = i++;
            for (; j > 0 && win[j - 1] > v; j--) win[j] = win[j - 1]; // insertion sort of nine
            win[j] = v;
          }
        }
        out[y * w + x] = win[4];
      }
    }
    return out;
  }

  function border(g, h, w) {
    const values = [];
    for (let x = 0; x < w; x++) values.push(g[x], g[(h - 1) * w + x]);
    for (let y = 0; y < h; y++) values.push(g[y * w], g[y * w + w - 1]);
    return values;
  }

  function darkPaper(g, h, w) {
    let lo = Infinity, hi = -Infinity;
    for (const v of g) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const middle = Math.min(h, w) <= 128 ? median(border(g, h, w)) : median(g);
    return middle < (lo + hi) / 2;
  }

  // ------------------------------------------------------------ the paper under the light (paper_brightness)

  function gaussian(g, h, w, sigma, horizontal) { // scipy's gaussian_filter1d, truncate 4, mode "mirror"
    if (!(sigma > 0)) return g;
    const radius = Math.floor(4 * sigma + 0.5), weights = [];
    let total = 0;
    for (let i = -radius; i <= radius; i++) { const v = Math.exp(-0.5 * (i / sigma) ** 2); weights.push(v); total += v; }
    const n = horizontal ? w : h, out = new Float64Array(h * w);
    const mirror = (i) => { const period = 2 * (n - 1); if (n === 1) return 0; i = Math.abs(i) % period; return i >= n ? period - i : i; };
    const taps = Int32Array.from({ length: n * (2 * radius + 1) }, (_, t) => mirror(Math.floor(t / (2 * radius + 1)) + (t % (2 * radius + 1)) - radius));
    const stride = horizontal ? 1 : w, size = 2 * radius + 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const along = horizontal ? x : y, base = horizontal ? y * w : x;
        let s = 0;
        for (let i = 0; i < size; i++) s += weights[i] * g[base + taps[along * size + i] * stride];
        out[y * w + x] = s / total;
      }
    }
    return out;
  }

  function bilinear(g, h, w, oh, ow) { // ndimage.zoom, order 1, pixel centres aligned, mode "mirror"
    const out = new Float64Array(oh * ow);
    const at = (o, n, on) => { let c = (o + 0.5) * (n / on) - 0.5; if (c < 0) c = -c; if (c > n - 1) c = 2 * (n - 1) - c; return Math.max(0, Math.min(c, n - 1)); };
    for (let y = 0; y < oh; y++) {
      const cy = at(y, h, oh), y0 = Math.floor(cy), y1 = Math.min(y0 + 1, h - 1), fy = cy - y0;
      for (let x = 0; x < ow; x++) {
        const cx = at(x, w, ow), x0 = Math.floor(cx), x1 = Math.min(x0 + 1, w - 1), fx = cx - x0;
        const top = g[y0 * w + x0] * (1 - fx) + g[y0 * w + x1] * fx, bottom = g[y1 * w + x0] * (1 - fx) + g[y1 * w + x1] * fx;
        out[y * ow + x] = top * (1 - fy) + bottom * fy;
      }
    }
    return out;
  }

  function rescale(g, h, w, scale) { // skimage.transform.rescale with anti-aliasing, preserve_range
    if (scale >= 1) return { small: g, sh: h, sw: w };
    const sh = Math.max(1, roundEven(h * scale)), sw = Math.max(1, roundEven(w * scale));
    let blurred = gaussian(g, h, w, Math.max(0, (w / sw - 1) / 2), true);
    blurred = gaussian(blurred, h, w, Math.max(0, (h / sh - 1) / 2), false);
    return { small: bilinear(blurred, h, w, sh, sw), sh, sw };
  }

  const POWERS = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4 - i; j++) POWERS.push([i, j]);
  const axis = (n) => Array.from({ length: n }, (_, i) => (n === 1 ? -1 : -1 + (2 * i) / (n - 1))); // linspace(−1, 1)

  function monomials(powers, h, w) { // one row of x^i y^j per pixel, flat
    const m = powers.length, out = new Float64Array(h * w * m);
    const raise = (values) => [0, 1, 2, 3].map((e) => values.map((v) => (e === 0 ? 1 : v ** e)));
    const xp = raise(axis(w)), yp = raise(axis(h));
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      for (let k = 0; k < m; k++) out[(y * w + x) * m + k] = xp[powers[k][0]][x] * yp[powers[k][1]][y];
    }
    return out;
  }

  function surface(coef, powers, h, w) { // Σ c·x^i·y^j, a row's polynomial in x at a time
    const xs = axis(w), ys = axis(h), out = new Float64Array(h * w);
    for (let y = 0; y < h; y++) {
      const inX = [0, 0, 0, 0]; // the coefficient of x^i on this row
      powers.forEach(([i, j], k) => { inX[i] += coef[k] * ys[y] ** j; });
      for (let x = 0; x < w; x++) { const v = xs[x]; out[y * w + x] = inX[0] + v * (inX[1] + v * (inX[2] + v * inX[3])); }
    }
    return out;
  }

  function solve(a, b) { // Gaussian elimination with partial pivoting (a 10×10 system at most)
    const n = b.length;
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
      [a[c], a[p]] = [a[p], a[c]]; [b[c], b[p]] = [b[p], b[c]];
      for (let r = c + 1; r < n; r++) {
        const f = a[r][c] / a[c][c];
        for (let k = c; k < n; k++) a[r][k] -= f * a[c][k];
        b[r] -= f * b[c];
      }
    }
    const x = new Array(n).fill(0);
    for (let r = n - 1; r >= 0; r--) { let s = b[r]; for (let k = r + 1; k < n; k++) s -= a[r][k] * x[k]; x[r] = s / a[r][r]; }
    return x;
  }

  function robustFit(small, h, w, powers, rounds) { // _robust_fit: refits to the paper, not the ink
    const m = powers.length, n = h * w, basis = monomials(powers, h, w);
    const tolerance = 3 * Math.max(noise(small, h, w), 1);
    const keep = new Uint8Array(n).fill(1);
    let coef = null;
    for (let step = 0; step < rounds; step++) {
      const a = Array.from({ length: m }, (_, r) => new Float64Array(m).fill(0).map((_, c) => (r === c ? 1e-9 : 0)));
      const b = new Float64Array(m);
      for (let p = 0; p < n; p++) {
        if (!keep[p]) continue;
        for (let r = 0; r < m; r++) {
          const v = basis[p * m + r];
          b[r] += v * small[p];
          for (let c = 0; c < m; c++) a[r][c] += v * basis[p * m + c];
        }
      }
      coef = solve(a, Array.from(b));
      for (let p = 0; p < n; p++) {
        let fit = 0;
        for (let k = 0; k < m; k++) fit += basis[p * m + k] * coef[k];
        const residual = small[p] - fit;
        keep[p] = step < rounds >> 1 ? residual >= 0 : residual > -tolerance;
      }
    }
    const kept = keep.reduce((a, b) => a + b, 0);
    return { coef, kept: kept || n };
  }

  function maxFilter(g, h, w, size) { // ndimage.maximum_filter (a window clipped at the edges)
    const before = Math.floor(size / 2), after = size - before - 1;
    const pass1 = new Float64Array(h * w), out = new Float64Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let m = -Infinity;
      for (let k = Math.max(0, x - before); k <= Math.min(w - 1, x + after); k++) m = Math.max(m, g[y * w + k]);
      pass1[y * w + x] = m;
    }
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let m = -Infinity;
      for (let k = Math.max(0, y - before); k <= Math.min(h - 1, y + after); k++) m = Math.max(m, pass1[k * w + x]);
      out[y * w + x] = m;
    }
    return out;
  }

  // The paper's brightness at each pixel: a flat or cubic surface fitted to a small copy (≤ 64 px)
  function paperBrightness(g, h, w) {
    const scale = Math.min(1, Math.max(64 / Math.max(h, w), 16 / Math.min(h, w)));
    const { small, sh, sw } = rescale(g, h, w, scale);
    const flat = robustFit(small, sh, sw, POWERS.slice(0, 1), 6);
    let { coef } = flat, powers = POWERS.slice(0, 1);
    if (Math.min(sh, sw) >= 16) {
      const cubic = robustFit(small, sh, sw, POWERS, 6);
      const fitted = surface(cubic.coef, POWERS, sh, sw);
      let top = -Infinity, brightest = -Infinity;
      for (let p = 0; p < fitted.length; p++) { top = Math.max(top, fitted[p]); brightest = Math.max(brightest, small[p]); }
      const swings = top > brightest + 3 * Math.max(noise(small, sh, sw), 1);
      if (flat.kept < 0.9 * cubic.kept && !swings) { coef = cubic.coef; powers = POWERS; }
    }
    const paper = surface(coef, powers, h, w);
    if (powers.length === 1) return paper;
    const ceiling = bilinear(maxFilter(small, sh, sw, Math.max(9, roundEven(0.25 * Math.max(sh, sw)))), sh, sw, h, w);
    return paper.map((v, p) => Math.min(v, ceiling[p]));
  }

  function otsu(values) { // skimage.filters.threshold_otsu, 256 bins over the values' range
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!(hi > lo)) return 0; // none, or all alike: no threshold among them (as _stroke_threshold)
    const bins = 256, hist = new Float64Array(bins), width = (hi - lo) / bins;
    for (const v of values) hist[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
    const centres = Array.from({ length: bins }, (_, i) => lo + (i + 0.5) * width);
    const w1 = [], m1 = [], w2 = new Array(bins), m2 = new Array(bins);
    let cw = 0, cm = 0;
    for (let i = 0; i < bins; i++) { cw += hist[i]; cm += hist[i] * centres[i]; w1.push(cw); m1.push(cm / cw); }
    cw = 0; cm = 0;
    for (let i = bins - 1; i >= 0; i--) { cw += hist[i]; cm += hist[i] * centres[i]; w2[i] = cw; m2[i] = cm / cw; }
    let best = -1, at = 0;
    for (let i = 0; i < bins - 1; i++) {
      const v = w1[i] * w2[i + 1] * (m1[i] - m2[i + 1]) ** 2;
      if (v > best) { best = v; at = i; }
    }
    return centres[at];
  }

  // Connected components of a mask (4- or 8-connected), numbered in raster order from 1.
  function label(mask, h, w, eight) {
    const labels = new Int32Array(h * w), stack = [];
    const steps = eight ? [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]] : [[-1, 0], [0, -1], [0, 1], [1, 0]];
    let count = 0;
    for (let start = 0; start < h * w; start++) {
      if (!mask[start] || labels[start]) continue;
      labels[start] = ++count;
      stack.push(start);
      while (stack.length) {
        const p = stack.pop(), y = Math.floor(p / w), x = p % w;
        for (const [dy, dx] of steps) {
          const yy = y + dy, xx = x + dx, q = yy * w + xx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w && mask[q] && !labels[q]) { labels[q] = count; stack.push(q); }
        }
      }
    }
    return { labels, count };
  }

  function regions(labels, count, ink, h, w) {
    const found = Array.from({ length: count }, (_, i) => ({ label: i + 1, top: h, left: w, bottom: 0, right: 0, area: 0, ink: 0 }));
    for (let p = 0; p < h * w; p++) {
      if (!labels[p]) continue;
      const r = found[labels[p] - 1], y = Math.floor(p / w), x = p % w;
      r.top = Math.min(r.top, y); r.left = Math.min(r.left, x);
      r.bottom = Math.max(r.bottom, y + 1); r.right = Math.max(r.right, x + 1);
      r.area++; r.ink += ink[p];
    }
    return found;
  }

  const noDigit = () => new Error(msg("{source}: no digit found (the image is blank, uniform or only noise)", { source: msg("uploaded image") }));

  function inkMap(gray, h, w) {
    let g = Float64Array.from(gray);
    if (Math.min(h, w) >= 64 || noise(g, h, w) > 2) g = median3(g, h, w);
    if (darkPaper(g, h, w)) g = g.map((v) => 255 - v);
    const paper = paperBrightness(g, h, w);
    const brighter = [];
    const ink = g.map((v, p) => { const r = paper[p] - v; if (r < 0) brighter.push(-r); return Math.max(r, 0); });
    const sigma = brighter.length ? 1.4826 * median(brighter) : 0;
    const standing = ink.filter((v) => v > 3 * sigma);
    const high = Math.max(otsu(standing), NOISE_FACTOR * sigma, MIN_CONTRAST / 2);
    const low = label(ink.map((v) => v > high / 2), h, w, false); // hysteresis: 4-connected, as scipy
    const strong = new Uint8Array(low.count + 1);
    ink.forEach((v, p) => { if (v > high) strong[low.labels[p]] = 1; });
    const mask = low.labels.map((l) => (l && strong[l] ? 1 : 0));
    const { labels, count } = label(mask, h, w, true);
    const marks = regions(labels, count, ink, h, w).filter((r) => {
      const height = r.bottom - r.top, width = r.right - r.left;
      return !(width >= 0.5 * w && height <= 0.2 * width); // a ruled line or the paper's edge
    });
    return { ink, sigma, labels, marks, high };
  }

  function digitInk(gray, h, w) {
    const found = inkMap(gray, h, w);
    const tall = found.marks.filter((r) => r.bottom - r.top >= Math.max(4, MIN_HEIGHT * Math.min(h, w)));
    if (!tall.length) throw noDigit();
    const main = tall.reduce((a, b) => (b.ink > a.ink ? b : a));
    const near = (r, reach) => {
      const grow = (main.bottom - main.top) * reach;
      return r.top < main.bottom + grow && r.bottom > main.top - grow && r.left < main.right + grow && r.right > main.left - grow;
    };
    const keep = new Set(found.marks.filter((r) => r === main || (r.area >= 0.1 * main.area && near(r, 1 / 3)) ||
      (r.area >= 0.02 * main.area && near(r, 0))).map((r) => r.label));
    const { ink, sigma, labels, high } = found;
    const core = labels.map((l) => (keep.has(l) ? 1 : 0));
    const level = median(ink.filter((v, p) => core[p] && v >= high)) || 0;
    if (!(level >= Math.max(MIN_CONTRAST, NOISE_FACTOR * sigma))) throw noDigit();
    const faint = ink.map((v) => (v >= Math.max(SUPPORT * level, 3 * sigma) ? 1 : 0));
    const parts = label(faint, h, w, true);
    const touching = new Uint8Array(parts.count + 1);
    core.forEach((c, p) => { if (c) touching[parts.labels[p]] = 1; });
    return ink.map((v, p) => (faint[p] && touching[parts.labels[p]] ? Math.min(Math.max(v / level, 0), 1) : 0));
  }

  // digits.thickened: strokes under STROKE_SHARE of the crop's longer side widened by a maximum
  // filter (the crop padded with zeros, then cut to the ink again); bolder digits as they are
  const STROKE_SHARE = 0.09;
  function thickened(crop, ch, cw) {
    let peak = 0;
    for (const v of crop) peak = Math.max(peak, v);
    const inked = (y, x) => y >= 0 && y < ch && x >= 0 && x < cw && crop[y * cw + x] >= 0.5 * peak;
    let area = 0, inner = 0;
    for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) {
      if (!inked(y, x)) continue;
      area++;
      if (inked(y - 1, x) && inked(y + 1, x) && inked(y, x - 1) && inked(y, x + 1)) inner++;
    }
    const width = (2 * area) / Math.max(area - inner, 1);
    const grow = roundEven(STROKE_SHARE * Math.max(ch, cw) - width);
    if (grow < 1) return { crop, ch, cw };
    const ph = ch + 2 * grow, pw = cw + 2 * grow, padded = new Float64Array(ph * pw);
    for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) padded[(y + grow) * pw + x + grow] = crop[y * cw + x];
    const wide = maxFilter(padded, ph, pw, grow + 1);
    let top = ph, left = pw, bottom = -1, right = -1;
    for (let p = 0; p < ph * pw; p++) {
      if (wide[p] > 0) { const y = Math.floor(p / pw), x = p % pw; top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x); }
    }
    const nh = bottom - top + 1, nw = right - left + 1, out = new Float64Array(nh * nw);
    for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) out[y * nw + x] = wide[(top + y) * pw + left + x];
    return { crop: out, ch: nh, cw: nw };
  }

  // mnist_field: crop, fit into 20×20 (Pillow's Lanczos on float32), centre of mass at (14, 14)
  function mnistField(ink, h, w) {
    let top = h, left = w, bottom = -1, right = -1;
    for (let p = 0; p < h * w; p++) {
      if (ink[p] > 0) { const y = Math.floor(p / w), x = p % w; top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x); }
    }
    if (bottom < 0) throw noDigit();
    const tight = new Float64Array((bottom - top + 1) * (right - left + 1));
    for (let y = 0; y <= bottom - top; y++) for (let x = 0; x <= right - left; x++) tight[y * (right - left + 1) + x] = ink[(top + y) * w + left + x];
    const { crop: wide, ch, cw } = thickened(tight, bottom - top + 1, right - left + 1);
    const crop = wide.map(Math.fround);
    const scale = BOX / Math.max(ch, cw);
    const nh = Math.max(1, roundEven(ch * scale)), nw = Math.max(1, roundEven(cw * scale));
    const boxed = resize(crop, cw, ch, 1, nw, nh, "lanczos", false).map((v) => Math.min(Math.max(v, 0), 255));
    let total = 0, sy = 0, sx = 0;
    boxed.forEach((v, p) => { total += v; sy += Math.floor(p / nw) * v; sx += (p % nw) * v; });
    if (!(total > 0)) throw noDigit();
    const at = (c, n) => Math.min(Math.max(roundEven(FIELD / 2 - c), 0), FIELD - n);
    const y0 = at(sy / total, nh), x0 = at(sx / total, nw);
    const grid = Array.from({ length: FIELD }, () => new Array(FIELD).fill(0));
    for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) grid[y0 + y][x0 + x] = Math.min(Math.max(roundEven(boxed[y * nw + x]), 0), 255);
    return grid;
  }

  // ------------------------------------------------------------ the two preparations

  // A digit model's picture: prepare_digit (a 28×28 light-on-black picture is used as it is),
  // then, for a model of another size, Pillow's Lanczos to that size, as the server does.
  function prepareDigit(rgba, w, h, size) {
    const gray = lumaGray(onPaper(rgba).rgb);
    let grid;
    const edge = border(gray, h, w);
    if (h === FIELD && w === FIELD && Math.max(...edge) === 0 && Math.max(...gray) > 0) {
      grid = Array.from({ length: h }, (_, y) => Array.from(gray.slice(y * w, y * w + w), (v) => Math.min(Math.max(roundEven(v), 0), 255)));
    } else {
      grid = mnistField(digitInk(gray, h, w).map((v) => v * 255), h, w);
    }
    if (size[0] === FIELD && size[1] === FIELD) return grid;
    const out = resize(Float64Array.from(grid.flat()), FIELD, FIELD, 1, size[1], size[0], "lanczos", true);
    return Array.from({ length: size[0] }, (_, y) => Array.from(out.slice(y * size[1], (y + 1) * size[1])));
  }

  // The picture at full size as picture_pixels makes it: on white paper, Pillow's L (or RGB).
  function pictureValues(rgba, w, h, channels) {
    let { rgb, transparent } = onPaper(rgba);
    if (transparent) rgb = rgb.map((v) => Math.min(Math.max(roundEven(v), 0), 255));
    if (channels === 3) return { pixels: rgb, c: 3 };
    const pixels = new Float64Array(w * h);
    for (let i = 0; i < w * h; i++) pixels[i] = Math.floor((rgb[3 * i] * 19595 + rgb[3 * i + 1] * 38470 + rgb[3 * i + 2] * 7471 + 0x8000) / 65536);
    return { pixels, c: 1 };
  }

  function grayOf(pixels, n, c) { // numpy's mean over the channels
    if (c === 1) return pixels;
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) g[i] = (pixels[3 * i] + pixels[3 * i + 1] + pixels[3 * i + 2]) / 3;
    return g;
  }

  function gridOf(pixels, oh, ow, c) {
    return Array.from({ length: oh }, (_, y) => Array.from({ length: ow }, (_, x) => {
      const p = (y * ow + x) * c;
      return c === 1 ? pixels[p] : [pixels[p], pixels[p + 1], pixels[p + 2]];
    }));
  }

  // A folder model's picture: picture_pixels (Pillow's L or RGB, bilinear to the model's size),
  // inverted when its paper is the other one than the training pictures' (Explainer._other_paper).
  function prepareResize(rgba, w, h, size, channels, paper) {
    let { pixels, c } = pictureValues(rgba, w, h, channels);
    const [oh, ow] = size;
    if (ow !== w || oh !== h) pixels = resize(pixels, w, h, c, ow, oh, "bilinear", true);
    const grid = gridOf(pixels, oh, ow, c);
    if (paper !== "light" && paper !== "dark") return grid;
    const gray = grid.flat().map((v) => (Array.isArray(v) ? (v[0] + v[1] + v[2]) / 3 : v));
    const light = median(border(gray, oh, ow)) >= 128;
    if (light === (paper === "light")) return grid;
    return grid.map((line) => line.map((v) => (Array.isArray(v) ? v.map((u) => 255 - u) : 255 - v)));
  }

  // A built-in set's object (framing.framed): trimmed to the rows and columns with 2 (and 2%) or
  // more pixels over 16 from the border's median, turned to the training paper, its longest side fit to the frame, centred on the
  // background; a picture that fills a frame of the model's shape already is resized whole.
  function prepareFrame(rgba, w, h, size, channels, paper) {
    const { pixels, c } = pictureValues(rgba, w, h, channels);
    const gray = grayOf(pixels, w * h, c), back = median(border(gray, h, w)), [oh, ow] = size;
    const inRow = new Int32Array(h), inCol = new Int32Array(w); // object pixels per row and column
    for (let p = 0; p < w * h; p++) if (Math.abs(gray[p] - back) > OBJECT_STEP) { inRow[Math.floor(p / w)]++; inCol[p % w]++; }
    const rowNeed = Math.max(2, Math.floor((w + 49) / 50)), colNeed = Math.max(2, Math.floor((h + 49) / 50)); // not a speck
    let top = h, left = w, bottom = -1, right = -1;
    for (let y = 0; y < h; y++) if (inRow[y] >= rowNeed) { top = Math.min(top, y); bottom = y; }
    for (let x = 0; x < w; x++) if (inCol[x] >= colNeed) { left = Math.min(left, x); right = x; }
    if (right < 0) bottom = -1;
    const bh = bottom - top + 1, bw = right - left + 1;
    const same = Math.abs((h * ow) / (w * oh) - 1) <= 0.05;
    if (bottom < 0 || (same && Math.max(bh / h, bw / w) >= FILLED)) return prepareResize(rgba, w, h, size, channels, paper);
    const invert = (paper === "light" || paper === "dark") && (back >= 128) !== (paper === "light");
    const turned = invert ? pixels.map((v) => 255 - v) : pixels;
    const crop = new Float64Array(bh * bw * c);
    for (let y = 0; y < bh; y++) for (let i = 0; i < bw * c; i++) crop[y * bw * c + i] = turned[((top + y) * w + left) * c + i];
    const scale = Math.min(oh / bh, ow / bw);
    const nh = Math.min(oh, Math.max(1, roundEven(bh * scale))), nw = Math.min(ow, Math.max(1, roundEven(bw * scale)));
    const small = nw !== bw || nh !== bh ? resize(crop, bw, bh, c, nw, nh, "bilinear", true) : crop;
    const fill = roundEven(median(border(grayOf(turned, w * h, c), h, w)));
    const out = new Float64Array(oh * ow * c).fill(fill), y0 = Math.floor((oh - nh) / 2), x0 = Math.floor((ow - nw) / 2);
    for (let y = 0; y < nh; y++) for (let i = 0; i < nw * c; i++) out[((y0 + y) * ow + x0) * c + i] = small[y * nw * c + i];
    return gridOf(out, oh, ow, c);
  }

  window.convcliPrepare = { prepareDigit, prepareResize, prepareFrame, resize, otsu, median };
})();
