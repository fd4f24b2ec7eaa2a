/* commkg's interactive page. Reads the JSON block written by commkg.visual and draws it with
 * graph.js (inlined above this script). Rules that keep record text harmless:
 *   - every string from the data reaches the DOM through textContent (the helper `el`), never
 *     innerHTML, and the canvas through fillText;
 *   - the only link built from data is a DOI link, and only as https://doi.org/….
 * Positions come from Python, so nothing moves unless the reader drags it.
 *
 * The data is in columns and flat number lists (visual.page_data describes them): a 10,000-record
 * page has 200,000 edges, and one array per edge would cost the reader seconds to parse. */
(function () {
  "use strict";

  const timings = { start: performance.now() }; // for bench/bench_page.py: where the start-up time goes
  const DATA = JSON.parse(document.getElementById("commkg-data").textContent);
  timings.parsed = performance.now();
  const KINDS = DATA.kinds; // [key, label, colour, shape]
  const N = DATA.nodes.iri.length;
  const FIRST_STUDY = DATA.firstStudy; // nodes from here on are the records
  const NODES = DATA.nodes, STUDIES = DATA.studies;
  const isStudy = (i) => i >= FIRST_STUDY;
  const study = (i) => i - FIRST_STUDY; // row in STUDIES

  // ------------------------------------------------------------------ indexes over the data
  let fullEdges = null; // {from, to, relations}: the full graph's edges, decoded on first use
  /** Calls visit(group, row) for each row of a grouped flat list (visual._grouped): per group,
   * the step from the previous group, how many rows, then `width` numbers per row. */
  function eachGrouped(flat, width, visit) {
    let group = 0;
    for (let j = 0; j < flat.length;) {
      group += flat[j];
      const rows = flat[j + 1];
      j += 2;
      for (let r = 0; r < rows; r++, j += width) visit(group, j);
    }
  }

  function decodeEdges() {
    if (!fullEdges) {
      let count = 0;
      eachGrouped(DATA.edges, 2, () => { count++; });
      const from = new Int32Array(count), to = new Int32Array(count), relations = new Int32Array(count);
      let k = 0;
      eachGrouped(DATA.edges, 2, (a, j) => { from[k] = a; to[k] = DATA.edges[j]; relations[k] = DATA.edges[j + 1]; k++; });
      fullEdges = { from, to, relations };
    }
    return fullEdges;
  }
  const RELATION_SETS = DATA.relationSets.map((set) => set.map((r) => DATA.relations[r]));
  const relationLabels = (set) => RELATION_SETS[set]; // shared: 200,000 edges, a dozen sets

  let links = null; // full graph: {out, in}: node index → [[other, [relation, …]], …]
  function linksOf(i) {
    if (!links) {
      links = { out: new Map(), in: new Map() };
      const { from, to, relations } = decodeEdges();
      for (let k = 0; k < from.length; k++) {
        const a = from[k], b = to[k], labels = relationLabels(relations[k]);
        if (!links.out.has(a)) links.out.set(a, []);
        if (!links.in.has(b)) links.in.set(b, []);
        links.out.get(a).push([b, labels]);
        links.in.get(b).push([a, labels]);
      }
    }
    return { out: links.out.get(i) || [], in: links.in.get(i) || [] };
  }

  let evidenceIndex = null; // node index → Map(study index → [quote, …])
  function evidenceOf(i) {
    if (!evidenceIndex) {
      evidenceIndex = new Map();
      eachGrouped(DATA.evidence, 2, (s, j) => {
        const node = DATA.evidence[j], quote = DATA.quotes[DATA.evidence[j + 1]];
        if (!evidenceIndex.has(node)) evidenceIndex.set(node, new Map());
        const ofNode = evidenceIndex.get(node);
        if (ofNode.has(s)) ofNode.get(s).push(quote); else ofNode.set(s, [quote]);
      });
    }
    return evidenceIndex.get(i) || new Map();
  }

  /** What studies a and b share: the same rule as commkg.visual.shared_concepts (what each
   * links to, except studies and places linked only as where the authors work). */
  function sharedBy(a, b) {
    const of = (s) => new Set(linksOf(s).out
      .filter(([o, rels]) => !isStudy(o) && !(rels.length === 1 && rels[0] === "authored in"))
      .map(([o]) => o));
    const other = of(b);
    return [...of(a)].filter((c) => other.has(c)).sort((x, y) => x - y);
  }

  // ------------------------------------------------------------------------------- helpers
  /** An element whose children are elements or plain text (never parsed as HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === "") continue;
      node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const kindOf = (i) => KINDS[NODES.kind[i]];
  const zhOf = (i) => (isStudy(i) ? "" : NODES.zh[i]);
  const label = (i) => NODES.en[i] || zhOf(i) || NODES.iri[i];
  const plural = (n, word) => n.toLocaleString("en") + " " + word + (n === 1 ? "" : "s");
  const collator = new Intl.Collator(); // far quicker than localeCompare for thousands of labels
  const byLabel = (a, b) => collator.compare(label(a), label(b)) || a - b;
  const studies = (n) => plural(n, "study").replace("studys", "studies");
  const indexOf = (iri) => NODES.iri.indexOf(iri);

  function nodeButton(i) {
    return el("button", { type: "button", class: "link", onclick: () => select(i) }, label(i));
  }

  // ------------------------------------------------------------------------- drawing data
  // Concepts grow with the number of studies naming them (8–36 px, labels 12–22 px); records
  // are what a reader navigates by: middle-sized, bigger and darker labels. Zoomed far out, a
  // concept stays a labelled dot (3–8 px, labels 11 px) among the records: it is what the
  // reader finds their way by when 10,000 records are a cloud of dots.
  const hidden = new Uint8Array(N);
  const radius = new Float32Array(N), font = new Float32Array(N), fontColor = new Uint8Array(N);
  const minRadius = new Float32Array(N), minFont = new Float32Array(N);
  const x = Float64Array.from(NODES.x), y = Float64Array.from(NODES.y);
  let least = Infinity, most = -Infinity;
  for (let i = 0; i < FIRST_STUDY; i++) { least = Math.min(least, NODES.degree[i]); most = Math.max(most, NODES.degree[i]); }
  const labels = new Array(N);
  for (let i = 0; i < N; i++) {
    if (isStudy(i)) {
      radius[i] = 12; font[i] = 18; fontColor[i] = 1; labels[i] = NODES.en[i]; minRadius[i] = 1.5;
    } else {
      const s = most > least ? (NODES.degree[i] - least) / (most - least) : 0.5;
      radius[i] = 8 + 28 * s; font[i] = 12 + 10 * s; minRadius[i] = 3 + 5 * s; minFont[i] = 11;
      labels[i] = NODES.zh[i] ? NODES.en[i] + "\n" + NODES.zh[i] : NODES.en[i];
    }
  }
  const style = {
    kinds: KINDS.map(([, , colour, shape]) => ({ colour, shape })),
    fontColors: ["#1d2329", "#0b3d5c"], fontFace: "system-ui, sans-serif",
    border: "rgba(51, 51, 51, 0.4)", edgeSelected: "#1d2329", edgeHover: "#4a5560",
  };
  // Edge colours: the full graph's one grey (see-through when there are many edges, so that
  // where they crowd shows); the study network's four, darker where two studies share more.
  const EDGE = ["#b9c2cc"], EDGE_DENSE = ["rgba(150, 162, 175, 0.15)"];
  const SHARED = ["#d3d9df", "#b9c2cc", "#8d99a6", "#5d6b78"];

  const allStudies = Int32Array.from({ length: N - FIRST_STUDY }, (_, k) => FIRST_STUDY + k);
  const everything = Int32Array.from({ length: N }, (_, i) => i);
  const views = {}; // view → {members, edges}: made on first use
  function viewData(view) {
    if (views[view]) return views[view];
    if (view === "full") {
      const { from, to } = decodeEdges();
      views.full = { members: everything, edges: { from, to, level: null, arrows: true } };
    } else {
      const flat = DATA.studyEdges, count = flat.length / 3;
      const from = new Int32Array(count), to = new Int32Array(count), level = new Uint8Array(count);
      let low = Infinity, high = -Infinity;
      for (let k = 0; k < count; k++) { low = Math.min(low, flat[3 * k + 2]); high = Math.max(high, flat[3 * k + 2]); }
      for (let k = 0; k < count; k++) {
        from[k] = flat[3 * k]; to[k] = flat[3 * k + 1];
        const share = high > low ? (flat[3 * k + 2] - low) / (high - low) : 0.5; // more shared, darker
        level[k] = Math.min(SHARED.length - 1, Math.floor(share * SHARED.length));
      }
      views.studies = { members: allStudies, edges: { from, to, level, arrows: false } };
    }
    return views[view];
  }

  const state = { view: DATA.view === "studies" ? "studies" : "full", hidden: new Set(), selected: -1 };
  const container = $("network");
  const network = new window.CommkgGraph(container,
    { x, y, radius, minRadius, kind: NODES.kind, label: labels, font, minFont, fontColor, hidden }, style);
  function show(view) {
    const data = viewData(view);
    style.edgeLevels = view === "studies" ? SHARED : data.edges.from.length > 20000 ? EDGE_DENSE : EDGE;
    network.setData(data.members, data.edges);
  }
  show(state.view);
  timings.network = performance.now();

  // -------------------------------------------------------------------------------- header
  $("title").textContent = DATA.title;

  function visibleCount() {
    let count = 0;
    for (const i of viewData(state.view).members) if (!hidden[i]) count++;
    return count;
  }

  function showStatus() {
    const data = viewData(state.view), total = data.members.length, edges = data.edges.from.length;
    const what = state.view === "full"
      ? "Full graph: " + plural(total, "node") + ", " + plural(edges, "edge")
      : "Study network: " + studies(total) + ", " + plural(edges, "link");
    const hiddenHere = total - visibleCount();
    const moving = edges > 20000 ? "; edges hide while the view moves" : "";
    $("status").textContent = what + (hiddenHere ? " (" + hiddenHere.toLocaleString("en") + " hidden by the filter)" : "") + moving;
    $("view-full").setAttribute("aria-pressed", String(state.view === "full"));
    $("view-studies").setAttribute("aria-pressed", String(state.view === "studies"));
  }

  function switchView(view) {
    if (view === state.view) return;
    state.view = view;
    show(view);
    network.select(isStudy(state.selected) || view === "full" ? state.selected : -1);
    network.fit();
    hideTooltip();
    showStatus();
  }
  $("view-full").addEventListener("click", () => switchView("full"));
  $("view-studies").addEventListener("click", () => switchView("studies"));

  // ------------------------------------------------------------------------ legend / filter
  const kindCounts = KINDS.map(() => 0);
  for (let i = 0; i < N; i++) kindCounts[NODES.kind[i]] += 1;
  KINDS.forEach(([key, text, colour, shape], k) => {
    const box = el("input", { type: "checkbox", "data-kind": key });
    box.checked = true;
    box.addEventListener("change", () => setKindHidden(key, !box.checked));
    const swatch = el("span", { class: "swatch " + shape });
    swatch.style.background = colour;
    $("kinds").append(el("li", null, el("label", null, box, swatch, text, el("span", { class: "count" }, kindCounts[k].toLocaleString("en")))));
  });

  function setKindHidden(key, hide) {
    if (hide) state.hidden.add(key); else state.hidden.delete(key);
    const box = document.querySelector('#kinds input[data-kind="' + key + '"]');
    if (box) box.checked = !hide;
    const k = KINDS.findIndex((kind) => kind[0] === key);
    for (let i = 0; i < N; i++) if (NODES.kind[i] === k) hidden[i] = hide ? 1 : 0;
    network.invalidate();
    showStatus();
  }

  // -------------------------------------------------------------------------------- search
  const results = $("results");
  const norm = (s) => String(s).toLocaleLowerCase().normalize("NFKC");
  let searchable = null; // built at the first search

  /** Node indexes matching `query`: exact label first, then label prefix, then anywhere. */
  function search(query, limit) {
    const q = norm(query).trim();
    if (!q) return [];
    if (!searchable) {
      searchable = [];
      for (let i = 0; i < N; i++) {
        const extra = isStudy(i)
          ? [STUDIES.title[study(i)], STUDIES.doi[study(i)], STUDIES.file[study(i)]].join(" ")
          : NODES.search[i];
        searchable.push([norm(NODES.en[i]), norm(zhOf(i)), norm(extra)]);
      }
    }
    const found = [];
    searchable.forEach(([en, zh, extra], i) => {
      let rank = -1;
      if (en === q || zh === q) rank = 0;
      else if (en.startsWith(q) || zh.startsWith(q)) rank = 1;
      else if (en.includes(q) || zh.includes(q)) rank = 2;
      else if (extra.includes(q)) rank = 3;
      if (rank >= 0) found.push([rank, label(i).length, i]);
    });
    found.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    return found.slice(0, limit || 20).map((f) => f[2]);
  }

  function showResults() {
    const found = search($("search").value, 20);
    results.replaceChildren();
    if (!$("search").value.trim()) { results.hidden = true; return; }
    if (!found.length) results.append(el("li", { class: "none" }, "No node matches."));
    for (const i of found) {
      const text = label(i) + (zhOf(i) ? " · " + zhOf(i) : "") + " (" + kindOf(i)[1] + ")";
      results.append(el("li", { role: "option" }, el("button", { type: "button", onclick: () => { results.hidden = true; select(i); } }, text)));
    }
    results.hidden = false;
  }
  $("search").addEventListener("input", showResults);
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      const found = search($("search").value, 1);
      results.hidden = true;
      if (found.length) select(found[0]);
    } else if (event.key === "Escape") {
      results.hidden = true;
    }
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".search")) results.hidden = true;
  });

  // --------------------------------------------------------------------- select and centre
  /** Make node `i` visible (right view, kind shown), select it, centre it, show its panel. */
  function select(i) {
    if (!isStudy(i) && state.view === "studies") switchView("full");
    const kind = kindOf(i)[0];
    if (state.hidden.has(kind)) setKindHidden(kind, false);
    state.selected = i;
    network.select(i);
    // Zoom in only as far as needed to read labels around it (a big graph opens far zoomed out).
    network.focus(i, Math.max(network.scale, 0.75));
    showNode(i);
  }

  // --------------------------------------------------------------------------- side panel
  const panel = $("panel"), body = $("panel-body");
  $("panel-close").addEventListener("click", () => { panel.hidden = true; state.selected = -1; network.select(-1); });

  function openPanel(...children) {
    body.replaceChildren(...children);
    panel.hidden = false;
    panel.scrollTop = 0;
  }

  function kindChip(i) {
    const chip = el("span", { class: "kind" }, kindOf(i)[1]);
    chip.style.background = kindOf(i)[2];
    return chip;
  }

  function quotes(list) {
    return list.map((q) => el("p", { class: "quote" }, q));
  }

  const MAX_LISTED = 100; // studies listed under a concept; the rest are counted

  function showNode(i) {
    if (isStudy(i)) return showStudy(i);
    const parts = [el("h2", null, NODES.en[i])];
    if (NODES.zh[i]) parts.push(el("p", { class: "zh", lang: "zh" }, NODES.zh[i]));
    parts.push(kindChip(i));
    // The studies that name it: from the study → node edges, each with its quoted words.
    const quoted = evidenceOf(i);
    const from = linksOf(i).in.filter(([s]) => isStudy(s)).map(([s]) => s);
    const listed = new Set(from);
    for (const s of quoted.keys()) if (!listed.has(s)) from.push(s);
    from.sort(byLabel);
    parts.push(el("h3", null, "In " + studies(from.length)));
    const list = el("ul", { class: "plain" });
    for (const s of from.slice(0, MAX_LISTED)) {
      const words = quoted.get(s);
      list.append(el("li", null, nodeButton(s),
        ...(words ? quotes(words) : [el("p", { class: "muted" }, "Inferred by the reasoner (no quote in the record).")])));
    }
    parts.push(list);
    if (from.length > MAX_LISTED) parts.push(el("p", { class: "muted" }, "… and " + (from.length - MAX_LISTED).toLocaleString("en") + " more."));
    // Relations between actors (commissions from, partners with …), both ways.
    const related = [];
    for (const [other, rels] of linksOf(i).out) if (!isStudy(other)) related.push([rels.join(", "), other]);
    for (const [other, rels] of linksOf(i).in) if (!isStudy(other)) related.push(["← " + rels.join(", "), other]);
    if (related.length) {
      parts.push(el("h3", null, "Related"));
      parts.push(el("ul", { class: "plain" }, ...related.map(([text, other]) => el("li", null, text + " ", nodeButton(other)))));
    }
    openPanel(...parts);
  }

  function showStudy(i) {
    const r = study(i);
    const title = STUDIES.title[r], citation = STUDIES.citation[r], doi = STUDIES.doi[r], file = STUDIES.file[r];
    const type = DATA.documentTypes[STUDIES.type[r]], samples = STUDIES.samples[r], discusses = STUDIES.discusses[r];
    const parts = [el("h2", null, title || label(i)), kindChip(i), " ", type === kindOf(i)[1] ? "" : el("span", { class: "muted" }, type)];
    parts.push(el("p", { class: citation ? "citation" : "citation muted" }, citation || "The record has no citation line."));
    if (doi) {
      const link = el("a", { target: "_blank", rel: "noopener noreferrer" }, "https://doi.org/" + doi);
      link.href = "https://doi.org/" + doi.split("/").map(encodeURIComponent).join("/"); // always https://doi.org/…
      parts.push(el("p", null, "DOI: ", link));
    }
    if (file) parts.push(el("p", { class: "muted" }, "Record: " + file));
    if (samples.length) {
      parts.push(el("h3", null, "Sample"));
      parts.push(el("ul", null, ...samples.map((s) => el("li", null, s))));
    }
    const discussed = discusses.map(([target, text]) => el("li", null, target >= 0 ? nodeButton(target) : text + " (not in this graph)"));
    if (discussed.length) parts.push(el("h3", null, "Discusses"), el("ul", { class: "plain" }, ...discussed));
    const by = linksOf(i).in.filter(([s, rels]) => isStudy(s) && rels.includes("discusses")).map(([s]) => s);
    if (by.length) parts.push(el("h3", null, "Discussed by"), el("ul", { class: "plain" }, ...by.map((s) => el("li", null, nodeButton(s)))));
    // What it names, grouped by kind, each with the words that name it.
    const named = linksOf(i).out.filter(([o]) => !isStudy(o));
    KINDS.forEach(([key, text]) => {
      const ofKind = named.filter(([o]) => kindOf(o)[0] === key).sort((a, b) => byLabel(a[0], b[0]));
      if (!ofKind.length) return;
      parts.push(el("h3", null, text));
      parts.push(el("ul", { class: "plain" }, ...ofKind.map(([o, rels]) => {
        const words = evidenceOf(o).get(i);
        return el("li", null, nodeButton(o), el("span", { class: "muted" }, " " + rels.join(", ")), ...(words ? quotes(words) : []));
      })));
    });
    openPanel(...parts);
  }

  function studyEdge(k) {
    return [DATA.studyEdges[3 * k], DATA.studyEdges[3 * k + 1]];
  }

  function showShared(k) {
    const [a, b] = studyEdge(k);
    const shared = sharedBy(a, b);
    openPanel(el("h2", null, "Shared by two studies"), el("p", null, nodeButton(a)), el("p", null, nodeButton(b)),
      el("h3", null, plural(shared.length, "concept") + " in common"),
      el("ul", { class: "plain" }, ...shared.map((c) => el("li", null, nodeButton(c), " ", el("span", { class: "muted" }, kindOf(c)[1])))));
  }

  network.on("click", ({ node, edge }) => {
    state.selected = node;
    if (node >= 0) showNode(node);
    else if (edge >= 0 && state.view === "studies") showShared(edge);
  });

  // ------------------------------------------------------------------------------ tooltip
  const tooltip = $("tooltip");
  function showTooltip(text, pointer) {
    const box = container.getBoundingClientRect();
    tooltip.textContent = text;
    tooltip.style.left = (window.scrollX + box.left + pointer.x + 14) + "px";
    tooltip.style.top = (window.scrollY + box.top + pointer.y + 14) + "px";
    tooltip.hidden = false;
  }
  function hideTooltip() { tooltip.hidden = true; }

  network.on("hover", ({ node, edge, pointer }) => {
    if (node >= 0) {
      let text = label(node) + (zhOf(node) ? " · " + zhOf(node) : "") + "\n" + kindOf(node)[1];
      if (!isStudy(node)) text += " · in " + studies(NODES.degree[node]);
      showTooltip(text, pointer);
    } else if (edge >= 0 && state.view === "studies") {
      const [a, b] = studyEdge(edge);
      const shared = sharedBy(a, b);
      const names = shared.slice(0, 12).map(label).join(", ") + (shared.length > 12 ? ", …" : "");
      showTooltip(label(a) + " and " + label(b) + " share " + plural(shared.length, "concept") + ":\n" + names, pointer);
    } else if (edge >= 0) {
      const { from, to, relations } = decodeEdges();
      showTooltip(label(from[edge]) + " — " + relationLabels(relations[edge]).join(", ") + " → " + label(to[edge]), pointer);
    } else {
      hideTooltip();
    }
  });
  network.on("move", hideTooltip);

  // ------------------------------------------------------------------------------ startup
  showStatus();
  network.fit();
  if (DATA.focus >= 0) select(DATA.focus);
  network.draw(); // the first frame, now: the handlers are live, so the page is interactive
  window.__commkgReady = timings.ready = performance.now();
  window.__commkgTimings = timings;
  document.documentElement.setAttribute("data-ready", "true");

  // A small API for tests and for people at the console; it reads, it never injects.
  window.commkg = Object.freeze({
    counts: () => {
      const data = viewData(state.view);
      return { view: state.view, nodes: data.members.length, edges: data.edges.from.length, visibleNodes: visibleCount() };
    },
    view: (view) => switchView(view),
    index: indexOf,
    select: (iri) => select(indexOf(iri)),
    selected: () => (state.selected >= 0 ? NODES.iri[state.selected] : null),
    shared: (a, b) => sharedBy(indexOf(a), indexOf(b)).map((c) => NODES.iri[c]),
    domPosition: (iri) => {
      const box = container.getBoundingClientRect(), p = network.toScreen(indexOf(iri));
      return { x: box.left + p.x, y: box.top + p.y };
    },
    // Whether the edge layer is complete (big graphs draw their edges over a few frames).
    edgesDrawn: () => network.edgeProgress >= network.edges.from.length,
  });
})();
