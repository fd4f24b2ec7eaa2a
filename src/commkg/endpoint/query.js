// The query page: lists the saved queries, sends the editor's query to /sparql, shows the
// answer. Everything that comes from the graph or the server is inserted with textContent,
// never as HTML, so no string in a record can run as script. No library, no network but
// this server.
"use strict";

const $ = (id) => document.getElementById(id);

function setStatus(text) {
  $("status").textContent = text;
}

function clearResults() {
  $("results").replaceChildren();
}

// A term of the SPARQL JSON results format as text: IRIs in <>, literals with their language.
function termText(term) {
  if (!term) return "";
  if (term.type === "uri") return term.value;
  if (term.type === "bnode") return "_:" + term.value;
  return term["xml:lang"] ? term.value + " @" + term["xml:lang"] : term.value;
}

function showTable(json) {
  const results = $("results");
  if (typeof json.boolean === "boolean") {
    const p = document.createElement("p");
    p.className = "boolean";
    p.textContent = json.boolean ? "true" : "false";
    results.replaceChildren(p);
    return;
  }
  const vars = json.head.vars;
  const table = document.createElement("table");
  const headRow = table.createTHead().insertRow();
  for (const v of vars) {
    const th = document.createElement("th");
    th.textContent = v;
    headRow.appendChild(th);
  }
  const body = table.createTBody();
  for (const binding of json.results.bindings) {
    const row = body.insertRow();
    for (const v of vars) {
      const cell = row.insertCell();
      cell.textContent = termText(binding[v]);
      if (binding[v] && binding[v].type === "uri") cell.className = "iri";
    }
  }
  results.replaceChildren(table);
  setStatus(json.results.bindings.length + " rows");
}

function showText(text) {
  const pre = document.createElement("pre");
  pre.textContent = text;
  $("results").replaceChildren(pre);
}

async function runQuery() {
  clearResults();
  setStatus("running…");
  const accept = $("format").value + ", text/turtle;q=0.9";
  const started = performance.now();
  let response;
  try {
    response = await fetch("/sparql", {
      method: "POST",
      headers: { "Content-Type": "application/sparql-query", "Accept": accept },
      body: $("query").value,
    });
  } catch (error) {
    setStatus("the server did not answer: " + error);
    return;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  const type = (response.headers.get("Content-Type") || "").split(";")[0];
  const text = await response.text();
  if (!response.ok) {
    setStatus("error " + response.status);
    showText(text);
    return;
  }
  if (type === "application/sparql-results+json") {
    showTable(JSON.parse(text));
    setStatus($("status").textContent + " in " + seconds + " s");
  } else {
    showText(text);
    setStatus("answered in " + seconds + " s");
  }
}

function showQuery(query) {
  $("query-title").textContent = query.title || query.name;
  $("query-description").textContent = query.description;
  const params = query.params.map(
    (p) => "?" + p.name + ": " + p.meaning + (p.default ? " (commkg query uses " + p.default + ")" : ""));
  // The page sends the text as it is: a parameter stays unbound unless the query writes its
  // default in (related-studies and studies-involving-commissioners do; their descriptions say
  // so) or the reader adds a VALUES block.
  $("query-params").textContent = params.length
    ? "Parameters (`commkg query --param` binds them; here, edit the query: add a VALUES block, " +
      "or change the default written into it): " + params.join("; ")
    : "";
  $("query").value = query.text;
  clearResults();
  setStatus("");
}

async function loadSavedQueries() {
  let queries = [];
  try {
    queries = await (await fetch("/queries")).json();
  } catch (error) {
    setStatus("could not load the saved queries: " + error);
    return;
  }
  const list = $("query-list");
  for (const query of queries) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = query.title || query.name;
    button.title = query.name;
    button.addEventListener("click", () => showQuery(query));
    item.appendChild(button);
    list.appendChild(item);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("run").addEventListener("click", runQuery);
  $("query").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) runQuery();
  });
  loadSavedQueries();
});
