// The live dashboard: follows /api/v1/stream (server-sent events from analysis-ready) and
// draws the selected experiment. No libraries, no requests but our own endpoints. Every
// value from the stream is user data (names, ids), so it is set as text, never as HTML.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const KEY_STORE = "promptopt.apiKey";

const state = {
  experiments: new Map(), // experiment id -> Map(round -> latest AnalysisReady)
  selected: null,
  round: null, // null: follow the latest round
  source: null,
};

// --- small DOM helpers ------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "onclick") node.addEventListener("click", v);
    // Through the CSSOM: the page's CSP refuses style attributes (no inline style).
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  if (text !== null) node.textContent = text;
  return node;
}

const $ = (id) => document.getElementById(id);

// --- number formatting ------------------------------------------------------------------

const isNum = (x) => typeof x === "number" && Number.isFinite(x);
const fmt = (x, d = 3) => (isNum(x) ? x.toFixed(d) : "–");
const signed = (x, d = 3) => (isNum(x) ? (x > 0 ? "+" : "") + x.toFixed(d) : "–");
const pct = (x) => (isNum(x) ? (100 * x).toFixed(1) + "%" : "–");
function pval(p) {
  if (!isNum(p)) return "–";
  if (p < 0.001) return "<0.001";
  return p.toFixed(3);
}
const interval = (lo, hi, f = fmt) => (isNum(lo) && isNum(hi) ? `[${f(lo)}, ${f(hi)}]` : "");

const SHORT = {
  winner: "winner", "control-best": "control best", futile: "futile",
  inconclusive: "inconclusive", running: "running",
};

const DECISIONS = {
  winner: "Winner found",
  "control-best": "Control is best",
  futile: "Futile: no variation can reach the minimum effect",
  inconclusive: "Inconclusive",
  running: "Running",
};

// --- the key ----------------------------------------------------------------------------

function readKey() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("key");
  if (fromUrl) {
    localStorage.setItem(KEY_STORE, fromUrl);
    params.delete("key"); // keep the key out of bookmarks, history and screenshots
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
  }
  return localStorage.getItem(KEY_STORE) || "";
}

async function keyAccepted(key) {
  // /api/v1/me answers 401 for a bad key or none (/health is open, for probes).
  if (!key) return false;
  try {
    const response = await fetch("/api/v1/me", { headers: { Authorization: "Bearer " + key } });
    return response.status !== 401;
  } catch (err) {
    return true; // a network error is not a key problem; the stream will say it is down
  }
}

function askForKey(message) {
  const form = $("key-form");
  form.hidden = false;
  setConnection("down", message);
  form.onsubmit = (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    localStorage.setItem(KEY_STORE, key);
    form.hidden = true;
    render();
start();
  };
}

// --- the stream -------------------------------------------------------------------------

function setConnection(kind, text) {
  $("connection").className = "connection " + kind;
  $("connection-text").textContent = text;
}

async function start() {
  const key = readKey();
  if (!(await keyAccepted(key))) {
    localStorage.removeItem(KEY_STORE);
    askForKey(key ? "key refused" : "API key needed");
    return;
  }
  if (state.source) state.source.close();
  const url = "/api/v1/stream" + (key ? "?key=" + encodeURIComponent(key) : "");
  const source = new EventSource(url);
  state.source = source;
  setConnection("idle", "connecting…");
  // Open is not live: the current state (the backlog) comes after the response starts.
  // "live" waits for the stream's `ready`, sent once the current state is drawn here.
  source.onopen = () => setConnection("idle", "catching up…");
  source.addEventListener("ready", () => {
    render(); // now, not at the next frame: "live" means the page shows the present
    setConnection("live", "live");
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setConnection("down", "stream closed");
    else setConnection("retrying", "reconnecting…");
  };
  source.addEventListener("analysis", (event) => {
    let analysis;
    try {
      analysis = JSON.parse(event.data);
    } catch (err) {
      return;
    }
    receive(analysis);
  });
}

// A round's final analysis is its decision: a replay's later snapshots do not undo it.
function supersedes(analysis, known) {
  if (!known) return true;
  if (known.final !== analysis.final) return analysis.final;
  return analysis.seq >= known.seq;
}

let renderPending = false;

function receive(analysis) {
  const id = analysis.experiment_id;
  if (!state.experiments.has(id)) state.experiments.set(id, new Map());
  const rounds = state.experiments.get(id);
  if (supersedes(analysis, rounds.get(analysis.round))) rounds.set(analysis.round, analysis);
  // A late viewer receives many analyses at once: draw once per frame, not per event.
  if (!renderPending) {
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      render();
    });
  }
}

