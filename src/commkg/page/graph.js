/* commkg's graph renderer: nodes and edges drawn on a <canvas>, with pan, zoom, hover, click,
 * node drag and selection. Written for this page instead of a general library: it keeps every
 * node and edge in typed arrays and draws each kind of node as one path, so 10,000 nodes and
 * 200,000 edges take milliseconds to set up and a frame or a few to draw.
 *
 * Three layers, composited on the visible canvas: edges, nodes (with labels), and an overlay
 * for what is hovered or selected. Hovering and selecting redraw only the overlay. While the
 * reader pans, zooms or drags, big graphs are drawn without their edges; once the view is still,
 * the edges are drawn again a slice per frame, so the page never stops answering.
 *
 * Labels are drawn with fillText only: text is never parsed as markup. */
(function () {
  "use strict";

  const EDGE_SLICE = 40000; // edges drawn in the first frame of the edge layer; then adapted
  const FRAME_MS = 40; // the edge layer's slices aim at frames this long
  const SELECTED_EDGE_LIMIT = 2000; // a hub's edges highlighted at most (those in view first)
  const MOVING_EDGE_LIMIT = 20000; // above it, edges are hidden while the view moves
  const ARROW_LIMIT = 3000; // above it, edges are drawn without arrowheads
  const LABEL_THRESHOLD = 5; // px: labels smaller than this on screen are not drawn
  const MAX_LABELS = 2500; // labels drawn per frame at most (the biggest nodes first)
  const CLICK_SLOP = 4; // px a press may move and still be a click
  const HIT_EDGE_PX = 4; // px from an edge that still hovers it

  class GraphView {
    /**
     * @param {HTMLElement} container  where the canvas goes (it fills it)
     * @param {object} nodes  per node (index i): x, y (world units), radius (world units) and
     *   minRadius (px: far zoomed out, a node stays this big), kind (index into `kinds`), label
     *   (string, may hold one "\n"), font (world units) and minFont (px, 0 for none), fontColor
     *   (index into `fontColors`), hidden (Uint8Array, shared with the caller)
     * @param {object} style  kinds: [{colour, shape}], fontColors: [css colour], edgeLevels:
     *   [css colour] (an edge's level picks its colour), edge colours when selected or hovered
     */
    constructor(container, nodes, style) {
      this.container = container;
      this.n = nodes;
      this.style = style;
      this.canvas = document.createElement("canvas");
      this.canvas.setAttribute("aria-hidden", "true");
      this.canvas.style.display = "block";
      this.canvas.style.touchAction = "none";
      container.append(this.canvas);
      this.ctx = this.canvas.getContext("2d");
      this.layers = { edges: this._layer(), nodes: this._layer(), overlay: this._layer() };
      this.members = new Int32Array(0); // nodes of the current view, in drawing order
      this.edges = { from: new Int32Array(0), to: new Int32Array(0), level: null, arrows: false };
      this.scale = 1;
      this.tx = 0; // screen = world * scale + t
      this.ty = 0;
      this.selected = -1;
      this.hoverNode = -1;
      this.hoverEdge = -1;
      this.moving = false;
      this.handlers = { click: [], hover: [], move: [], drawn: [] };
      this.dirty = { edges: true, nodes: true, overlay: true };
      this.edgeProgress = 0; // edges already drawn into the edge layer
      this.slice = EDGE_SLICE; // edges per frame: long lines (zoomed in) cost more to draw
      this.frame = 0;
      this.adjacency = null; // edges at each node, built when first needed
      this.memberSet = null; // which nodes the view shows, by index
      this._size();
      this._listen();
      // (It also reports the first size, unchanged: resizing a canvas clears it, so only a
      // real change redraws.)
      new ResizeObserver(() => { if (this._size()) this.invalidate(); }).observe(container);
    }

    on(event, handler) { this.handlers[event].push(handler); }
    _emit(event, value) { for (const handler of this.handlers[event]) handler(value); }

    _layer() {
      const canvas = document.createElement("canvas");
      return { canvas, ctx: canvas.getContext("2d") };
    }

    /** Fit the canvases to the container; false when nothing changed. */
    _size() {
      const box = this.container.getBoundingClientRect();
      const width = Math.max(1, box.width), height = Math.max(1, box.height);
      if (width === this.width && height === this.height && this.ratio === (window.devicePixelRatio || 1)) return false;
      if (this.width) { // keep what is at the centre there (the side panel opens and closes)
        this.tx += (width - this.width) / 2;
        this.ty += (height - this.height) / 2;
      }
      this.width = width;
      this.height = height;
      this.ratio = window.devicePixelRatio || 1;
      for (const canvas of [this.canvas, ...Object.values(this.layers).map((l) => l.canvas)]) {
        canvas.width = Math.round(this.width * this.ratio);
        canvas.height = Math.round(this.height * this.ratio);
      }
      this.canvas.style.width = this.width + "px";
      this.canvas.style.height = this.height + "px";
      return true;
    }

    // ------------------------------------------------------------------------------ content
    /** Show `members` (node indexes) and the edges from[k] → to[k] (level[k]: their colour). */
    setData(members, edges) {
      this.members = members;
      this.edges = edges;
      this.adjacency = null;
      this.hoverNode = this.hoverEdge = -1;
      this.invalidate();
    }

    /** Nodes were hidden or shown (the caller changed nodes.hidden). */
    invalidate() {
      this.dirty.edges = this.dirty.nodes = this.dirty.overlay = true;
      this.edgeProgress = 0;
      this.requestDraw();
    }

    edgeVisible(k) {
      const hidden = this.n.hidden;
      return !hidden[this.edges.from[k]] && !hidden[this.edges.to[k]];
    }

    /** Edge indexes at node i in the current view (built on first use). */
    edgesAt(i) {
      if (!this.adjacency) {
        const { from, to } = this.edges, count = new Int32Array(this.n.x.length + 1);
        for (let k = 0; k < from.length; k++) { count[from[k] + 1]++; count[to[k] + 1]++; }
        for (let i = 1; i < count.length; i++) count[i] += count[i - 1];
        const list = new Int32Array(from.length * 2), fill = count.slice(0, -1);
        for (let k = 0; k < from.length; k++) { list[fill[from[k]]++] = k; list[fill[to[k]]++] = k; }
        this.adjacency = { start: count, list };
      }
      const { start, list } = this.adjacency;
      return list.subarray(start[i], start[i + 1]);
    }

    // ----------------------------------------------------------------------------- viewing
    toScreen(i) { return { x: this.n.x[i] * this.scale + this.tx, y: this.n.y[i] * this.scale + this.ty }; }

    fit() {
      let left = Infinity, right = -Infinity, top = Infinity, bottom = -Infinity;
      const { x, y, radius, hidden } = this.n;
      for (const i of this.members) {
        if (hidden[i]) continue;
        left = Math.min(left, x[i] - radius[i]); right = Math.max(right, x[i] + radius[i]);
        top = Math.min(top, y[i] - radius[i]); bottom = Math.max(bottom, y[i] + radius[i]);
      }
      if (left > right) { left = right = top = bottom = 0; }
      const scale = Math.min(1, 0.95 * Math.min(this.width / Math.max(right - left, 1), this.height / Math.max(bottom - top, 1)));
      this.moveTo((left + right) / 2, (top + bottom) / 2, scale);
    }

    /** Put world point (x, y) at the centre of the view, at `scale`. */
    moveTo(x, y, scale) {
      this.scale = scale;
      this.tx = this.width / 2 - x * scale;
      this.ty = this.height / 2 - y * scale;
      this.invalidate();
    }

    focus(i, scale) { this.moveTo(this.n.x[i], this.n.y[i], scale); }

    select(i) {
      this.selected = i;
      this.dirty.overlay = true;
      this.requestDraw();
    }

    // ----------------------------------------------------------------------------- drawing
    requestDraw() {
      if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
    }

    /** Draw now (what is due), and ask for another frame while edges are still to draw. */
    draw() {
      const started = performance.now();
      const edgeCount = this.edges.from.length;
      const skipEdges = this.moving && edgeCount > MOVING_EDGE_LIMIT;
      if (this.dirty.edges) {
        this._clear(this.layers.edges);
        this.dirty.edges = false;
        this.edgeProgress = skipEdges ? edgeCount : 0;
      }
      if (this.edgeProgress < edgeCount) {
        const end = Math.min(edgeCount, this.edgeProgress + (edgeCount > this.slice * 1.5 ? this.slice : edgeCount));
        this._drawEdges(this.layers.edges.ctx, this.edgeProgress, end);
        this.edgeProgress = end;
        if (end < edgeCount) this.requestDraw();
      }
      if (this.dirty.nodes) { this._drawNodes(); this.dirty.nodes = false; }
      if (this.dirty.overlay) { this._drawOverlay(); this.dirty.overlay = false; }
      const ctx = this.ctx;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      ctx.drawImage(this.layers.edges.canvas, 0, 0);
      ctx.drawImage(this.layers.nodes.canvas, 0, 0);
      ctx.drawImage(this.layers.overlay.canvas, 0, 0); // (the layers are rastered here, when read)
      if (this.edgeProgress < edgeCount) { // still drawing edges: fit the next slice to a frame
        const spent = performance.now() - started;
        if (spent > FRAME_MS * 1.5) this.slice = Math.max(2000, Math.round(this.slice / 2));
        else if (spent < FRAME_MS / 2) this.slice = Math.min(200000, this.slice * 2);
      }
      this._emit("drawn", { edgesPending: this.edgeProgress < edgeCount });
    }

    _clear(layer) {
      layer.ctx.setTransform(1, 0, 0, 1, 0, 0);
      layer.ctx.clearRect(0, 0, layer.canvas.width, layer.canvas.height);
    }

    /** Screen pixels on a layer (its canvas has devicePixelRatio pixels to one). */
    _screen(ctx) {
      const r = this.ratio;
      ctx.setTransform(r, 0, 0, r, 0, 0);
    }

    /** The visible rectangle in world units, with a margin. */
    _viewBox(margin) {
      const m = margin / this.scale;
      return { left: -this.tx / this.scale - m, top: -this.ty / this.scale - m,
        right: (this.width - this.tx) / this.scale + m, bottom: (this.height - this.ty) / this.scale + m };
    }

    _drawEdges(ctx, begin, end) {
      const { from, to, level } = this.edges, { x, y, hidden } = this.n;
      const box = this._viewBox(10), scale = this.scale, tx = this.tx, ty = this.ty;
      // Screen coordinates, one pixel wide, one path per colour: software rendering strokes a
      // pixel-wide line in screen space ten times faster than a scaled or wider one, and
      // 40,000 lines in one path stroke at once.
      this._screen(ctx);
      ctx.lineCap = "butt";
      ctx.lineWidth = 1;
      const paths = this.style.edgeLevels.map(() => new Path2D());
      for (let k = begin; k < end; k++) {
        const a = from[k], b = to[k];
        if (hidden[a] || hidden[b]) continue;
        const xa = x[a], ya = y[a], xb = x[b], yb = y[b];
        if ((xa < box.left && xb < box.left) || (xa > box.right && xb > box.right) ||
            (ya < box.top && yb < box.top) || (ya > box.bottom && yb > box.bottom)) continue;
        const path = paths[level ? level[k] : 0];
        path.moveTo(xa * scale + tx, ya * scale + ty);
        path.lineTo(xb * scale + tx, yb * scale + ty);
      }
      paths.forEach((path, j) => { ctx.strokeStyle = this.style.edgeLevels[j]; ctx.stroke(path); });
      if (this.edges.arrows && this.edges.from.length <= ARROW_LIMIT) {
        ctx.fillStyle = this.style.edgeLevels[0];
        for (let k = begin; k < end; k++) if (this.edgeVisible(k)) this._arrow(ctx, k, 1);
      }
    }

    /** An arrowhead at the edge's target, at the rim of the node (screen coordinates). */
    _arrow(ctx, k, grow) {
      const a = this.toScreen(this.edges.from[k]), b = this.toScreen(this.edges.to[k]);
      const dx = b.x - a.x, dy = b.y - a.y, length = Math.hypot(dx, dy);
      if (length < 1e-6) return;
      const ux = dx / length, uy = dy / length, rim = this._radiusOnScreen(this.edges.to[k]);
      const size = 7 * grow;
      const tipX = b.x - ux * rim, tipY = b.y - uy * rim;
      ctx.beginPath();
      ctx.moveTo(tipX, tipY);
      ctx.lineTo(tipX - ux * size - uy * size * 0.5, tipY - uy * size + ux * size * 0.5);
      ctx.lineTo(tipX - ux * size + uy * size * 0.5, tipY - uy * size - ux * size * 0.5);
      ctx.closePath();
      ctx.fill();
    }

    _radiusOnScreen(i) { return Math.max(this.n.radius[i] * this.scale, this.n.minRadius[i]); }
    _fontOnScreen(i) { return Math.max(this.n.font[i] * this.scale, this.n.minFont[i]); }

    /** The outline of node i into `path`, in screen coordinates (like every drawing here:
     * software rendering is much slower under a scaling transform). */
    _shape(path, i, grow) {
      const x = this.n.x[i] * this.scale + this.tx, y = this.n.y[i] * this.scale + this.ty;
      const r = this._radiusOnScreen(i) + grow;
      const shape = this.style.kinds[this.n.kind[i]].shape;
      if (shape === "square") {
        path.rect(x - r, y - r, 2 * r, 2 * r);
      } else if (shape === "diamond") {
        path.moveTo(x, y - r); path.lineTo(x + r, y); path.lineTo(x, y + r); path.lineTo(x - r, y); path.closePath();
      } else {
        path.moveTo(x + r, y);
        path.arc(x, y, r, 0, 2 * Math.PI);
      }
    }

    _drawNodes() {
      const layer = this.layers.nodes, ctx = layer.ctx, { x, y, kind, hidden } = this.n;
      this._clear(layer);
      this._screen(ctx);
      const box = this._viewBox(40), kinds = this.style.kinds;
      const paths = kinds.map(() => new Path2D()), shown = [];
      for (const i of this.members) {
        if (hidden[i] || x[i] < box.left || x[i] > box.right || y[i] < box.top || y[i] > box.bottom) continue;
        this._shape(paths[kind[i]], i, 0);
        shown.push(i);
      }
      ctx.lineWidth = 1;
      ctx.strokeStyle = this.style.border;
      kinds.forEach((k, j) => {
        ctx.fillStyle = k.colour;
        ctx.fill(paths[j]);
        if (this.scale > 0.15) ctx.stroke(paths[j]); // borders only where they can be seen
      });
      this._drawLabels(ctx, shown);
    }

    /** Labels of the nodes `shown`, biggest first; a label that would overlap one already
     * drawn is left out (zoom in to see it), so crowded hubs stay readable. */
    _drawLabels(ctx, shown) {
      const readable = shown.filter((i) => this._fontOnScreen(i) >= LABEL_THRESHOLD && this.n.label[i]);
      readable.sort((a, b) => this._fontOnScreen(b) - this._fontOnScreen(a) || this.n.radius[b] - this.n.radius[a] || a - b);
      const taken = new Map(); // grid cell → label boxes in it
      const CELL = 64;
      const cells = (box, add) => {
        for (let cx = Math.floor(box.left / CELL); cx <= Math.floor(box.right / CELL); cx++) {
          for (let cy = Math.floor(box.top / CELL); cy <= Math.floor(box.bottom / CELL); cy++) {
            const key = cx + "," + cy;
            if (add) { if (!taken.has(key)) taken.set(key, []); taken.get(key).push(box); continue; }
            for (const other of taken.get(key) || []) {
              if (box.left < other.right && other.left < box.right && box.top < other.bottom && other.top < box.bottom) return true;
            }
          }
        }
        return false;
      };
      this._labelStyle(ctx);
      let drawn = 0;
      for (const i of readable) {
        if (drawn >= MAX_LABELS) break;
        const box = this._labelBox(ctx, i);
        if (cells(box, false)) continue;
        cells(box, true);
        this._label(ctx, i, box);
        drawn++;
      }
    }

    _labelStyle(ctx) {
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      ctx.lineJoin = "round";
      ctx.lineWidth = 3;
      ctx.strokeStyle = "#ffffff";
    }

    /** Where node i's label goes: centred under the node, in screen pixels. */
    _labelBox(ctx, i) {
      const size = this._fontOnScreen(i), p = this.toScreen(i), lines = this.n.label[i].split("\n");
      ctx.font = size.toFixed(1) + "px " + this.style.fontFace;
      const width = Math.max(...lines.map((line) => ctx.measureText(line).width));
      const top = p.y + this._radiusOnScreen(i) + 2;
      return { left: p.x - width / 2, right: p.x + width / 2, top, bottom: top + size * 1.15 * lines.length, size, lines, x: p.x };
    }

    _label(ctx, i, box) {
      ctx.font = box.size.toFixed(1) + "px " + this.style.fontFace;
      ctx.fillStyle = this.style.fontColors[this.n.fontColor[i]];
      let top = box.top;
      for (const line of box.lines) {
        ctx.strokeText(line, box.x, top);
        ctx.fillText(line, box.x, top);
        top += box.size * 1.15;
      }
    }

    _drawOverlay() {
      const layer = this.layers.overlay, ctx = layer.ctx;
      this._clear(layer);
      this._screen(ctx);
      const s = this.selected, edges = this.edges;
      if (s >= 0 && !this.n.hidden[s] && this._inView(s)) {
        // Its edges, darker. A hub has thousands, and every pixel of every line costs: past
        // SELECTED_EDGE_LIMIT only those whose other end is in view, and no more than that.
        const path = new Path2D();
        const at = this.edgesAt(s), box = this._viewBox(0), many = at.length > SELECTED_EDGE_LIMIT;
        let count = 0;
        for (const k of at) {
          if (!this.edgeVisible(k)) continue;
          const other = edges.from[k] === s ? edges.to[k] : edges.from[k];
          if (many && (this.n.x[other] < box.left || this.n.x[other] > box.right ||
                       this.n.y[other] < box.top || this.n.y[other] > box.bottom)) continue;
          if (++count > SELECTED_EDGE_LIMIT) break;
          const a = this.toScreen(edges.from[k]), b = this.toScreen(edges.to[k]);
          path.moveTo(a.x, a.y);
          path.lineTo(b.x, b.y);
        }
        ctx.strokeStyle = this.style.edgeSelected;
        ctx.lineWidth = 1; // a hub's thousands of edges: only one-pixel lines raster fast enough
        ctx.stroke(path);
        if (edges.arrows && at.length <= ARROW_LIMIT) {
          ctx.fillStyle = this.style.edgeSelected;
          for (const k of at) if (this.edgeVisible(k)) this._arrow(ctx, k, 1.2);
        }
      }
      if (this.hoverEdge >= 0 && this.hoverEdge < edges.from.length) {
        const k = this.hoverEdge, a = this.toScreen(edges.from[k]), b = this.toScreen(edges.to[k]);
        ctx.beginPath();
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(b.x, b.y);
        ctx.strokeStyle = this.style.edgeHover;
        ctx.lineWidth = 2.5;
        ctx.stroke();
      }
      for (const i of [s, this.hoverNode]) {
        if (i < 0 || this.n.hidden[i] || !this._inView(i)) continue;
        const path = new Path2D();
        this._shape(path, i, 0);
        ctx.fillStyle = this.style.kinds[this.n.kind[i]].colour;
        ctx.fill(path);
        ctx.strokeStyle = "#000000";
        ctx.lineWidth = i === s ? 3 : 2;
        ctx.stroke(path);
        // Its label, whatever the zoom and the crowd.
        if (this.n.label[i]) {
          this._labelStyle(ctx);
          const box = this._labelBox(ctx, i);
          box.size = Math.max(box.size, 12);
          this._label(ctx, i, box);
        }
      }
    }

    _inView(i) {
      return this.members.length > 0 && this._member(i);
    }

    _member(i) {
      if (!this.memberSet || this.memberSet.source !== this.members) {
        const set = new Uint8Array(this.n.x.length);
        for (const j of this.members) set[j] = 1;
        this.memberSet = { source: this.members, set };
      }
      return this.memberSet.set[i] === 1;
    }

    // ----------------------------------------------------------------------------- hit test
    /** The node under screen point (px, py), -1 for none: the nearest whose shape holds it. */
    nodeAt(px, py) {
      const wx = (px - this.tx) / this.scale, wy = (py - this.ty) / this.scale;
      const { x, y, hidden } = this.n;
      let best = -1, bestDistance = Infinity;
      for (const i of this.members) {
        if (hidden[i]) continue;
        const r = this._radiusOnScreen(i) / this.scale + 2 / this.scale;
        const dx = x[i] - wx, dy = y[i] - wy;
        if (Math.abs(dx) > r || Math.abs(dy) > r) continue;
        const d = dx * dx + dy * dy;
        if (d <= r * r * 2 && d < bestDistance) { best = i; bestDistance = d; }
      }
      return best;
    }

    /** The edge under screen point (px, py), -1 for none (only where edges are drawn). */
    edgeAt(px, py) {
      if (this.moving) return -1;
      const wx = (px - this.tx) / this.scale, wy = (py - this.ty) / this.scale;
      const { from, to } = this.edges, { x, y, hidden } = this.n;
      const reach = HIT_EDGE_PX / this.scale;
      let best = -1, bestDistance = Infinity;
      for (let k = 0; k < from.length; k++) {
        const a = from[k], b = to[k];
        if (hidden[a] || hidden[b]) continue;
        const xa = x[a], ya = y[a], xb = x[b], yb = y[b];
        if ((wx < xa - reach && wx < xb - reach) || (wx > xa + reach && wx > xb + reach) ||
            (wy < ya - reach && wy < yb - reach) || (wy > ya + reach && wy > yb + reach)) continue;
        const dx = xb - xa, dy = yb - ya, length2 = dx * dx + dy * dy;
        const t = length2 ? Math.max(0, Math.min(1, ((wx - xa) * dx + (wy - ya) * dy) / length2)) : 0;
        const ex = xa + t * dx - wx, ey = ya + t * dy - wy, d = ex * ex + ey * ey;
        if (d <= reach * reach && d < bestDistance) { best = k; bestDistance = d; }
      }
      return best;
    }

    // ----------------------------------------------------------------------------- input
    _point(event) {
      const box = this.canvas.getBoundingClientRect();
      return { x: event.clientX - box.left, y: event.clientY - box.top };
    }

    _listen() {
      const canvas = this.canvas, pointers = new Map();
      let press = null; // {start, last, node, moved}
      let pinch = null;
      let settle = 0;
      const startMoving = () => {
        if (!this.moving) { this.moving = true; this._emit("move", null); }
        clearTimeout(settle);
      };
      const stopMoving = () => {
        clearTimeout(settle);
        settle = setTimeout(() => { this.moving = false; this.invalidate(); }, 160);
      };

      canvas.addEventListener("pointerdown", (event) => {
        canvas.setPointerCapture(event.pointerId);
        const p = this._point(event);
        pointers.set(event.pointerId, p);
        if (pointers.size === 2) {
          const [a, b] = [...pointers.values()];
          pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y), scale: this.scale };
          press = null;
          return;
        }
        press = { start: p, last: p, node: this.nodeAt(p.x, p.y), moved: false };
      });

      canvas.addEventListener("pointermove", (event) => {
        const p = this._point(event);
        if (pointers.has(event.pointerId)) pointers.set(event.pointerId, p);
        if (pinch && pointers.size === 2) {
          const [a, b] = [...pointers.values()];
          const distance = Math.hypot(a.x - b.x, a.y - b.y);
          startMoving();
          this._zoomAt((a.x + b.x) / 2, (a.y + b.y) / 2, pinch.scale * distance / Math.max(pinch.distance, 1));
          return;
        }
        if (press) {
          if (!press.moved && Math.hypot(p.x - press.start.x, p.y - press.start.y) < CLICK_SLOP) return;
          press.moved = true;
          startMoving();
          if (press.node >= 0) { // drag the node
            this.n.x[press.node] = (p.x - this.tx) / this.scale;
            this.n.y[press.node] = (p.y - this.ty) / this.scale;
          } else {
            this.tx += p.x - press.last.x;
            this.ty += p.y - press.last.y;
          }
          press.last = p;
          this.invalidate();
          return;
        }
        this._hover(p);
      });

      const release = (event) => {
        pointers.delete(event.pointerId);
        if (pointers.size < 2) pinch = null;
        if (press && !press.moved && event.type === "pointerup") {
          const p = this._point(event);
          const node = this.nodeAt(p.x, p.y);
          const edge = node < 0 ? this.edgeAt(p.x, p.y) : -1;
          this.select(node);
          this._emit("click", { node, edge, pointer: p });
        } else if (this.moving) {
          stopMoving();
        }
        press = null;
      };
      canvas.addEventListener("pointerup", release);
      canvas.addEventListener("pointercancel", release);
      canvas.addEventListener("pointerleave", () => { if (!press) this._setHover(-1, -1, null); });

      canvas.addEventListener("wheel", (event) => {
        event.preventDefault();
        const p = this._point(event);
        startMoving();
        this._zoomAt(p.x, p.y, this.scale * Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015)));
        stopMoving();
      }, { passive: false });
    }

    _zoomAt(px, py, scale) {
      scale = Math.min(8, Math.max(0.005, scale));
      const wx = (px - this.tx) / this.scale, wy = (py - this.ty) / this.scale;
      this.scale = scale;
      this.tx = px - wx * scale;
      this.ty = py - wy * scale;
      this.invalidate();
    }

    _hover(p) {
      if (this.hoverPending) { this.hoverPending = p; return; }
      this.hoverPending = p;
      requestAnimationFrame(() => {
        const q = this.hoverPending;
        this.hoverPending = null;
        const node = this.nodeAt(q.x, q.y);
        this._setHover(node, node < 0 ? this.edgeAt(q.x, q.y) : -1, q);
      });
    }

    _setHover(node, edge, pointer) {
      if (node === this.hoverNode && edge === this.hoverEdge) return;
      this.hoverNode = node;
      this.hoverEdge = edge;
      this.canvas.style.cursor = node >= 0 ? "pointer" : "";
      this.dirty.overlay = true;
      this.requestDraw();
      this._emit("hover", { node, edge, pointer });
    }
  }

  window.CommkgGraph = GraphView;
})();
