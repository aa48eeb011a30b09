// faceprint console: plain JavaScript over the service's public cloud API v3
// endpoints (/oauth/2.0/token and /rest/2.0/face/v3/...). No build step, no
// library. The only thing kept in the browser is the signed-in key (and its
// access token), in sessionStorage.
"use strict";

(function () {
  const API = "/rest/2.0/face/v3";
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;

  // ---------------------------------------------------------------- messages
  function showError(message) {
    $("error").textContent = message;
  }
  function clearError() {
    $("error").textContent = "";
  }
  function status(message) {
    $("status").textContent = message;
  }

  class ApiError extends Error {
    constructor(code, message, http) {
      super(message);
      this.code = code;
      this.http = http;
    }
    toString() {
      return "API error " + this.code + ": " + this.message;
    }
  }

  // ---------------------------------------------------------------- auth
  async function fetchToken(key, secret) {
    const q = new URLSearchParams({
      grant_type: "client_credentials", client_id: key, client_secret: secret,
    });
    let resp;
    try {
      resp = await fetch("/oauth/2.0/token?" + q.toString(), { method: "POST" });
    } catch (e) {
      throw new ApiError("network", "the service cannot be reached (" + e.message + ")", 0);
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!body || !body.access_token) {
      const code = body && (body.error || body.error_code) || resp.status;
      const msg = body && (body.error_description || body.error_msg) || resp.statusText;
      throw new ApiError(code, msg, resp.status);
    }
    return body;
  }

  async function signIn(key, secret) {
    const body = await fetchToken(key, secret);
    store.setItem("faceprint.key", key);
    store.setItem("faceprint.secret", secret);
    store.setItem("faceprint.token", body.access_token);
    store.setItem("faceprint.scope", body.scope || "");
  }

  function signedIn() {
    return !!store.getItem("faceprint.token");
  }

  function signOut() {
    ["faceprint.key", "faceprint.secret", "faceprint.token", "faceprint.scope"]
      .forEach((k) => store.removeItem(k));
    // a new key's secret shown on the page goes with the sign-out
    $("key-new").hidden = true;
    $("key-new-api").textContent = "";
    $("key-new-secret").textContent = "";
    showScreen("signin");
  }

  // One call of the cloud API: the envelope's error_code != 0 is an ApiError.
  // An expired or invalid token (110, 111) is renewed once from the stored key.
  async function call(path, body, retried) {
    const token = store.getItem("faceprint.token") || "";
    let resp;
    try {
      resp = await fetch(API + path + "?access_token=" + encodeURIComponent(token), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError("network", "the service cannot be reached (" + e.message + ")", 0);
    }
    let env = null;
    try { env = await resp.json(); } catch (e) { env = null; }
    if (!env) {
      throw new ApiError(resp.status, "the service answered HTTP " + resp.status +
        " without a JSON body", resp.status);
    }
    const code = env.error_code || 0;
    if ((code === 110 || code === 111) && !retried && store.getItem("faceprint.key")) {
      await signIn(store.getItem("faceprint.key"), store.getItem("faceprint.secret") || "");
      return call(path, body, true);
    }
    if (code !== 0) {
      throw new ApiError(code, env.error_msg || "error", resp.status);
    }
    return env.result || {};
  }

  // How much work is in flight, on <body data-pending> (0: the page is idle; the
  // browser tests wait for it).
  let pending = 0;
  function track(promise) {
    pending += 1;
    document.body.dataset.pending = String(pending);
    return Promise.resolve(promise).finally(() => {
      pending -= 1;
      document.body.dataset.pending = String(pending);
    });
  }

  // Run an action, showing its API error (or any error) in the alert region.
  function guarded(label, action) {
    return track(guardedRun(label, action));
  }

  async function guardedRun(label, action) {
    clearError();
    status(label + "...");
    try {
      const out = await action();
      status(label + ": done.");
      return out;
    } catch (e) {
      status("");
      if (e instanceof ApiError) {
        showError(label + " failed. " + e.toString());
      } else {
        showError(label + " failed: " + (e && e.message ? e.message : String(e)));
      }
      return undefined;
    }
  }

  // ---------------------------------------------------------------- images
  function readFile(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result));
      r.onerror = () => reject(new Error("cannot read " + file.name));
      r.readAsDataURL(file);
    });
  }
  function base64Of(dataUrl) {
    const i = dataUrl.indexOf(",");
    return i >= 0 ? dataUrl.slice(i + 1) : dataUrl;
  }
  function loadImage(dataUrl) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("the browser cannot show this image"));
      img.src = dataUrl;
    });
  }

  // Scale an image to fit the stage's width (at most `maxW` CSS pixels).
  function fitScale(img, maxW) {
    return Math.min(1, maxW / img.naturalWidth);
  }
  function stageWidth(canvas) {
    const parent = canvas.parentElement;
    return Math.max(240, Math.min(1200, (parent && parent.clientWidth) || 800));
  }

  const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
    "#008080", "#9a6324", "#800000", "#000075", "#f032e6"];

  // The box of a face: faceprint's `location` is the axis-aligned box
  // (left, top, width, height) in pixels of the photo; its `rotation` is the
  // face's roll, shown in the numbers, not a turn of the box.
  function drawBox(ctx, loc, s, ox, oy, colour, width) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.strokeRect(ox + loc.left * s, oy + loc.top * s, loc.width * s, loc.height * s);
  }
  function drawLabel(ctx, text, x, y, colour, small) {
    const size = small ? 11 : 14;
    ctx.font = "bold " + size + "px sans-serif";
    const w = ctx.measureText(text).width + 8;
    const h = size + 6;
    const tx = Math.max(0, Math.min(x, ctx.canvas.width - w));
    const ty = Math.max(0, y - h);
    ctx.fillStyle = colour;
    ctx.fillRect(tx, ty, w, h);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(text, tx + 4, ty + size + 1);
  }
  function drawPoints(ctx, points, s, ox, oy, colour, r) {
    ctx.fillStyle = colour;
    for (const p of points || []) {
      ctx.beginPath();
      ctx.arc(ox + p.x * s, oy + p.y * s, r, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  function inBox(loc, x, y) {
    return x >= loc.left && y >= loc.top && x <= loc.left + loc.width && y <= loc.top + loc.height;
  }
  function fmt(x, digits) {
    if (typeof x !== "number") return String(x);
    const text = x.toFixed(digits === undefined ? 2 : digits);
    return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;  // no "-0"
  }

  // Drop a file onto a zone: hand it to the zone's file input.
  function dropZone(zoneId, inputId) {
    const zone = $(zoneId);
    const input = $(inputId);
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        input.dispatchEvent(new Event("change"));
      }
    });
  }

  // ---------------------------------------------------------------- screens
  const SCREENS = ["signin", "detect", "recognise", "compare", "manage"];
  function showScreen(name) {
    for (const s of SCREENS) {
      $("screen-" + s).hidden = s !== name;
    }
    $("tabs").hidden = name === "signin";
    for (const b of document.querySelectorAll("#tabs button[data-screen]")) {
      if (b.dataset.screen === name) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    clearError();
    if (name === "recognise") track(loadGroupChoices());
    if (name === "manage") track(loadGroups());
  }

  // ---------------------------------------------------------------- detect
  const detectState = { img: null, faces: [], chosen: -1, scale: 1 };

  function drawDetect() {
    const canvas = $("detect-canvas");
    const img = detectState.img;
    if (!img) return;
    const s = fitScale(img, stageWidth(canvas));
    detectState.scale = s;
    canvas.width = Math.round(img.naturalWidth * s);
    canvas.height = Math.round(img.naturalHeight * s);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    detectState.faces.forEach((f, i) => {
      const colour = COLOURS[i % COLOURS.length];
      const loc = f.location;
      drawBox(ctx, loc, s, 0, 0, colour, i === detectState.chosen ? 4 : 2);
      // on a narrow screen: the face's number only, smaller points (the list
      // and the numbers panel carry the rest)
      const small = canvas.width < 700;
      drawPoints(ctx, f.landmark72 || f.landmark68 || f.landmark150, s, 0, 0, "rgba(255,255,0,0.8)", small ? 0.8 : 1.2);
      // faceprint's five points (landmark5) where the service gives them, else the
      // cloud shape's four
      drawPoints(ctx, f.landmark5 || f.landmark, s, 0, 0, colour, small ? 2 : 3);
      let label = "#" + (i + 1);
      if (!small) {
        label += " " + fmt(f.face_probability);
        if (f.angle) label += " y" + fmt(f.angle.yaw, 0) + " p" + fmt(f.angle.pitch, 0) + " r" + fmt(f.angle.roll, 0);
      }
      drawLabel(ctx, label, loc.left * s, loc.top * s, colour, small);
    });
  }

  function describeValue(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return fmt(v, 3);
    if (Array.isArray(v)) {
      if (v.length && typeof v[0] === "object" && "x" in v[0]) {
        return v.map((p) => "(" + fmt(p.x, 1) + ", " + fmt(p.y, 1) + ")").join(" ");
      }
      return v.map(describeValue).join(", ");
    }
    if (typeof v === "object") {
      return Object.entries(v).map(([k, x]) => k + " " + describeValue(x)).join("; ");
    }
    return String(v);
  }

  function chooseFace(i) {
    detectState.chosen = i;
    drawDetect();
    const dl = $("detect-details");
    dl.textContent = "";
    const f = detectState.faces[i];
    if (!f) return;
    const add = (k, v) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = describeValue(v);
      dl.append(dt, dd);
    };
    add("face", "#" + (i + 1));
    for (const [k, v] of Object.entries(f)) {
      if (k === "landmark72" || k === "landmark68" || k === "landmark150") {
        add(k, v.length + " points");
      } else {
        add(k, v);
      }
    }
    for (const b of document.querySelectorAll("#detect-faces button")) {
      b.setAttribute("aria-pressed", b.dataset.index === String(i) ? "true" : "false");
    }
  }

  function clearDetect() {
    detectState.img = null;
    detectState.faces = [];
    detectState.chosen = -1;
    $("detect-summary").textContent = "";
    $("detect-faces").textContent = "";
    $("detect-details").textContent = "";
    const c = $("detect-canvas");
    c.width = 0;
    c.height = 0;
  }

  async function detectDataUrl(dataUrl) {
    clearDetect();
    const fields = $("detect-fields").value.trim();
    const max = parseInt($("detect-max").value, 10) || 10;
    const result = await guarded("Detect", () => call("/detect", {
      image: base64Of(dataUrl), image_type: "BASE64", face_field: fields, max_face_num: max,
    }));
    if (!result) return;
    const img = await loadImage(dataUrl).catch((e) => { showError(e.message); return null; });
    if (!img) return;
    detectState.img = img;
    detectState.faces = result.face_list || [];
    detectState.chosen = -1;
    const n = result.face_num !== undefined ? result.face_num : detectState.faces.length;
    $("detect-summary").textContent = n + (n === 1 ? " face" : " faces") + " found.";
    const list = $("detect-faces");
    list.textContent = "";
    detectState.faces.forEach((f, i) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.index = String(i);
      b.setAttribute("aria-pressed", "false");
      b.textContent = "Face " + (i + 1) + ": score " + fmt(f.face_probability) +
        (f.angle ? ", yaw " + fmt(f.angle.yaw, 0) + "°" : "");
      b.addEventListener("click", () => chooseFace(i));
      li.append(b);
      list.append(li);
    });
    $("detect-details").textContent = "";
    drawDetect();
  }

  async function onDetectFile() {
    const file = $("detect-file").files[0];
    if (!file) return;
    const url = await readFile(file);
    await detectDataUrl(url);
  }

  function canvasPoint(canvas, e, scale) {
    const r = canvas.getBoundingClientRect();
    const x = ((e.clientX - r.left) * canvas.width) / r.width / scale;
    const y = ((e.clientY - r.top) * canvas.height) / r.height / scale;
    return [x, y];
  }

  // Camera: getUserMedia into a <video>, one frame drawn into a JPEG.
  let cameraStream = null;
  async function cameraStart() {
    clearError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError("This browser offers no camera here (a camera needs https or localhost).");
      return;
    }
    try {
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (e) {
      showError("The camera cannot be used: " + e.message);
      return;
    }
    const v = $("camera-video");
    v.srcObject = cameraStream;
    v.hidden = false;
    await v.play().catch(() => undefined);
    $("camera-shoot").hidden = false;
    $("camera-stop").hidden = false;
    $("camera-start").hidden = true;
    $("camera-shoot").focus();
  }
  function cameraStop() {
    if (cameraStream) cameraStream.getTracks().forEach((t) => t.stop());
    cameraStream = null;
    $("camera-video").hidden = true;
    $("camera-shoot").hidden = true;
    $("camera-stop").hidden = true;
    $("camera-start").hidden = false;
  }
  async function cameraShoot() {
    const v = $("camera-video");
    if (!v.videoWidth) { showError("The camera has not given a picture yet."); return; }
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext("2d").drawImage(v, 0, 0);
    const url = c.toDataURL("image/jpeg", 0.92);
    cameraStop();
    $("camera-start").focus();
    await detectDataUrl(url);
  }

  // ---------------------------------------------------------------- recognise
  const recState = { img: null, faces: [] };

  async function listGroups() {
    const r = await call("/faceset/group/getlist", { start: 0, length: 1000 });
    return r.group_id_list || [];
  }

  async function loadGroupChoices() {
    const box = $("recognise-groups");
    const groups = await guarded("Loading the groups", listGroups);
    if (!groups) return;
    const checked = new Set(Array.from(box.querySelectorAll("input:checked")).map((i) => i.value));
    box.textContent = "";
    if (!groups.length) box.textContent = "This key sees no group yet.";
    groups.forEach((g, i) => {
      const id = "rg-" + i;
      const input = document.createElement("input");
      input.type = "checkbox";
      input.id = id;
      input.value = g;
      input.checked = checked.size ? checked.has(g) : true;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = g;
      const span = document.createElement("span");
      span.className = "check";
      span.append(input, label);
      box.append(span);
    });
  }

  function recThreshold() {
    return parseFloat($("recognise-threshold").value);
  }

  // The sliders are distance thresholds in the embedder's own metric. The service
  // returns its calibrated threshold with every distance: a slider not yet set for
  // that threshold is set to it, with the range 0 to twice it.
  function syncSlider(id, answer) {
    const slider = $(id);
    if (!answer || typeof answer.threshold !== "number") return;
    const t = answer.threshold;
    if (slider.dataset.threshold !== String(t)) {
      slider.dataset.threshold = String(t);
      slider.max = String(+(2 * t).toFixed(4));
      slider.step = String(t / 200);  // the threshold itself is a step (no snapping off it)
      slider.value = String(t);
    }
    $(id + "-value").textContent = fmt(parseFloat(slider.value), 3);
    $(id + "-metric").textContent = (answer.metric || "") + "; the service's threshold " + fmt(t, 3);
  }

  function isMatch(answer, t) {
    return answer.distance <= t;
  }

  function drawRecognise() {
    const canvas = $("recognise-canvas");
    const img = recState.img;
    if (!img) return;
    const s = fitScale(img, stageWidth(canvas));
    canvas.width = Math.round(img.naturalWidth * s);
    canvas.height = Math.round(img.naturalHeight * s);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    const t = recThreshold();
    const list = $("recognise-results");
    list.textContent = "";
    recState.faces.forEach((f, i) => {
      const best = (f.user_list || [])[0];
      const known = best && isMatch(best, t);
      const colour = known ? "#1a7f37" : "#b42318";
      const name = best ? (best.user_info || best.user_id) : "";
      const label = known ? name + " d=" + fmt(best.distance, 3) : "unknown";
      if (f.location) {
        drawBox(ctx, f.location, s, 0, 0, colour, 3);
        drawLabel(ctx, label, f.location.left * s, f.location.top * s, colour, canvas.width < 500);
      }
      const li = document.createElement("li");
      li.className = known ? "known" : "unknown";
      let text = "Face " + (i + 1) + ": ";
      if (known) {
        text += "Recognized as " + name + " (" + best.group_id + "/" + best.user_id + ")";
      } else {
        text += "unknown";
        if (best) text += " (closest: " + name + ")";
      }
      if (best) {
        text += ", distance " + fmt(best.distance, 3) + (known ? " \u2264 " : " > ") +
          fmt(t, 3) + " (" + best.metric + "), score " + fmt(best.score, 1);
      }
      li.textContent = text;
      list.append(li);
    });
    if (!recState.faces.length) {
      const li = document.createElement("li");
      li.textContent = "No face found.";
      list.append(li);
    }
  }

  async function onRecogniseFile() {
    const file = $("recognise-file").files[0];
    if (!file) return;
    recState.img = null;
    recState.faces = [];
    $("recognise-results").textContent = "";
    $("recognise-canvas").width = 0;
    const groups = Array.from($("recognise-groups").querySelectorAll("input:checked")).map((i) => i.value);
    if (!groups.length) { showError("Choose at least one group to search."); return; }
    const url = await readFile(file);
    // match_threshold 0: every face comes back with its best candidate and
    // score, so that the slider can redraw the answer without asking again.
    const result = await guarded("Recognise", async () => {
      try {
        return await call("/multi-search", {
          image: base64Of(url), image_type: "BASE64", group_id_list: groups.join(","),
          max_face_num: 10, match_threshold: 0, max_user_num: 1,
        });
      } catch (e) {
        // 222207: no face has any candidate (the groups are empty): every face
        // is unknown; detect gives their boxes.
        if (!(e instanceof ApiError) || e.code !== 222207) throw e;
        const d = await call("/detect", { image: base64Of(url), image_type: "BASE64", max_face_num: 10 });
        return { face_num: d.face_num, face_list: (d.face_list || []).map((f) => ({ location: f.location, user_list: [] })) };
      }
    });
    if (!result) return;
    const img = await loadImage(url).catch((e) => { showError(e.message); return null; });
    if (!img) return;
    recState.img = img;
    recState.faces = result.face_list || [];
    const first = recState.faces.map((f) => (f.user_list || [])[0]).find((b) => b);
    syncSlider("recognise-threshold", first);
    drawRecognise();
  }

  // ---------------------------------------------------------------- compare
  const cmpState = { a: null, b: null, result: null };

  function largest(faces) {
    let best = null;
    for (const f of faces || []) {
      if (!best || f.location.width * f.location.height > best.location.width * best.location.height) best = f;
    }
    return best;
  }

  function drawCompare() {
    const canvas = $("compare-canvas");
    const a = cmpState.a;
    const b = cmpState.b;
    const r = cmpState.result;
    if (!a || !b || !r) return;
    const gap = 160;
    const h = 360;
    const sa = h / a.img.naturalHeight;
    const sb = h / b.img.naturalHeight;
    const wa = a.img.naturalWidth * sa;
    const wb = b.img.naturalWidth * sb;
    canvas.width = Math.round(wa + gap + wb);
    canvas.height = h + 84;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(a.img, 0, 0, wa, h);
    ctx.drawImage(b.img, wa + gap, 0, wb, h);
    const t = parseFloat($("compare-threshold").value);
    const same = isMatch(r, t);
    const colour = same ? "#1a7f37" : "#b42318";
    const fa = a.face;
    const fb = b.face;
    let ya = h / 2;
    let yb = h / 2;
    let xa = wa;
    let xb = wa + gap;
    if (fa) {
      drawBox(ctx, fa.location, sa, 0, 0, colour, 3);
      xa = (fa.location.left + fa.location.width) * sa;
      ya = (fa.location.top + fa.location.height / 2) * sa;
    }
    if (fb) {
      drawBox(ctx, fb.location, sb, wa + gap, 0, colour, 3);
      xb = wa + gap + fb.location.left * sb;
      yb = (fb.location.top + fb.location.height / 2) * sb;
    }
    ctx.strokeStyle = colour;
    ctx.lineWidth = 3;
    ctx.setLineDash([8, 6]);
    ctx.beginPath();
    ctx.moveTo(xa, ya);
    ctx.lineTo(xb, yb);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = "bold 18px sans-serif";
    ctx.fillStyle = colour;
    ctx.textAlign = "center";
    const mid = wa + gap / 2;
    const lines = ["Distance = " + fmt(r.distance, 3), "threshold " + fmt(t, 3),
      same ? "same person" : "different"];
    lines.forEach((line, i) => ctx.fillText(line, mid, 24 + i * 24));
    // the distance on a scale from 0 to twice the service's threshold, the
    // threshold marked: the course's "Distance = 0.12 / 1.19"
    const x0 = 20;
    const x1 = canvas.width - 20;
    const top = h + 30;
    const span = Math.max(2 * r.threshold, r.distance * 1.05, t * 1.05);
    const at = (d) => x0 + (x1 - x0) * Math.min(1, d / span);
    ctx.fillStyle = "#d1fadf";
    ctx.fillRect(x0, top, at(t) - x0, 14);
    ctx.fillStyle = "#fee4e2";
    ctx.fillRect(at(t), top, x1 - at(t), 14);
    ctx.fillStyle = "#222222";
    ctx.fillRect(at(t) - 1, top - 6, 3, 26);
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(at(r.distance), top + 7, 8, 0, 2 * Math.PI);
    ctx.fill();
    ctx.font = "14px sans-serif";
    ctx.fillStyle = "#222222";
    ctx.textAlign = "start";
    ctx.fillText("0", x0, top + 34);
    ctx.textAlign = "center";
    ctx.fillText("threshold " + fmt(t, 3) + " (" + r.metric + ")", Math.min(Math.max(at(t), x0 + 90), x1 - 90), top - 10);
    ctx.fillText("distance " + fmt(r.distance, 3), Math.min(Math.max(at(r.distance), x0 + 60), x1 - 60), top + 34);
    ctx.textAlign = "end";
    ctx.fillText(fmt(span, 2), x1, top + 34);
    ctx.textAlign = "start";
    let verdict = (same ? "Same person" : "Different people") + ": distance " +
      fmt(r.distance, 3) + (same ? " \u2264 " : " > ") + "threshold " + fmt(t, 3) +
      " (" + r.metric + "), score " + fmt(r.score, 1) + ".";
    $("compare-verdict").textContent = verdict;
    $("compare-verdict").className = "verdict " + (same ? "known" : "unknown");
  }

  async function onCompare() {
    const fa = $("compare-file-a").files[0];
    const fb = $("compare-file-b").files[0];
    if (!fa || !fb) { showError("Choose two photos to compare."); return; }
    cmpState.result = null;
    $("compare-verdict").textContent = "";
    $("compare-canvas").width = 0;
    const ua = await readFile(fa);
    const ub = await readFile(fb);
    const out = await guarded("Compare", async () => {
      // detect each photo (its boxes, for the drawing, and face tokens), then
      // match the two largest faces by their tokens: the boxes drawn are the
      // faces compared.
      const da = await call("/detect", { image: base64Of(ua), image_type: "BASE64", max_face_num: 1 });
      const db = await call("/detect", { image: base64Of(ub), image_type: "BASE64", max_face_num: 1 });
      const a = largest(da.face_list);
      const b = largest(db.face_list);
      const result = await call("/match", [
        { image: a.face_token, image_type: "FACE_TOKEN" },
        { image: b.face_token, image_type: "FACE_TOKEN" },
      ]);
      return { result, a, b };
    });
    if (!out) return;
    const [ia, ib] = await Promise.all([loadImage(ua), loadImage(ub)]);
    cmpState.a = { img: ia, face: out.a };
    cmpState.b = { img: ib, face: out.b };
    cmpState.result = out.result;
    syncSlider("compare-threshold", out.result);
    drawCompare();
  }

  // ---------------------------------------------------------------- manage
  let currentGroup = null;

  function button(text, label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  async function loadGroups() {
    const groups = await guarded("Loading the groups", listGroups);
    if (!groups) return;
    const ul = $("manage-groups");
    ul.textContent = "";
    const sel = $("enrol-group");
    const previous = sel.value;
    sel.textContent = "";
    for (const g of groups) {
      const li = document.createElement("li");
      li.append(button(g, "Show the users of group " + g, () => loadUsers(g)));
      li.lastChild.className = "link" + (g === currentGroup ? " current" : "");
      li.append(button("Delete", "Delete group " + g, () => deleteGroup(g)));
      li.lastChild.className = "danger";
      ul.append(li);
      const opt = document.createElement("option");
      opt.value = g;
      opt.textContent = g;
      sel.append(opt);
    }
    if (previous && groups.includes(previous)) sel.value = previous;
    else if (currentGroup && groups.includes(currentGroup)) sel.value = currentGroup;
    if (!groups.length) ul.textContent = "No group yet.";
    if (currentGroup && groups.includes(currentGroup)) await loadUsers(currentGroup);
    else if (groups.length) await loadUsers(groups[0]);
    else { currentGroup = null; $("manage-users").textContent = ""; }
    if (!$("key-groups").value && currentGroup) $("key-groups").value = currentGroup;
    await loadKeys();
  }

  async function deleteGroup(g) {
    if (!window.confirm("Delete group " + g + " with all its users and faces? This cannot be undone.")) return;
    const ok = await guarded("Deleting group " + g, () => call("/faceset/group/delete", { group_id: g }));
    if (ok !== undefined) {
      if (currentGroup === g) currentGroup = null;
      await loadGroups();
      status("Group " + g + " deleted.");
    }
  }

  function thumbnail(face, label) {
    // thumbnail: base64 JPEG (faceprint's field; base64 may begin with "/"), image: a URL
    const src = face.thumbnail ? "data:image/jpeg;base64," + face.thumbnail : face.image;
    if (!src) return null;
    const img = document.createElement("img");
    img.src = src;
    img.alt = label;
    img.title = face.face_token;
    img.className = "thumb";
    return img;
  }

  let usersShown = 0;  // the latest loadUsers: an older one still in flight is dropped

  async function loadUsers(g) {
    const mine = ++usersShown;
    currentGroup = g;
    $("enrol-group").value = g;
    for (const b of document.querySelectorAll("#manage-groups button.link")) {
      b.classList.toggle("current", b.textContent === g);
    }
    $("h-users").textContent = "Users of " + g;
    const users = await guarded("Loading the users of " + g, async () => {
      const r = await call("/faceset/group/getusers", { group_id: g, start: 0, length: 1000 });
      const ids = r.user_id_list || [];
      const out = [];
      for (const id of ids) {
        const info = await call("/faceset/user/get", { group_id: g, user_id: id }).catch(() => ({}));
        const faces = await call("/faceset/face/getlist", { group_id: g, user_id: id }).catch(() => ({}));
        const entry = (info.user_list || [])[0] || {};
        out.push({ id, info: entry.user_info || "", faces: faces.face_list || [] });
      }
      return out;
    });
    if (!users || mine !== usersShown) return;
    const ul = $("manage-users");
    ul.textContent = "";
    if (!users.length) ul.textContent = "No user in " + g + ".";
    for (const u of users) {
      const li = document.createElement("li");
      li.className = "user";
      const title = document.createElement("p");
      title.className = "who";
      title.textContent = u.id + (u.info ? " (" + u.info + ")" : "") + ": " +
        u.faces.length + (u.faces.length === 1 ? " face" : " faces");
      li.append(title);
      const faces = document.createElement("ul");
      faces.className = "faces";
      u.faces.forEach((f, i) => {
        const fl = document.createElement("li");
        const th = thumbnail(f, "face " + (i + 1) + " of " + u.id);
        if (th) fl.append(th);
        else {
          const span = document.createElement("span");
          span.className = "token";
          span.textContent = "face " + (i + 1);
          span.title = f.face_token;
          fl.append(span);
        }
        fl.append(button("Remove", "Remove face " + (i + 1) + " of " + u.id, () => deleteFace(g, u.id, f.face_token)));
        fl.lastChild.className = "danger small";
        faces.append(fl);
      });
      li.append(faces);
      const actions = document.createElement("div");
      actions.className = "row";
      actions.append(
        button("Add faces", "Add faces to " + u.id, () => {
          $("enrol-group").value = g;
          $("enrol-user").value = u.id;
          $("enrol-info").value = u.info;
          $("enrol-files").focus();
        }),
        button("Rename", "Rename " + u.id, () => renameUser(g, u)),
        button("Delete", "Delete " + u.id, () => deleteUser(g, u.id)),
      );
      actions.lastChild.className = "danger";
      li.append(actions);
      ul.append(li);
    }
  }

  async function deleteUser(g, id) {
    if (!window.confirm("Delete " + id + " and all their faces from " + g + "? This cannot be undone.")) return;
    const ok = await guarded("Deleting " + id, () => call("/faceset/user/delete", { group_id: g, user_id: id }));
    if (ok !== undefined) { await loadUsers(g); status(id + " deleted."); }
  }

  async function deleteFace(g, id, token) {
    if (!window.confirm("Remove this face of " + id + "?")) return;
    const ok = await guarded("Removing a face", () => call("/faceset/face/delete", { group_id: g, user_id: id, face_token: token }));
    if (ok !== undefined) { await loadUsers(g); status("Face removed."); }
  }

  // Rename: faceprint's own endpoint, one store transaction (a new user id, the
  // name shown, or both; the faces and their tokens stay).
  async function renameUser(g, u) {
    const answer = window.prompt("New user id for " + u.id + " (letters, digits, underscores):", u.id);
    if (answer === null) return;
    const to = answer.trim();
    const name = window.prompt("Name shown (user_info):", u.info);
    if (name === null) return;
    if (!to) { showError("A user id cannot be empty."); return; }
    const body = { group_id: g, user_id: u.id, user_info: name };
    if (to !== u.id) body.new_user_id = to;
    const ok = await guarded("Renaming " + u.id, () => call("/faceprint/user/rename", body));
    if (ok) { await loadUsers(g); status(u.id + " is now " + to + (name ? " (" + name + ")" : "") + "."); }
  }

  async function onEnrol(e) {
    e.preventDefault();
    const g = $("enrol-group").value;
    const id = $("enrol-user").value.trim();
    const info = $("enrol-info").value.trim();
    const files = Array.from($("enrol-files").files);
    if (!g) { showError("Make a group first."); return; }
    if (!files.length) { showError("Choose at least one photo."); return; }
    const ok = await guarded("Adding " + id, async () => {
      for (const f of files) {
        const url = await readFile(f);
        const body = {
          image: base64Of(url), image_type: "BASE64", group_id: g, user_id: id,
          action_type: "APPEND",
        };
        if (info) body.user_info = info;
        try {
          await call("/faceset/user/add", body);
        } catch (err) {
          if (err instanceof ApiError) err.message = f.name + ": " + err.message;
          throw err;
        }
      }
      return true;
    });
    if (ok) {
      $("enrol-files").value = "";
      await loadUsers(g);
      status(id + ": " + files.length + (files.length === 1 ? " face" : " faces") + " added to " + g + ".");
    }
  }

  async function onGroupAdd(e) {
    e.preventDefault();
    const g = $("group-new").value.trim();
    const ok = await guarded("Adding group " + g, () => call("/faceset/group/add", { group_id: g }));
    if (ok !== undefined) {
      $("group-new").value = "";
      currentGroup = g;
      await loadGroups();
      status("Group " + g + " added.");
    }
  }

  // API keys: those whose groups are all the signed-in key's own (the service
  // decides which); secrets are never listed, a new key's secret is shown once.
  // The signed-in key's id (the first 12 hex digits of SHA-256 of the api_key, as
  // the service makes it), to mark it in the list; "" where the browser gives no
  // crypto.subtle (a page not served from 127.0.0.1/localhost or over https).
  async function ownKeyId() {
    const key = store.getItem("faceprint.key") || "";
    if (!key || !window.crypto || !window.crypto.subtle) return "";
    const digest = await window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
    return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 12);
  }

  async function loadKeys() {
    const ul = $("keys-list");
    const own = await ownKeyId().catch(() => "");
    let keys;
    try {
      keys = (await call("/faceprint/key/getlist", {})).key_list || [];
    } catch (e) {
      ul.textContent = "";
      $("keys-note").textContent = e instanceof ApiError && e.code === 6
        ? "This key has no manage scope, so it cannot see or make keys."
        : "The keys could not be listed: " + e.message;
      return;
    }
    $("keys-note").textContent = "Keys of this key's groups (" + keys.length + "). A new key may have only this key's groups and scopes.";
    ul.textContent = "";
    for (const k of keys) {
      const li = document.createElement("li");
      li.className = "key" + (k.revoked ? " revoked" : "");
      const p = document.createElement("p");
      p.textContent = (k.name || "(no name)") + ": key " + k.key_id + ", groups " +
        k.groups.join(", ") + ", scopes " + k.scopes.join(", ") + ", made " +
        k.created.slice(0, 10) + (k.revoked ? ", revoked " + k.revoked.slice(0, 10) : "") +
        (k.key_id === own ? " (the key signed in now)" : "");
      li.append(p);
      if (!k.revoked) {
        li.append(button("Revoke", "Revoke key " + k.key_id + (k.name ? " (" + k.name + ")" : ""), () => revokeKey(k, k.key_id === own)));
        li.lastChild.className = "danger small";
      }
      ul.append(li);
    }
  }

  async function revokeKey(k, self) {
    if (!window.confirm("Revoke key " + k.key_id + (k.name ? " (" + k.name + ")" : "") +
      "? Every client using it stops working at once" +
      (self ? ", this console too (it is the key signed in now)" : "") +
      ". This cannot be undone.")) return;
    const ok = await guarded("Revoking key " + k.key_id, () => call("/faceprint/key/delete", { key_id: k.key_id }));
    if (ok === undefined) return;
    if (self) { signOut(); status("Key " + k.key_id + " revoked: signed out."); return; }
    await loadKeys();
    status("Key " + k.key_id + " revoked.");
  }

  async function onKeyAdd(e) {
    e.preventDefault();
    const scopes = Array.from(document.querySelectorAll("#key-scopes input:checked")).map((i) => i.value);
    if (!scopes.length) { showError("Choose at least one scope."); return; }
    const body = { groups: $("key-groups").value.trim(), scopes: scopes.join(","), name: $("key-name").value.trim() };
    const made = await guarded("Creating a key", () => call("/faceprint/key/add", body));
    if (!made) return;
    const box = $("key-new");
    box.hidden = false;
    $("key-new-api").textContent = made.api_key;
    $("key-new-secret").textContent = made.secret_key;
    $("key-name").value = "";
    await loadKeys();
    status("Key " + made.key_id + " created: copy its secret key now, it is not shown again.");
  }

  // ---------------------------------------------------------------- wiring
  function init() {
    $("signin-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const ok = await guarded("Signing in", async () => {
        await signIn($("api-key").value.trim(), $("secret-key").value);
        return true;
      });
      if (ok) {
        $("secret-key").value = "";
        showScreen("detect");
        status("Signed in as " + store.getItem("faceprint.key") + ".");
        $("detect-file").focus();
      }
    });
    for (const b of document.querySelectorAll("#tabs button[data-screen]")) {
      b.addEventListener("click", () => {
        showScreen(b.dataset.screen);
        // focus moves to the new screen's heading, so that it is read out
        const h = document.querySelector("#screen-" + b.dataset.screen + " h2");
        h.setAttribute("tabindex", "-1");
        h.focus();
      });
    }
    $("signout").addEventListener("click", signOut);

    $("detect-file").addEventListener("change", onDetectFile);
    dropZone("detect-drop", "detect-file");
    $("detect-canvas").addEventListener("click", (e) => {
      const [x, y] = canvasPoint($("detect-canvas"), e, detectState.scale);
      const i = detectState.faces.findIndex((f) => inBox(f.location, x, y));
      if (i >= 0) chooseFace(i);
    });
    $("camera-start").addEventListener("click", cameraStart);
    $("camera-stop").addEventListener("click", cameraStop);
    $("camera-shoot").addEventListener("click", cameraShoot);

    $("recognise-file").addEventListener("change", onRecogniseFile);
    dropZone("recognise-drop", "recognise-file");
    $("recognise-threshold").addEventListener("input", () => {
      $("recognise-threshold-value").textContent = $("recognise-threshold").value;
      drawRecognise();
    });

    $("compare-run").addEventListener("click", onCompare);
    dropZone("compare-drop-a", "compare-file-a");
    dropZone("compare-drop-b", "compare-file-b");
    $("compare-threshold").addEventListener("input", () => {
      $("compare-threshold-value").textContent = $("compare-threshold").value;
      drawCompare();
    });

    $("enrol-form").addEventListener("submit", onEnrol);
    $("group-add-form").addEventListener("submit", onGroupAdd);
    $("key-add-form").addEventListener("submit", onKeyAdd);

    let resizeTimer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { drawDetect(); drawRecognise(); }, 150);
    });

    showScreen(signedIn() ? "detect" : "signin");
  }

  document.addEventListener("DOMContentLoaded", init);
})();