// --- rendering --------------------------------------------------------------------------

function latest(id) {
  const rounds = state.experiments.get(id);
  return rounds.get(Math.max(...rounds.keys()));
}

function render() {
  if (state.selected === null) {
    // The experiment named in the URL, else the one with the newest analysis.
    const wanted = new URLSearchParams(location.search).get("experiment");
    if (wanted && state.experiments.has(wanted)) state.selected = wanted;
    else if (!wanted && state.experiments.size) state.selected = newestFirst()[0];
  }
  renderList();
  const wanted = new URLSearchParams(location.search).get("experiment");
  const waiting = state.selected === null && wanted !== null;
  $("waiting").hidden = !waiting;
  if (waiting) $("waiting-title").textContent = wanted;
  if (state.selected !== null && state.experiments.has(state.selected)) renderDetail();
}

function newestFirst() {
  return [...state.experiments.keys()].sort((a, b) =>
    latest(b).occurred_at.localeCompare(latest(a).occurred_at));
}

function renderList() {
  const ids = newestFirst();
  $("experiment-count").textContent = ids.length;
  $("no-experiments").hidden = ids.length > 0;
  const list = $("experiments");
  list.replaceChildren(...ids.map((id) => {
    const a = latest(id);
    const done = a.trials_expected ? Math.min(1, a.trials_done / a.trials_expected) : 0;
    const decision = a.final ? a.decision : "running";
    return el("li", {
      class: id === state.selected ? "selected" : "",
      title: id,
      onclick: () => { state.selected = id; state.round = null; render(); },
    },
      el("div", { class: "name" }, id),
      el("div", { class: "meta" },
        el("span", {}, `${a.trials_done}/${a.trials_expected} trials` +
          (a.round > 1 ? ` · round ${a.round}` : "")),
        el("span", { class: "badge " + decision }, SHORT[decision] || decision)),
      el("div", { class: "mini-bar" }, el("div", { style: `width:${(100 * done).toFixed(1)}%` })));
  }));
}

function renderDetail() {
  const rounds = state.experiments.get(state.selected);
  const roundNumbers = [...rounds.keys()].sort((x, y) => x - y);
  const round = state.round !== null && rounds.has(state.round)
    ? state.round : roundNumbers[roundNumbers.length - 1];
  const a = rounds.get(round);
  $("detail").hidden = false;

  $("detail-title").textContent = a.experiment_id;
  const models = (a.models || []).join(", ") || "–";
  $("detail-sub").textContent =
    `domain ${a.domain} · models ${models} · metric ${a.metric} · snapshot #${a.seq}` +
    ` · ${new Date(a.occurred_at).toLocaleTimeString()}`;
  $("rounds").replaceChildren(...(roundNumbers.length > 1 ? roundNumbers.map((r) =>
    el("button", {
      class: r === round ? "on" : "",
      onclick: () => { state.round = r; renderDetail(); },
    }, `round ${r}`)) : []));

  renderDecision(a);
  renderCards(a);
  renderChart(a);
  renderTable(a);
}

function renderDecision(a) {
  const decision = a.final ? a.decision : "running";
  const box = $("decision");
  box.className = "decision " + decision;
  const winner = (a.variations || []).find((v) => v.variation_id === a.winner_id);
  const head = decision === "winner" && winner
    ? `Winner: ${winner.name}` : (DECISIONS[decision] || decision);
  const extra = isNum(a.additional_samples_needed) && a.additional_samples_needed > 0
    ? ` About ${a.additional_samples_needed} more trials per variation would settle it.` : "";
  box.replaceChildren(
    el("strong", {}, head),
    el("span", { class: "badge " + (a.final ? "final" : "running"), style: "margin-left:10px" },
      a.final ? "final" : "live"),
    el("div", { class: "reason" }, (a.reason || (a.final ? "" : "Trials are still arriving.")) + extra),
    el("div", { class: "evidence" }, evidenceLine(a)),
    ...(a.warnings || []).map((w) => el("div", { class: "warning" }, `Warning: ${w}`)));
}

