/* commkg's interactive page. Reads the JSON block written by commkg.visual and draws it with
 * vis-network (inlined above this script). Rules that keep record text harmless:
 *   - every string from the data reaches the DOM through textContent (the helper `el`), never
 *     innerHTML; vis-network gets plain-text canvas labels and no `title` (our own tooltip);
 *   - the only link built from data is a DOI link, and only as https://doi.org/….
 * Positions come from Python (physics off), so nothing moves unless the reader drags it. */
(function () {
  "use strict";

  const timings = { start: performance.now() }; // for bench/bench_page.py: where the start-up time goes
  const DATA = JSON.parse(document.getElementById("commkg-data").textContent);
  timings.parsed = performance.now();
  const KINDS = DATA.kinds; // [key, label, colour, shape]
  const NODES = DATA.nodes; // [iri, kind, en, zh, x, y, studies naming it, search text]
  const IRI = 0, KIND = 1, EN = 2, ZH = 3, X = 4, Y = 5, DEGREE = 6, SEARCH = 7;
  const BIG = NODES.length + DATA.edges.length > 20000; // draw less while panning big graphs

  // ------------------------------------------------------------------ indexes over the data
  const studies = new Map(); // node index → [node, title, citation, doi, file, type, samples, discusses]
  for (const s of DATA.studies) studies.set(s[0], s);
  const isStudy = (i) => studies.has(i);

  // Built on first use, not at start-up: a 10,000-record page has 200,000 edges and quotes,
  // and the reader should not wait for them before seeing the graph.
  let evidenceIndex = null; // node index → Map(study index → [quote, …])
  function evidenceOf(i) {
    if (!evidenceIndex) {
      evidenceIndex = new Map();
      for (const [node, study, quotes] of DATA.evidence) {
        if (!evidenceIndex.has(node)) evidenceIndex.set(node, new Map());
        evidenceIndex.get(node).set(study, quotes.map((q) => DATA.quotes[q]));
      }
    }
    return evidenceIndex.get(i) || new Map();
  }

  let links = null; // full graph: {out, in}: node index → [[other, [relation, …]], …]
  function linksOf(i) {
    if (!links) {
      links = { out: new Map(), in: new Map() };
      DATA.edges.forEach(([a, b, rels]) => {
        const labels = rels.map((r) => DATA.relations[r]);
        if (!links.out.has(a)) links.out.set(a, []);
        if (!links.in.has(b)) links.in.set(b, []);
        links.out.get(a).push([b, labels]);
        links.in.get(b).push([a, labels]);
      });
    }
    return { out: links.out.get(i) || [], in: links.in.get(i) || [] };
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

  timings.indexed = performance.now();

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
  const kindOf = (i) => KINDS[NODES[i][KIND]];
  const label = (i) => NODES[i][EN] || NODES[i][ZH] || NODES[i][IRI];
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

  function nodeButton(i) {
    return el("button", { type: "button", class: "link", onclick: () => select(i) }, label(i));
  }

  // ------------------------------------------------------------------------------ vis data
  const state = { view: DATA.view === "studies" ? "studies" : "full", hidden: new Set(), selected: -1 };
  const sets = {}; // view → {nodes: DataSet, edges: DataSet}

  const STUDY_FONT = { size: 18, color: "#0b3d5c" };
  function visNode(i) {
    const n = NODES[i];
    const kind = KINDS[n[KIND]];
    const item = { id: i, x: n[X], y: n[Y], group: kind[0] };
    if (state.hidden.has(kind[0])) item.hidden = true; // only when true: every option costs at 10,000 nodes
    item.label = n[ZH] && !isStudy(i) ? n[EN] + "\n" + n[ZH] : n[EN];
    if (!isStudy(i)) item.value = n[DEGREE] + 1; // concepts grow with the number of studies
    else item.font = STUDY_FONT; // records are what a reader navigates by: bigger, darker labels
    return item;
  }

  function dataFor(view) {
    if (sets[view]) return sets[view];
    let nodes, edges;
    if (view === "full") {
      nodes = NODES.map((_, i) => visNode(i));
      edges = DATA.edges.map(([a, b], k) => ({ id: k, from: a, to: b, arrows: BIG ? undefined : "to" }));
    } else {
      nodes = NODES.map((_, i) => i).filter(isStudy).map((i) => visNode(i));
      edges = DATA.studyEdges.map(([a, b, count], k) => ({ id: k, from: a, to: b, value: count }));
    }
    sets[view] = { nodes: new vis.DataSet(nodes), edges: new vis.DataSet(edges) };
    return sets[view];
  }

  const groups = {};
  for (const [key, , colour, shape] of KINDS) {
    groups[key] = { shape: shape, color: { background: colour, border: "#33333366",
      highlight: { background: colour, border: "#000" }, hover: { background: colour, border: "#000" } } };
  }
  const options = {
    physics: false,
    layout: { improvedLayout: false },
    groups: groups,
    nodes: { size: 12, borderWidth: 1, font: { size: 14, face: "system-ui, sans-serif", color: "#1d2329", strokeWidth: 3, strokeColor: "#ffffff" },
      scaling: { min: 8, max: 36, label: { enabled: true, min: 12, max: 22, drawThreshold: 5 } } },
    edges: { smooth: false, width: 1, selectionWidth: 2, color: { color: "#b9c2cc", highlight: "#1d2329", hover: "#4a5560" },
      arrows: { to: { scaleFactor: 0.5 } }, scaling: { min: 1, max: 6 } },
    interaction: { hover: true, hideEdgesOnDrag: BIG, hideEdgesOnZoom: BIG, tooltipDelay: 3600000, multiselect: false },
  };

  const container = $("network");
  const initial = dataFor(state.view);
  timings.datasets = performance.now();
  const network = new vis.Network(container, initial, options);
  timings.network = performance.now();

  // -------------------------------------------------------------------------------- header
  $("title").textContent = DATA.title;

  function showStatus() {
    const data = dataFor(state.view);
    const hidden = data.nodes.get({ filter: (n) => n.hidden }).length;
    const what = state.view === "full"
      ? "Full graph: " + plural(data.nodes.length, "node") + ", " + plural(data.edges.length, "edge")
      : "Study network: " + plural(data.nodes.length, "study").replace("studys", "studies") + ", " + plural(data.edges.length, "link");
    $("status").textContent = what + (hidden ? " (" + hidden + " hidden by the filter)" : "");
    $("view-full").setAttribute("aria-pressed", String(state.view === "full"));
    $("view-studies").setAttribute("aria-pressed", String(state.view === "studies"));
  }

  function switchView(view) {
    if (view === state.view) return;
    state.view = view;
    network.setData(dataFor(view));
    network.fit({ animation: false });
    hideTooltip();
    showStatus();
  }
  $("view-full").addEventListener("click", () => switchView("full"));
  $("view-studies").addEventListener("click", () => switchView("studies"));

  // ------------------------------------------------------------------------ legend / filter
  const kindCounts = KINDS.map(() => 0);
  NODES.forEach((n) => { kindCounts[n[KIND]] += 1; });
  KINDS.forEach(([key, text, colour, shape], k) => {
    const box = el("input", { type: "checkbox", "data-kind": key });
    box.checked = true;
    box.addEventListener("change", () => setKindHidden(key, !box.checked));
    const swatch = el("span", { class: "swatch " + shape });
    swatch.style.background = colour;
    $("kinds").append(el("li", null, el("label", null, box, swatch, text, el("span", { class: "count" }, kindCounts[k]))));
  });

  function setKindHidden(key, hide) {
    if (hide) state.hidden.add(key); else state.hidden.delete(key);
    const box = document.querySelector('#kinds input[data-kind="' + key + '"]');
    if (box) box.checked = !hide;
    for (const data of Object.values(sets)) {
      data.nodes.update(data.nodes.getIds().filter((i) => kindOf(i)[0] === key).map((i) => ({ id: i, hidden: hide })));
    }
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
    searchable = searchable || NODES.map((n) => [norm(n[EN]), norm(n[ZH]), norm(n[SEARCH])]);
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
      const text = label(i) + (NODES[i][ZH] ? " · " + NODES[i][ZH] : "") + " (" + kindOf(i)[1] + ")";
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
    network.selectNodes([i]);
    // Zoom in only as far as needed to read labels around it (a big graph opens far zoomed out).
    network.focus(i, { scale: Math.max(network.getScale(), 0.75), animation: false });
    showNode(i);
  }

  // --------------------------------------------------------------------------- side panel
  const panel = $("panel"), body = $("panel-body");
  $("panel-close").addEventListener("click", () => { panel.hidden = true; network.unselectAll(); });

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
    const n = NODES[i];
    const parts = [el("h2", null, n[EN])];
    if (n[ZH]) parts.push(el("p", { class: "zh", lang: "zh" }, n[ZH]));
    parts.push(kindChip(i));
    // The studies that name it: from the study → node edges, each with its quoted words.
    const quoted = evidenceOf(i);
    const from = linksOf(i).in.filter(([s]) => isStudy(s)).map(([s]) => s);
    for (const s of quoted.keys()) if (!from.includes(s)) from.push(s);
    from.sort((a, b) => label(a).localeCompare(label(b)) || a - b);
    parts.push(el("h3", null, "In " + plural(from.length, "study").replace("studys", "studies")));
    const list = el("ul", { class: "plain" });
    for (const s of from.slice(0, MAX_LISTED)) {
      const words = quoted.get(s);
      list.append(el("li", null, nodeButton(s),
        ...(words ? quotes(words) : [el("p", { class: "muted" }, "Inferred by the reasoner (no quote in the record).")])));
    }
    parts.push(list);
    if (from.length > MAX_LISTED) parts.push(el("p", { class: "muted" }, "… and " + (from.length - MAX_LISTED) + " more."));
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
    const [, title, citation, doi, file, type, samples, discusses] = studies.get(i);
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
      const ofKind = named.filter(([o]) => kindOf(o)[0] === key).sort((a, b) => label(a[0]).localeCompare(label(b[0])));
      if (!ofKind.length) return;
      parts.push(el("h3", null, text));
      parts.push(el("ul", { class: "plain" }, ...ofKind.map(([o, rels]) => {
        const words = evidenceOf(o).get(i);
        return el("li", null, nodeButton(o), el("span", { class: "muted" }, " " + rels.join(", ")), ...(words ? quotes(words) : []));
      })));
    });
    openPanel(...parts);
  }

  function showShared(edgeId) {
    const [a, b] = DATA.studyEdges[edgeId];
    const shared = sharedBy(a, b);
    openPanel(el("h2", null, "Shared by two studies"), el("p", null, nodeButton(a)), el("p", null, nodeButton(b)),
      el("h3", null, plural(shared.length, "concept") + " in common"),
      el("ul", { class: "plain" }, ...shared.map((c) => el("li", null, nodeButton(c), " ", el("span", { class: "muted" }, kindOf(c)[1])))));
  }

  network.on("click", (params) => {
    if (params.nodes.length) { state.selected = params.nodes[0]; showNode(params.nodes[0]); }
    else if (params.edges.length && state.view === "studies") showShared(params.edges[0]);
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

  network.on("hoverNode", (params) => {
    const i = params.node, n = NODES[i];
    let text = label(i) + (n[ZH] ? " · " + n[ZH] : "") + "\n" + kindOf(i)[1];
    if (!isStudy(i)) text += " · in " + plural(n[DEGREE], "study").replace("studys", "studies");
    showTooltip(text, params.pointer.DOM);
  });
  network.on("hoverEdge", (params) => {
    let text;
    if (state.view === "studies") {
      const [a, b] = DATA.studyEdges[params.edge];
      const shared = sharedBy(a, b);
      const names = shared.slice(0, 12).map(label).join(", ") + (shared.length > 12 ? ", …" : "");
      text = label(a) + " and " + label(b) + " share " + plural(shared.length, "concept") + ":\n" + names;
    } else {
      const [a, b, rels] = DATA.edges[params.edge];
      text = label(a) + " — " + rels.map((r) => DATA.relations[r]).join(", ") + " → " + label(b);
    }
    showTooltip(text, params.pointer.DOM);
  });
  network.on("blurNode", hideTooltip);
  network.on("blurEdge", hideTooltip);
  network.on("dragStart", hideTooltip);
  network.on("zoom", hideTooltip);

  // ------------------------------------------------------------------------------ startup
  showStatus();
  network.fit({ animation: false });
  if (DATA.focus >= 0) select(DATA.focus);
  network.once("afterDrawing", () => {
    // The first frame is drawn and the handlers are live: the page is interactive.
    window.__commkgReady = timings.ready = performance.now();
    window.__commkgTimings = timings;
    document.documentElement.setAttribute("data-ready", "true");
  });
  network.redraw();

  // A small API for tests and for people at the console; it reads, it never injects.
  window.commkg = Object.freeze({
    counts: () => {
      const data = dataFor(state.view);
      return { view: state.view, nodes: data.nodes.length, edges: data.edges.length,
        visibleNodes: data.nodes.get({ filter: (n) => !n.hidden }).length };
    },
    view: (view) => switchView(view),
    index: (iri) => NODES.findIndex((n) => n[IRI] === iri),
    select: (iri) => select(NODES.findIndex((n) => n[IRI] === iri)),
    selected: () => (state.selected >= 0 ? NODES[state.selected][IRI] : null),
    shared: (a, b) => sharedBy(NODES.findIndex((n) => n[IRI] === a), NODES.findIndex((n) => n[IRI] === b)).map((c) => NODES[c][IRI]),
    domPosition: (iri) => {
      const i = NODES.findIndex((n) => n[IRI] === iri);
      const box = container.getBoundingClientRect();
      const p = network.canvasToDOM(network.getPositions([i])[i]);
      return { x: box.left + p.x, y: box.top + p.y };
    },
  });
})();
