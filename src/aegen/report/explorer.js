// The report's latent explorer: moves one z-vector and decodes it in the page with TensorFlow.js.
//
// The whole state is one vector z (d values); every control is a view of it. A PCA slider shows
// z's coordinate on that axis in sigma units, and moving it adds along the axis; an attribute
// slider does the same along the attribute's direction, in units of the cloud's std along it; the
// radius control rescales z - centre to the chosen Mahalanobis radius. After every change all
// controls are set from z again, so they always agree (attribute directions are not orthogonal
// to the PCA axes: moving one moves the others).
//
// The page is opened from disk, so nothing may be fetched: the data, the decoder's weights, the
// runtime's scripts and its WebAssembly are in the page as base64 of gzip, inflated with
// DecompressionStream; the scripts run from a blob: URL and the backend gets the WebAssembly from
// another. The decoder is a TF.js Layers model (topology and weight manifest as JSON: data, not
// code); the WebAssembly backend runs on one thread (no SharedArrayBuffer without cross-origin
// isolation), with SIMD, which every current browser has.
(() => {
  "use strict";
  const PREFIX = "aegen-explorer-";
  const byId = (name) => document.getElementById(PREFIX + name);
  const root = byId("root");
  const settings = JSON.parse(byId("settings").textContent);
  const d = settings.z_dim;
  const size = settings.image_size;

  function base64Bytes(name) {
    const text = atob(byId(name).textContent.trim());
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  async function inflate(name) {
    const stream = new Blob([base64Bytes(name)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function unpack(bytes) {
    const arrays = {};
    for (const [name, entry] of Object.entries(settings.arrays)) {
      const count = entry.shape.reduce((a, b) => a * b, 1);
      arrays[name] = new Float32Array(bytes.buffer, bytes.byteOffset + entry.offset, count);
    }
    return arrays;
  }

  // -- geometry: everything in float64 ---------------------------------------------------------
  let A = null;
  const z = new Float64Array(d);
  let start = new Float64Array(d);

  function project(rows, k, centre, scale) {
    // ((z - centre) . rows[k]) / scale
    let sum = 0;
    const offset = k * d;
    for (let i = 0; i < d; i++) sum += (z[i] - centre[i]) * rows[offset + i];
    return sum / scale;
  }

  function pcaCoordinate(k) { return project(A.axes, k, A.mean, A.sigmas[k]); }
  function attributeCoordinate(a) { return project(A.attribute_directions, a, A.mean, settings.attributes[a].step); }

  function radius() {
    let sum = 0;
    for (let k = 0; k < settings.pca.rank; k++) sum += pcaCoordinate(k) ** 2;
    return Math.sqrt(sum);
  }

  // Largest u_i^2 + u_j^2 over pairs of the seed's normalised coordinates: <= 1 inside every ellipse.
  function largestPairSum() {
    let first = 0, second = 0;
    for (let k = 0; k < settings.ellipse.n_components; k++) {
      const u2 = project(A.ellipse_axes, k, A.ellipse_mean, A.ellipse_limits[k]) ** 2;
      if (u2 > first) { second = first; first = u2; } else if (u2 > second) second = u2;
    }
    return first + second;
  }

  function moveAlong(rows, k, amount) {
    const offset = k * d;
    for (let i = 0; i < d; i++) z[i] += amount * rows[offset + i];
  }

  function setRadius(target) {
    const current = radius();
    if (current < 1e-12) return;  // at the centre there is no direction to scale along
    const factor = target / current;
    for (let i = 0; i < d; i++) z[i] = A.mean[i] + factor * (z[i] - A.mean[i]);
  }

  // -- controls ------------------------------------------------------------------------------------
  const sliders = [];  // {input, output, read(), write(value), format(value)}

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A range input with a label and a value readout; ``marks`` are [from, to, class] spans drawn under it.
  function addSlider(parent, label, min, max, step, marks, read, write, format, key) {
    const row = element("div", "explorer-slider");
    const name = element("label", "", label);
    const input = element("input");
    Object.assign(input, {type: "range", min: String(min), max: String(max), step: String(step)});
    input.dataset.control = key;
    const id = PREFIX + "control-" + key;
    input.id = id;
    name.htmlFor = id;
    const output = element("output");
    const track = element("div", "explorer-track");
    track.append(input);
    const scale = element("div", "explorer-scale");
    for (const [from, to, kind] of marks) {
      const span = element("span", kind);
      span.style.left = (100 * (from - min) / (max - min)) + "%";
      span.style.width = (100 * (to - from) / (max - min)) + "%";
      scale.append(span);
    }
    track.append(scale);
    row.append(name, track, output);
    parent.append(row);
    const slider = {input, output, read, write, format};
    input.addEventListener("input", () => {
      write(Number(input.value));
      refresh(slider);
      redraw();
    });
    sliders.push(slider);
    return slider;
  }

  const fixed = (digits) => (value) => (value >= 0 ? "+" : "") + value.toFixed(digits);

  function buildControls() {
    const pca = settings.pca;
    const limit = pca.seed_sigma_limit;
    const range = pca.slider_sigmas;
    const pcaBox = byId("pca");
    for (let k = 0; k < pca.n_sliders; k++) {
      addSlider(pcaBox, "PC " + (k + 1), -range, range, 0.01,
                [[-range, -limit, "outside"], [limit, range, "outside"], [-0.01, 0.01, "centre"]],
                () => pcaCoordinate(k), (target) => moveAlong(A.axes, k, (target - pcaCoordinate(k)) * A.sigmas[k]),
                (value) => fixed(2)(value) + " σ", "pc" + (k + 1));
    }
    const attributeBox = byId("attributes");
    if (settings.attributes.length === 0) {
      attributeBox.append(element("p", "note", "This run has no attribute labels: PCA controls only."));
    }
    settings.attributes.forEach((attribute, a) => {
      addSlider(attributeBox, attribute.name, -range, range, 0.01, [[-0.01, 0.01, "centre"]],
                () => attributeCoordinate(a),
                (target) => moveAlong(A.attribute_directions, a, (target - attributeCoordinate(a)) * attribute.step),
                (value) => fixed(2)(value) + " std", "attr-" + a);
    });
    const band = settings.radius.band;
    addSlider(byId("radius-control"), "Radius", 0, settings.radius.max, settings.radius.max / 1000,
              [[band[0], band[1], "band"]], radius, setRadius, (value) => value.toFixed(2), "radius");

    const buttons = byId("buttons");
    for (const kind of settings.starts) {
      const button = element("button", "", kind.label);
      button.type = "button";
      button.dataset.start = kind.key;
      button.addEventListener("click", () => { startFrom(kind); });
      buttons.append(button);
    }
    const reset = element("button", "", "Reset");
    reset.type = "button";
    reset.dataset.start = "reset";
    reset.addEventListener("click", () => { z.set(start); refresh(null); redraw(); });
    buttons.append(reset);
  }

  const nextIndex = {};
  function startFrom(kind) {
    const pool = A["start_" + kind.key];
    const count = pool.length / d;
    const index = (nextIndex[kind.key] || 0) % count;
    nextIndex[kind.key] = index + 1;
    start = Float64Array.from(pool.subarray(index * d, (index + 1) * d));
    z.set(start);
    const name = kind.names ? " " + kind.names[index] : "";
    byId("start").textContent = `${kind.label}${name} (${index + 1} of ${count}, seed ${kind.seed})`;
    refresh(null);
    redraw();
  }

  function refresh(active) {
    for (const slider of sliders) {
      const value = slider.read();
      if (slider !== active) slider.input.value = String(value);
      slider.output.textContent = slider.format(value);
    }
    const r = radius();
    const band = settings.radius.band;
    const where = r < band[0] ? "inside the band's inner edge" : r > band[1] ? "beyond the band" : "within the band";
    byId("radius").textContent = `${r.toFixed(2)} (held-out 5–95%: ${band[0].toFixed(2)}–${band[1].toFixed(2)}, ${where})`;
    const pair = largestPairSum();
    const inside = pair <= 1;
    const insideText = byId("inside");
    insideText.textContent = `${inside ? "yes" : "no"} (largest u_i² + u_j² = ${pair.toFixed(2)})`;
    insideText.className = inside ? "yes" : "no";
    state.radius = r;
    state.largestPairSum = pair;
    state.inside = inside;
  }

  // -- decoding ------------------------------------------------------------------------------------
  const state = {ready: false, frames: 0, decodeMs: [], radius: NaN, largestPairSum: NaN, inside: null};
  let model = null;
  let busy = false;
  let again = false;
  const canvas = byId("canvas");
  const context = canvas.getContext("2d");
  const image = context.createImageData(size, size);

  // (n, d) floats -> (n, S, S, 3) floats in [0, 1], channels last.
  async function decode(flat, n) {
    const output = tf.tidy(() => model.predict(tf.tensor2d(Float32Array.from(flat), [n, d])));
    try {
      return await output.data();
    } finally {
      output.dispose();
    }
  }

  function draw(pixelsRGB) {
    // (S, S, 3) floats in [0, 1] -> RGBA bytes, rounded as aegen.model.to_images does
    const pixels = size * size;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < 3; c++) {
        image.data[4 * p + c] = Math.round(Math.min(1, Math.max(0, pixelsRGB[3 * p + c])) * 255);
      }
      image.data[4 * p + 3] = 255;
    }
    context.putImageData(image, 0, 0);
  }

  async function redraw() {
    if (!model) return;
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        const begin = performance.now();
        draw(await decode(z, 1));
        const ms = performance.now() - begin;
        state.frames += 1;
        state.decodeMs.push(ms);
        byId("timing").textContent = `${ms.toFixed(1)} ms for the last frame`;
      } while (again);
    } finally {
      busy = false;
    }
  }

  function idle() {
    return new Promise((resolve) => {
      const check = () => (busy || again ? setTimeout(check, 5) : resolve());
      check();
    });
  }

  function runScript(bytes) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = URL.createObjectURL(new Blob([bytes], {type: "text/javascript"}));
      script.onload = resolve;
      script.onerror = () => reject(new Error("the runtime's script did not run"));
      document.head.append(script);
    });
  }

  async function startRuntime() {
    await runScript(await inflate("tfjs"));
    tf.enableProdMode();  // no NaN check after every op
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    if (!(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))) {
      throw new Error("this browser's WebAssembly has no SIMD, which the decoder's runtime needs");
    }
    const wasm = URL.createObjectURL(new Blob([await inflate("tfjs-wasm")], {type: "application/wasm"}));
    // Only the SIMD module is in the page; the backend asks for a path to each of its three.
    tf.wasm.setWasmPaths({"tfjs-backend-wasm-simd.wasm": wasm, "tfjs-backend-wasm.wasm": wasm,
                          "tfjs-backend-wasm-threaded-simd.wasm": wasm});
    if (!(await tf.setBackend("wasm"))) throw new Error("TensorFlow.js's WebAssembly backend did not start");
  }

  async function load() {
    const status = byId("status");
    try {
      A = unpack(await inflate("arrays"));
      buildControls();
      await startRuntime();
      const artifacts = JSON.parse(byId("decoder").textContent);
      const weights = await inflate("decoder-weights");
      artifacts.weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
      model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      startFrom(settings.starts[0]);
      await idle();
      state.ready = true;
      root.dataset.state = "ready";
      status.textContent = "";
    } catch (error) {
      root.dataset.state = "failed";
      status.textContent = "The explorer could not start in this browser: " + error;
      console.error("aegen explorer:", error);
      throw error;
    }
  }

  const ready = load();
  // For tests and screenshots: the state, the vector, the pending decode, and a batch decoder.
  window.aegenExplorer = {
    ready, state, idle,
    z: () => Array.from(z),
    decode: async (flat, n) => Array.from(await decode(flat, n)),
  };
})();