// What the decision reads: each variation's interval at the family-adjusted level.
const INTERVALS = { sequential: "confidence sequence", fixed: "CI",
  "group-sequential": "repeated CI" };
function evidenceLine(a) {
  const family = a.family_size || 1;
  const level = isNum(a.cs_level) ? `${(100 * a.cs_level).toPrecision(4).replace(/\.?0+$/, "")}% ` : "";
  return `Decided on ${level}${INTERVALS[a.design] || "interval"}s over a family of ${family} ` +
    `planned variation${family === 1 ? "" : "s"}` +
    (a.min_effect > 0 ? `, minimum effect ${a.min_effect}` : "") + "." +
    (a.variations || []).map(lookLine).filter(Boolean).map((s) => " " + s).join("");
}

// A group-sequential comparison decides only at its planned looks: say which one it is at.
function lookLine(v) {
  const g = v.group_sequential;
  if (!g) return "";
  if (!g.look) return `${v.name}: group-sequential, before look 1 of ${g.looks} (${g.pairs} of ${g.next_look_pairs} pairs).`;
  const z = isNum(g.z) ? g.z.toFixed(2) : "undefined";
  const futility = isNum(g.futility_z) ? `, futility z=${g.futility_z.toFixed(2)}` : "";
  const next = g.next_look_pairs && !g.crossed ? `; next look at ${g.next_look_pairs} pairs` : "";
  return `${v.name}: group-sequential look ${g.look} of ${g.looks}, bound z=${g.efficacy_z.toFixed(2)}` +
    `${futility} (z ${z} at ${g.pairs} pairs): ${CROSSED[g.crossed || ""]}${next}.`;
}

// What a look's z did (promptopt/report.py says it the same way); the decision's reason
// says when the round stopped for it ("stopped for efficacy at look 2 of 5").
const CROSSED = { efficacy: "crossed the efficacy bound", harm: "crossed the harm bound (-bound)",
  futility: "below the futility bound (non-binding)", "": "no bound crossed" };

function renderCards(a) {
  const done = a.trials_expected ? Math.min(1, a.trials_done / a.trials_expected) : 0;
  $("trials").textContent = `${a.trials_done} / ${a.trials_expected}`;
  $("trials-bar").style.width = (100 * done).toFixed(1) + "%";
  const scored = (a.variations || []).reduce((s, v) => s + (v.n || 0), 0);
  const notes = [`${scored} scored`];
  if (a.trials_failed) notes.push(`${a.trials_failed} failed or skipped`);
  if (a.final && a.trials_done < a.trials_expected) notes.push("decided early");
  $("trials-note").textContent = notes.join(" · ");

  $("cost").textContent = "$" + (a.cost_usd || 0).toFixed(4);
  $("cost-note").textContent = a.budget_exhausted ? "budget exhausted" : "within budget";
  $("cost-note").className = "note" + (a.budget_exhausted ? " warn" : "");

  $("design").textContent = `α = ${a.alpha}`;
  $("design-note").textContent = `${a.correction === "bh" ? "Benjamini-Hochberg" : "Holm"} correction`;

  const srm = a.srm_p_value;
  $("srm").textContent = isNum(srm) ? pval(srm) : "–";
  const mismatch = isNum(srm) && srm < 0.001;
  $("srm-note").textContent = isNum(srm)
    ? (mismatch ? "sample ratio mismatch: check for lost trials" : "allocation as planned")
    : "not enough trials yet";
  $("srm-note").className = "note" + (mismatch ? " warn" : "");
}

