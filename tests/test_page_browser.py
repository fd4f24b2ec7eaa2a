"""The page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; never
`playwright install`): offline, counts, search, filter, evidence, and the XSS record.

Skipped, with the reason, only when Chromium or the playwright package is missing; .ci/run
installs both (apt: chromium, fonts-noto-cjk; pip: the test extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from commkg import visual
from test_visual import BMC_STUDY, EVIL_NAME, EVIL_PAYLOADS, RDT, evil_graph

CHROMIUM = "/usr/bin/chromium"
# As root in a closed network: no sandbox, and none of Chromium's own background connections.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install '.[test]')")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def evil_page_file(tmp_path_factory) -> tuple[Path, visual.Projection]:
    graph = evil_graph()
    path = tmp_path_factory.mktemp("page") / "graph.html"
    visual.write_page(graph, path, title="commkg test")
    return path, visual.project(graph)


class Watched:
    """A page with everything that must not happen recorded: requests that leave file://,
    console errors, uncaught exceptions, dialogs (alert)."""

    def __init__(self, browser, path: Path):
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.goto(path.as_uri())
        # A selector, not wait_for_function: that evaluates a string, which the page's CSP forbids.
        self.page.wait_for_selector("html[data-ready]", state="attached", timeout=60000)

    def _route(self, route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def next_frames(self) -> None:
        """Wait two animation frames: a panel that opened or closed changes the canvas's width,
        which the page learns of from a ResizeObserver at a frame of its own, and moves what is
        at the centre. A busy machine delays that past a measurement made at once."""
        self.js("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))")

    def search(self, text: str) -> None:
        box = self.page.locator("#search")
        box.fill(text)
        box.press("Enter")

    def panel_text(self) -> str:
        return self.page.locator("#panel").inner_text()

    def assert_clean(self) -> None:
        assert self.outside == [] and self.errors == [] and self.dialogs == []
        assert self.js("window.__pwned") is None


@pytest.fixture
def page(browser, evil_page_file):
    watched = Watched(browser, evil_page_file[0])
    yield watched
    watched.page.close()


def test_offline_no_errors_and_the_counts_of_the_graph(page, evil_page_file):
    _, projection = evil_page_file
    counts = page.js("window.commkg.counts()")
    assert counts == {"view": "full", "nodes": projection.full.number_of_nodes(),
                      "edges": projection.full.number_of_edges(), "visibleNodes": projection.full.number_of_nodes()}
    page.page.click("#view-studies")
    counts = page.js("window.commkg.counts()")
    assert (counts["view"], counts["nodes"], counts["edges"]) == (
        "studies", projection.studies.number_of_nodes(), projection.studies.number_of_edges())
    assert "Study network" in page.page.locator("#status").inner_text()
    # What the page says two studies share is what the Python projection counted.
    for a, b, data in projection.studies.edges(data=True):
        assert page.js("([a, b]) => window.commkg.shared(a, b)", [a, b]) == list(data["shared"])
    page.assert_clean()


def _is_centred(page, iri: str) -> bool:
    box = page.page.locator("#network").bounding_box()
    where = page.js("(iri) => window.commkg.domPosition(iri)", iri)
    return (abs(where["x"] - (box["x"] + box["width"] / 2)) < 2 and
            abs(where["y"] - (box["y"] + box["height"] / 2)) < 2)


@pytest.mark.parametrize("query", ["resource dependency", "资源依赖"])
def test_search_by_english_or_chinese_label_finds_and_centres_the_node(page, query):
    page.page.click("#view-studies")  # a concept is found from the study network view too
    page.search(query)
    assert page.js("window.commkg.selected()") == RDT
    assert _is_centred(page, RDT)
    text = page.panel_text()
    assert "resource dependency theory" in text and "资源依赖理论" in text
    page.assert_clean()


def test_search_lists_matches_as_text(page):
    page.page.locator("#search").fill("<img")
    results = page.page.locator("#results")
    assert results.is_visible()
    assert EVIL_PAYLOADS[0] in results.inner_text()
    page.assert_clean()


def test_a_filter_hides_a_kind(page, evil_page_file):
    _, projection = evil_page_file
    places = sum(1 for n in projection.nodes.values() if n.kind == "place")
    assert places
    page.page.locator('#kinds input[data-kind="place"]').uncheck()
    counts = page.js("window.commkg.counts()")
    assert counts["visibleNodes"] == counts["nodes"] - places
    assert "hidden by the filter" in page.page.locator("#status").inner_text()
    page.page.locator('#kinds input[data-kind="place"]').check()
    assert page.js("window.commkg.counts()")["visibleNodes"] == counts["nodes"]


def test_clicking_a_node_shows_its_evidence_quote(page):
    page.js("(iri) => window.commkg.select(iri)", RDT)  # centre it, so nothing else is on top
    page.page.click("#panel-close")
    assert page.page.locator("#panel").is_hidden()
    page.next_frames()
    where = page.js("(iri) => window.commkg.domPosition(iri)", RDT)
    page.page.mouse.click(where["x"], where["y"])
    assert page.page.locator("#panel").is_visible()
    quotes = page.page.locator("#panel .quote").all_inner_texts()
    assert "resource dependency theory" in quotes
    assert "BMC Health Serv Res 2013 S4" in page.panel_text()
    page.assert_clean()


def test_clicking_a_study_shows_its_citation_and_doi_link(page):
    page.js("(iri) => window.commkg.select(iri)", BMC_STUDY)
    page.page.click("#panel-close")
    page.next_frames()
    where = page.js("(iri) => window.commkg.domPosition(iri)", BMC_STUDY)
    page.page.mouse.click(where["x"], where["y"])
    assert "BMC Health Serv Res 13" in page.panel_text()
    link = page.page.locator("#panel a")
    assert link.get_attribute("href") == "https://doi.org/10.1186/1472-6963-13-S1-S4"
    page.assert_clean()


def test_the_attack_record_shows_as_text_and_runs_nothing(page):
    page.search(Path(EVIL_NAME).stem)  # found by its file name
    text = page.panel_text()
    for payload in EVIL_PAYLOADS:
        assert payload in text
    assert EVIL_NAME in text
    assert page.js("document.querySelectorAll('#panel img, #panel script, body img').length") == 0
    assert page.js("document.scripts.length") == 3  # the data block, the renderer, the page's own
    page.page.mouse.move(10, 10)
    page.assert_clean()



# --------------------------------------------------------------------------- the renderer

def _node_between(page, a: str, b: str) -> dict:
    pa = page.js("(iri) => window.commkg.domPosition(iri)", a)
    pb = page.js("(iri) => window.commkg.domPosition(iri)", b)
    return {"x": (pa["x"] + pb["x"]) / 2, "y": (pa["y"] + pb["y"]) / 2}


def test_hovering_a_node_shows_its_summary(page):
    page.js("(iri) => window.commkg.select(iri)", RDT)
    page.next_frames()  # the opened panel narrows the canvas, and the node moves with its centre
    where = page.js("(iri) => window.commkg.domPosition(iri)", RDT)
    page.page.mouse.move(where["x"] + 40, where["y"] + 40)
    page.page.mouse.move(where["x"], where["y"])
    tooltip = page.page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert "resource dependency theory" in tooltip.inner_text() and "Theory" in tooltip.inner_text()
    page.page.mouse.move(5, 5)  # off the graph: the tooltip goes
    tooltip.wait_for(state="hidden")
    page.assert_clean()


def test_dragging_the_background_pans_and_the_wheel_zooms(page):
    page.js("(iri) => window.commkg.select(iri)", RDT)
    page.page.click("#panel-close")
    page.next_frames()
    box = page.page.locator("#network").bounding_box()
    # A spot with no node under it: the network's top-left corner after zooming out a little.
    page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.page.mouse.wheel(0, 400)
    before = page.js("(iri) => window.commkg.domPosition(iri)", RDT)
    page.page.mouse.move(box["x"] + 8, box["y"] + 8)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + 58, box["y"] + 38, steps=5)
    page.page.mouse.up()
    after = page.js("(iri) => window.commkg.domPosition(iri)", RDT)
    assert abs(after["x"] - before["x"] - 50) < 1 and abs(after["y"] - before["y"] - 30) < 1
    # Zooming in about the pointer spreads nodes apart.
    other = BMC_STUDY
    spread = lambda: abs(page.js("(iri) => window.commkg.domPosition(iri)", RDT)["x"]
                         - page.js("(iri) => window.commkg.domPosition(iri)", other)["x"])
    wide = spread()
    page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.page.mouse.wheel(0, -300)
    assert spread() > wide * 1.2
    page.assert_clean()


def test_clicking_a_study_network_link_names_what_the_two_share(page, evil_page_file):
    _, projection = evil_page_file
    page.page.click("#view-studies")
    (a, b), shared = max(projection.links.items(), key=lambda item: len(item[1]))
    page.js("(iri) => window.commkg.select(iri)", a)  # bring it into view, zoomed in
    page.page.click("#panel-close")
    page.next_frames()  # the closed panel gives the canvas its width back (else the click lands on a node)
    where = _node_between(page, a, b)
    page.page.mouse.click(where["x"], where["y"])
    text = page.panel_text()
    assert "Shared by two studies" in text and f"{len(shared)} concept" in text
    for concept in shared:
        assert projection.nodes[concept].en in text
    page.assert_clean()


def _big_projection(studies: int, concepts: int, per_study: int) -> visual.Projection:
    """A projection made directly (no RDF): `studies` studies naming `per_study` of `concepts`
    concepts each, for the renderer's big-graph behaviour."""
    names = [f"https://example.org/concept/{j:03d}" for j in range(concepts)]
    nodes = {c: visual.Node(c, "method", f"method {j}", "") for j, c in enumerate(names)}
    edges, info = {}, {}
    for i in range(studies):
        study = f"https://example.org/study/{i:05d}"
        nodes[study] = visual.Node(study, "study", f"study {i}", "")
        info[study] = visual.Study(f"Study {i}", "", "", f"{i}.txt", "Article", (), ())
        for j in range(per_study):
            edges[study, names[(i * 7 + j * 13) % concepts]] = frozenset({"uses method"})
    links = visual.study_links(visual.shared_concepts(edges, info))
    return visual.Projection(nodes=nodes, edges=edges, links=links, studies_info=info)


def test_a_big_full_graph_draws_every_edge_and_says_edges_hide_while_moving(browser, tmp_path):
    projection = _big_projection(2000, 40, 15)
    assert len(projection.edges) > 20_000
    path = tmp_path / "big.html"
    path.write_text(visual.render_data(visual.page_data(projection, title="big")), encoding="utf-8")
    watched = Watched(browser, path)
    try:
        assert watched.js("window.commkg.counts()")["view"] == "studies"
        watched.page.click("#view-full")
        counts = watched.js("window.commkg.counts()")
        assert (counts["nodes"], counts["edges"]) == (len(projection.nodes), len(projection.edges))
        assert "edges hide while the view moves" in watched.page.locator("#status").inner_text()
        for _ in range(100):  # polled: wait_for_function evaluates a string, which the CSP forbids
            if watched.js("window.commkg.edgesDrawn()"):
                break
            watched.page.wait_for_timeout(50)
        assert watched.js("window.commkg.edgesDrawn()")
        watched.assert_clean()
    finally:
        watched.page.close()