function renderChart(a) {
  const chart = $("chart");
  const rows = (a.variations || []).slice();
  const width = Math.max(480, chart.clientWidth || 800);
  const rowH = 34, top = 14, bottom = 30, left = 190, right = 80;
  const height = top + bottom + Math.max(1, rows.length) * rowH;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.setAttribute("height", height);
  chart.replaceChildren();

  const values = rows.flatMap((v) => [v.mean, v.ci_low, v.ci_high]).filter(isNum);
  let lo = Math.min(0, ...values), hi = Math.max(1, ...values);
  if (hi - lo < 1e-9) hi = lo + 1;
  const x = (value) => left + ((value - lo) / (hi - lo)) * (width - left - right);

  const axis = svg("g", { class: "axis" });
  for (let i = 0; i <= 4; i++) {
    const value = lo + ((hi - lo) * i) / 4;
    axis.append(svg("line", { class: "grid", x1: x(value), x2: x(value), y1: top - 4,
                              y2: height - bottom + 4 }));
    axis.append(svg("text", { x: x(value), y: height - 8, "text-anchor": "middle" },
                    value.toFixed(2)));
  }
  chart.append(axis);

  const control = rows.find((v) => v.is_control);
  if (control && isNum(control.mean)) {
    chart.append(svg("line", { class: "control-line", x1: x(control.mean), x2: x(control.mean),
                               y1: top - 4, y2: height - bottom + 4 }));
  }

  rows.forEach((v, i) => {
    const y = top + i * rowH + rowH / 2;
    const colour = v.variation_id === a.winner_id ? "#2b8a3e"
      : v.is_control ? "#495057" : "#3b5bdb";
    const name = v.name.length > 26 ? v.name.slice(0, 25) + "…" : v.name;
    const label = svg("text", { x: left - 12, y: y + 4, "text-anchor": "end",
                                "font-weight": v.is_control ? "600" : "400" },
                      name + (v.is_control && name !== "control" ? " (control)" : ""));
    label.append(svg("title", {}, v.name));
    chart.append(label);
    if (isNum(v.ci_low) && isNum(v.ci_high)) {
      chart.append(svg("line", { class: "ci", x1: x(v.ci_low), x2: x(v.ci_high), y1: y, y2: y,
                                 stroke: colour, "stroke-opacity": 0.45 }));
      for (const end of [v.ci_low, v.ci_high]) {
        chart.append(svg("line", { x1: x(end), x2: x(end), y1: y - 6, y2: y + 6,
                                   stroke: colour, "stroke-width": 2 }));
      }
    }
    if (isNum(v.mean)) {
      chart.append(svg("circle", { cx: x(v.mean), cy: y, r: 6, fill: colour }));
      chart.append(svg("text", { x: width - right + 10, y: y + 4 }, fmt(v.mean)));
    } else {
      chart.append(svg("text", { x: left + 4, y: y + 4, fill: "#667085" }, "no scored trials yet"));
    }
  });
}

function renderTable(a) {
  const significant = (v) => isNum(v.p_adjusted) && v.p_adjusted < a.alpha;
  $("variations").replaceChildren(...(a.variations || []).map((v) => {
    const winner = v.variation_id === a.winner_id;
    const liftClass = isNum(v.lift) ? (v.lift > 0 ? "pos" : v.lift < 0 ? "neg" : "") : "";
    const nameCell = el("td", {}, v.name,
      v.is_control ? el("span", { class: "tag" }, "control") : null,
      winner ? el("span", { class: "tag", style: "background:#d3f9d8;color:#2b8a3e" }, "winner") : null,
      el("span", { class: "patterns" }, [v.test, ...(v.patterns || [])].filter(Boolean).join(" · ")));
    return el("tr", { class: (v.is_control ? "control " : "") + (winner ? "winner" : "") },
      nameCell,
      el("td", { class: "num" }, `${v.n}` + (v.n_failed ? ` (+${v.n_failed} failed)` : "")),
      el("td", { class: "num" }, `${fmt(v.mean)} ${interval(v.ci_low, v.ci_high)}`),
      el("td", { class: "num " + liftClass },
        v.is_control ? "–" : `${signed(v.lift)} ${isNum(v.cs_low)
          ? interval(v.cs_low, v.cs_high, signed) : interval(v.lift_ci_low, v.lift_ci_high, signed)}`),
      el("td", { class: "num" }, v.is_control ? "–" : pval(v.p_value)),
      el("td", { class: "num" + (significant(v) ? " sig" : "") }, v.is_control ? "–" : pval(v.p_adjusted)),
      el("td", { class: "num" }, v.is_control ? "–" : pval(v.p_always_valid)),
      el("td", { class: "num" }, pct(v.p_best)),
      el("td", { class: "num" }, fmt(v.expected_loss, 4)));
  }));
}

window.addEventListener("resize", () => {
  if (state.selected !== null && state.experiments.has(state.selected)) renderDetail();
});

render();
start();
