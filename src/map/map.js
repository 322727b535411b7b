// The address-space map: draws every pool CIDR of the embedded data as nested quadrants on a
// canvas, builds the tree with utilization bars, and explains whatever is under the pointer.
//
// Data (element #ipam-map-data, written by src/map/html.rs):
//   ipams[]: {id, description, scopes[]: {id, kind, description, default, roots[] (pool indices)}}
//   pools[]: {id, label, family, locale, tags, netmask, parent, children[], cidrs[], color, used, total}
//   cidrs[]: {id, pool, cidr, hostBits, base (decimal), v6, used, total, free, percent, start, end}
//   a: allocation columns; allocation k lies in the pool CIDR whose [start, end) holds k:
//     d[k] levels below the pool CIDR, i[k] its index among blocks of that size (a number, or a
//     decimal string when too large for a double), id[k] (without "ipam-alloc-" when it had it),
//     desc/tags/actor[k] indices into strings[], t[k] milliseconds after timeBase, color[k]
//     a legend index.
//   children[]: [allocation, pool CIDR] for allocations that hold a child pool's CIDR.
// The geometry is src/map/layout.rs: a CIDR with h host bits is a square (h even) or a 2:1
// rectangle (h odd); a square splits into top/bottom, a rectangle into left/right.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("ipam-map-data").textContent);
  var A = DATA.a;
  var N = A.d.length;
  var TILE = 512; // the longer side of a tile, in pixels: a power of two keeps blocks on pixels
  var FREE = [238, 241, 244];
  var GRID = "rgba(120,135,150,0.16)";

  var childOf = new Int32Array(N).fill(-1);
  DATA.children.forEach(function (p) { childOf[p[0]] = p[1]; });
  var cidrOfAlloc = new Int32Array(N);
  DATA.cidrs.forEach(function (c, ci) { for (var k = c.start; k < c.end; k++) cidrOfAlloc[k] = ci; });

  // ---- geometry ------------------------------------------------------------------------------
  function leftRight(hostBits, level) { return (hostBits - level) % 2 === 1; }

  // The rectangle (fractions of the tile) of allocation k inside its pool CIDR.
  var RX = new Float64Array(N), RY = new Float64Array(N), RW = new Float64Array(N), RH = new Float64Array(N);
  var START = new Float64Array(N), END = new Float64Array(N); // address fractions of the CIDR
  function place(k, hostBits) {
    var d = Math.min(A.d[k], hostBits), i = A.i[k];
    var x = 0, y = 0, w = 1, h = 1, level, bit;
    if (typeof i === "string") {
      var big = BigInt(i), depth = Math.min(d, 104);
      if (d > depth) big = big >> BigInt(d - depth);
      for (level = 0; level < depth; level++) {
        bit = (big >> BigInt(depth - 1 - level)) & 1n;
        if (leftRight(hostBits, level)) { w /= 2; if (bit) x += w; } else { h /= 2; if (bit) y += h; }
      }
      START[k] = Number(big) / Math.pow(2, depth);
    } else {
      var rest = i, scale = Math.pow(2, d - 1);
      for (level = 0; level < d; level++) {
        bit = rest >= scale ? 1 : 0;
        if (bit) rest -= scale;
        scale /= 2;
        if (leftRight(hostBits, level)) { w /= 2; if (bit) x += w; } else { h /= 2; if (bit) y += h; }
      }
      START[k] = i / Math.pow(2, d);
    }
    END[k] = START[k] + Math.pow(2, -d);
    RX[k] = x; RY[k] = y; RW[k] = w; RH[k] = h;
  }
  DATA.cidrs.forEach(function (c) { for (var k = c.start; k < c.end; k++) place(k, c.hostBits); });

  // The address fraction of the point (u, v) of a tile, to `depth` levels.
  function fractionAt(hostBits, u, v, depth) {
    var f = 0, step = 0.5;
    for (var level = 0; level < depth; level++) {
      var bit;
      if (leftRight(hostBits, level)) { u *= 2; bit = u >= 1; if (bit) u -= 1; }
      else { v *= 2; bit = v >= 1; if (bit) v -= 1; }
      if (bit) f += step;
      step /= 2;
    }
    return f;
  }

  // ---- addresses -----------------------------------------------------------------------------
  function ipv4(n) {
    return [n / 16777216 >>> 0, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  }
  function ipv6(n) {
    var parts = [];
    for (var g = 7; g >= 0; g--) parts.push(Number((n >> BigInt(g * 16)) & 0xffffn).toString(16));
    var best = -1, bestLen = 1, run = -1;
    for (var j = 0; j <= 8; j++) {
      if (j < 8 && parts[j] === "0") { if (run < 0) run = j; }
      else if (run >= 0) { if (j - run > bestLen) { best = run; bestLen = j - run; } run = -1; }
    }
    if (best < 0) return parts.join(":");
    return parts.slice(0, best).join(":") + "::" + parts.slice(best + bestLen).join(":");
  }
  // The CIDR `depth` levels below pool CIDR c with index `index` (number, string or BigInt).
  function blockCidr(c, depth, index) {
    var C = DATA.cidrs[c], width = C.v6 ? 128 : 32, prefix = width - C.hostBits + depth;
    if (C.v6) {
      var addr = BigInt(C.base) + (BigInt(index) << BigInt(C.hostBits - depth));
      return ipv6(addr) + "/" + prefix;
    }
    return ipv4(Number(C.base) + Number(index) * Math.pow(2, C.hostBits - depth)) + "/" + prefix;
  }
  function allocationCidr(k) { return blockCidr(cidrOfAlloc[k], A.d[k], A.i[k]); }
  function allocationId(k) { var id = A.id[k]; return id.indexOf("ipam-") === 0 ? id : "ipam-alloc-" + id; }
  function created(k) {
    var t = A.t[k];
    return typeof t === "string" ? t : new Date(DATA.timeBase + t).toISOString();
  }
  function blockSize(c, depth) {
    var bits = DATA.cidrs[c].hostBits - depth;
    return bits <= 52 ? fmt(Math.pow(2, bits)) : "2^" + bits;
  }

  // ---- numbers and text ----------------------------------------------------------------------
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function bigText(s) { return s.length > 15 ? "≈" + Number(s).toExponential(2) : fmt(s); }
  // "used of total addresses" for pool CIDR C: IPv6 space of /64 or more counts /64 subnets.
  function amount(C, text) {
    if (C.v6 && C.hostBits >= 64) {
      var n = BigInt(text) >> 64n, exact = (BigInt(text) & 0xffffffffffffffffn) === 0n;
      return (exact ? "" : "≈") + bigText(n.toString());
    }
    return bigText(text);
  }
  function unit(C) { return C.v6 && C.hostBits >= 64 ? " /64s" : " addresses"; }
  function percent(used, total) { var t = Number(total); return t > 0 ? Number(used) / t * 100 : 0; }
  function pctText(p) { return p === 0 ? "0%" : p < 0.1 ? "<0.1%" : p < 10 ? p.toFixed(1) + "%" : Math.round(p) + "%"; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, function (ch) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[ch]; });
  }
  function tagsText(tags) {
    var keys = Object.keys(tags || {});
    return keys.length ? keys.map(function (k) { return k + " = " + tags[k]; }).join(", ") : "—";
  }
  function allocationTags(k) { var s = DATA.strings[A.tags[k]]; return s ? JSON.parse(s) : {}; }
  function colorOf(k) {
    if (childOf[k] >= 0) return DATA.pools[DATA.cidrs[childOf[k]].pool].color;
    return DATA.legend[A.color[k]] ? DATA.legend[A.color[k]][2] : "#888";
  }
  var rgbCache = {};
  function rgb(css) {
    if (rgbCache[css]) return rgbCache[css];
    var probe = document.createElement("canvas").getContext("2d");
    probe.fillStyle = css; probe.fillRect(0, 0, 1, 1);
    var p = probe.getImageData(0, 0, 1, 1).data;
    return (rgbCache[css] = [p[0], p[1], p[2]]);
  }
  function barClass(p) { return p >= 85 ? "high" : p >= 60 ? "warn" : ""; }
  function countAllocations(c) {
    var C = DATA.cidrs[c], n = 0;
    for (var k = C.start; k < C.end; k++) if (childOf[k] < 0) n++;
    return n;
  }

  // ---- drawing -------------------------------------------------------------------------------
  var tiles = []; // {c, canvas, W, H}
  var tileOfCidr = {};
  var drawnBlocks = 0, aggregatedBlocks = 0;

  function drawTile(t) {
    t.drawn = true;
    var ctx = t.canvas.getContext("2d");
    ctx.fillStyle = "rgb(" + FREE.join(",") + ")";
    ctx.fillRect(0, 0, t.W, t.H);
    drawGuides(ctx, DATA.cidrs[t.c].hostBits, 0, 0, t.W, t.H);
    var acc = { area: new Float32Array(t.W * t.H), color: new Array(t.W * t.H), any: false };
    var labels = [];
    drawCidr(ctx, t, t.c, 0, 0, t.W, t.H, acc, labels, 0);
    if (acc.any) flushAggregates(ctx, t, acc);
    labels.forEach(function (l) { l(); });
  }

  // Faint lines at the first levels of the quadrants, so that free space reads as a grid.
  function drawGuides(ctx, hostBits, X, Y, W, H) {
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    var levels = Math.min(hostBits, 6);
    for (var depth = 1; depth <= levels; depth++) {
      var cols = 1, rows = 1;
      for (var l = 0; l < depth; l++) { if (leftRight(hostBits, l)) cols *= 2; else rows *= 2; }
      if (W / cols < 8 || H / rows < 8) break;
      ctx.beginPath();
      for (var x = 1; x < cols; x++) { var px = Math.round(X + x * W / cols) + 0.5; ctx.moveTo(px, Y); ctx.lineTo(px, Y + H); }
      for (var y = 1; y < rows; y++) { var py = Math.round(Y + y * H / rows) + 0.5; ctx.moveTo(X, py); ctx.lineTo(X + W, py); }
      ctx.stroke();
    }
  }

  function drawCidr(ctx, t, c, X, Y, W, H, acc, labels, nesting) {
    var C = DATA.cidrs[c];
    for (var k = C.start; k < C.end; k++) {
      var x = X + RX[k] * W, y = Y + RY[k] * H, w = RW[k] * W, h = RH[k] * H;
      var child = childOf[k];
      if (w < 1 || h < 1) {
        // smaller than a pixel: aggregated into the pixel that holds it
        var px = Math.min(t.W - 1, Math.floor(x)), py = Math.min(t.H - 1, Math.floor(y));
        var at = py * t.W + px;
        acc.area[at] += w * h;
        acc.color[at] = colorOf(k);
        acc.any = true;
        aggregatedBlocks++;
        continue;
      }
      drawnBlocks++;
      var color = colorOf(k);
      if (child >= 0) {
        var c3 = rgb(color);
        ctx.fillStyle = "rgba(" + c3.join(",") + ",0.13)";
        ctx.fillRect(x, y, w, h);
        drawCidr(ctx, t, child, x, y, w, h, acc, labels, nesting + 1);
        labels.push(outline.bind(null, ctx, x, y, w, h, color, DATA.pools[DATA.cidrs[child].pool].label, k));
      } else {
        ctx.fillStyle = color;
        ctx.fillRect(x, y, w, h);
        if (w >= 5 && h >= 5) {
          ctx.strokeStyle = "rgba(255,255,255,0.85)";
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
        }
        if (w >= 24 && h >= 14) labels.push(label.bind(null, ctx, x, y, w, h, k));
      }
    }
  }

  function outline(ctx, x, y, w, h, color, name, k) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.setLineDash([]);
    ctx.strokeRect(x + 1, y + 1, w - 2, h - 2);
    ctx.strokeStyle = "rgba(20,25,30,0.55)";
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
    ctx.setLineDash([]);
    if (w >= 60 && h >= 18) tag(ctx, x + 3, y + 3, w - 6, name + "  " + allocationCidr(k), color);
  }

  function tag(ctx, x, y, maxW, text, color) {
    ctx.font = "600 11px system-ui, 'DejaVu Sans', sans-serif";
    var shown = fitText(ctx, text, maxW - 8);
    if (!shown) return;
    var tw = ctx.measureText(shown).width;
    ctx.fillStyle = "rgba(255,255,255,0.92)";
    ctx.fillRect(x, y, tw + 8, 16);
    ctx.fillStyle = "#1f2933";
    ctx.textBaseline = "middle";
    ctx.fillText(shown, x + 4, y + 8.5);
    ctx.fillStyle = color;
    ctx.fillRect(x, y, 3, 16);
  }

  function label(ctx, x, y, w, h, k) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
    ctx.fillStyle = "rgba(255,255,255,0.96)";
    ctx.textBaseline = "top";
    ctx.font = "600 11px ui-monospace, 'DejaVu Sans Mono', monospace";
    var cidr = allocationCidr(k);
    // a block too narrow for its CIDR still shows its size
    var line1 = ctx.measureText(cidr).width <= w - 8 ? cidr : fitText(ctx, cidr.slice(cidr.indexOf("/")), w - 6);
    if (line1) ctx.fillText(line1, x + 3, y + 3);
    ctx.font = "11px system-ui, 'DejaVu Sans', sans-serif";
    // the description only where the whole CIDR fits
    var line2 = line1 === cidr ? fitText(ctx, DATA.strings[A.desc[k]], w - 8) : "";
    if (line2 && h >= 32) ctx.fillText(line2, x + 3, y + 16);
    ctx.restore();
  }

  function fitText(ctx, text, maxW) {
    if (!text || maxW < 12) return "";
    if (ctx.measureText(text).width <= maxW) return text;
    while (text.length > 1 && ctx.measureText(text + "…").width > maxW) text = text.slice(0, -1);
    return text.length > 1 ? text + "…" : "";
  }

  // Pixels holding blocks smaller than a pixel: the colour of what lies there, stronger the more
  // of the pixel is used (any use at least clearly visible).
  function flushAggregates(ctx, t, acc) {
    var image = ctx.getImageData(0, 0, t.W, t.H), px = image.data;
    for (var at = 0; at < acc.area.length; at++) {
      if (acc.area[at] <= 0) continue;
      var alpha = 0.4 + 0.6 * Math.min(1, acc.area[at]);
      var c = rgb(acc.color[at]), o = at * 4;
      for (var ch = 0; ch < 3; ch++) px[o + ch] = Math.round(px[o + ch] * (1 - alpha) + c[ch] * alpha);
    }
    ctx.putImageData(image, 0, 0);
  }

  // ---- what lies under the pointer -----------------------------------------------------------
  // The chain of allocations (outermost first) holding the point, and the free block if none.
  function hit(c, u, v, chain) {
    var C = DATA.cidrs[c], depth = Math.min(C.hostBits, 52);
    var f = fractionAt(C.hostBits, u, v, depth);
    var lo = C.start, hi = C.end; // last allocation starting at or before f
    while (lo < hi) { var mid = (lo + hi) >> 1; if (START[mid] <= f) lo = mid + 1; else hi = mid; }
    var k = lo - 1;
    if (k >= C.start && f < END[k]) {
      chain.push(k);
      if (childOf[k] >= 0) return hit(childOf[k], (u - RX[k]) / RW[k], (v - RY[k]) / RH[k], chain);
      return { chain: chain, c: c };
    }
    // the largest aligned free block around the point
    var before = k >= C.start ? END[k] : 0, after = k + 1 < C.end ? START[k + 1] : 1;
    for (var e = 0; e <= depth; e++) {
      var size = Math.pow(2, -e), index = Math.floor(f / size), s = index * size;
      if (s >= before && s + size <= after) return { chain: chain, c: c, free: { depth: e, index: index } };
    }
    return { chain: chain, c: c, free: null };
  }

  function describe(result) {
    var rows = [], html = "";
    var k = result.chain.length ? result.chain[result.chain.length - 1] : -1;
    var C = DATA.cidrs[result.c], pool = DATA.pools[C.pool];
    if (result.free !== undefined) {
      html += "<div><b>" + (result.free ? escapeHtml(blockCidr(result.c, result.free.depth, result.free.index)) : "free") +
        "</b> free</div>";
      if (result.free) rows.push(["addresses", blockSize(result.c, result.free.depth)]);
      rows.push(["in pool", pool.label + " (" + pool.id + ")"]);
      rows.push(["pool cidr", C.cidr]);
    } else {
      var child = childOf[k];
      html += "<div><b>" + escapeHtml(allocationCidr(k)) + "</b> " +
        (child >= 0 ? "child pool cidr" : "allocation") + "</div>";
      rows.push(["id", allocationId(k)]);
      rows.push(["description", DATA.strings[A.desc[k]] || "—"]);
      rows.push(["tags", tagsText(allocationTags(k))]);
      rows.push(["created", created(k)]);
      rows.push(["actor", DATA.strings[A.actor[k]] || "—"]);
      var owner = DATA.pools[DATA.cidrs[cidrOfAlloc[k]].pool];
      rows.push(["pool", owner.label + " (" + owner.id + ")"]);
      if (child >= 0) {
        var cp = DATA.pools[DATA.cidrs[child].pool];
        rows.push(["child pool", cp.label + " (" + cp.id + ")"]);
      }
    }
    html += '<div class="kv">' + rows.map(function (r) {
      return "<span>" + escapeHtml(r[0]) + "</span><span>" + escapeHtml(r[1]) + "</span>";
    }).join("") + "</div>";
    return html;
  }

  var tooltip = document.getElementById("tooltip");
  var details = document.getElementById("details");
  function pointer(t, event) {
    var r = t.canvas.getBoundingClientRect();
    var u = (event.clientX - r.left) / r.width, v = (event.clientY - r.top) / r.height;
    if (u < 0 || v < 0 || u >= 1 || v >= 1) return null;
    return hit(t.c, u, v, []);
  }
  function attach(t) {
    t.canvas.addEventListener("mousemove", function (event) {
      var result = pointer(t, event);
      if (!result) { tooltip.hidden = true; return; }
      tooltip.innerHTML = describe(result);
      tooltip.hidden = false;
      var x = event.clientX + 16, y = event.clientY + 16;
      if (x + tooltip.offsetWidth > innerWidth - 8) x = event.clientX - tooltip.offsetWidth - 12;
      if (y + tooltip.offsetHeight > innerHeight - 8) y = event.clientY - tooltip.offsetHeight - 12;
      tooltip.style.left = x + "px";
      tooltip.style.top = y + "px";
    });
    t.canvas.addEventListener("mouseleave", function () { tooltip.hidden = true; });
    t.canvas.addEventListener("click", function (event) {
      var result = pointer(t, event);
      if (!result) return;
      pin(result);
      // a click on a child pool's block goes to that pool's own picture
      var k = result.chain.length ? result.chain[0] : -1;
      if (k >= 0 && childOf[k] >= 0 && tileOfCidr[childOf[k]]) show(tileOfCidr[childOf[k]]);
    });
  }
  function pin(result) {
    details.innerHTML = describe(result);
    details.className = "card pinned";
  }
  function show(t) {
    t.figure.scrollIntoView({ behavior: "smooth", block: "center" });
    t.figure.classList.add("flash");
    setTimeout(function () { t.figure.classList.remove("flash"); }, 1200);
  }

  // ---- page ----------------------------------------------------------------------------------
  function buildTiles() {
    var box = document.getElementById("tiles");
    var order = [];
    DATA.ipams.forEach(function (ipam) {
      ipam.scopes.forEach(function (scope) {
        (function walk(pools) {
          pools.forEach(function (p) {
            DATA.pools[p].cidrs.forEach(function (c) { order.push(c); });
            walk(DATA.pools[p].children);
          });
        })(scope.roots);
      });
    });
    order.forEach(function (c) {
      var C = DATA.cidrs[c], pool = DATA.pools[C.pool];
      var figure = el("figure", "tile");
      figure.dataset.poolId = pool.id;
      figure.dataset.poolCidrId = C.id;
      var caption = el("figcaption");
      var title = el("div", "title");
      var sw = el("span", "swatch");
      sw.style.background = pool.color;
      title.appendChild(sw);
      title.appendChild(el("span", "", pool.label));
      title.appendChild(el("span", "cidr", C.cidr));
      caption.appendChild(title);
      var n = countAllocations(c), p = percent(C.used, C.total);
      caption.appendChild(el("div", "meta", pctText(p) + " used · " + amount(C, C.used) + " of " + amount(C, C.total) + unit(C) +
        " · " + fmt(n) + " allocation" + (n === 1 ? "" : "s") + " · " + amount(C, C.free) + " free · " + pool.id));
      figure.appendChild(caption);
      var canvas = el("canvas");
      var wide = C.hostBits % 2 === 1;
      canvas.width = TILE;
      canvas.height = wide ? TILE / 2 : TILE;
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", pool.label + " " + C.cidr);
      figure.appendChild(canvas);
      box.appendChild(figure);
      var t = { c: c, canvas: canvas, W: canvas.width, H: canvas.height, figure: figure };
      tiles.push(t);
      tileOfCidr[c] = t;
    });
    if (!order.length) box.appendChild(el("div", "card muted", "Nothing to draw: no CIDR is provisioned in any pool of this map."));
    // the first tiles at once; with many pools, the others when they scroll into view
    var EAGER = 12;
    var observer = window.IntersectionObserver && tiles.length > EAGER ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var t = tiles[+entry.target.dataset.tile];
        if (entry.isIntersecting && !t.drawn) { drawTile(t); observer.unobserve(entry.target); }
      });
    }, { rootMargin: "400px" }) : null;
    tiles.forEach(function (t, n) {
      attach(t);
      t.figure.dataset.tile = n;
      if (observer && n >= EAGER) observer.observe(t.figure); else drawTile(t);
    });
  }

  function node(kind, name, sub, used, total, color, cls) {
    var row = el("div", "node " + (cls || ""));
    var nameBox = el("div", "name");
    if (color) { var sw = el("span", "swatch"); sw.style.background = color; nameBox.appendChild(sw); }
    if (kind) nameBox.appendChild(el("span", "kind", kind));
    nameBox.appendChild(document.createTextNode(name));
    nameBox.title = name;
    row.appendChild(nameBox);
    if (total !== null) {
      var p = percent(used, total), bar = el("div", "bar"), fill = el("div", barClass(p));
      fill.style.width = Math.min(100, p).toFixed(2) + "%";
      bar.appendChild(fill);
      bar.title = bigText(used) + " of " + bigText(total) + " addresses used";
      row.appendChild(bar);
      row.appendChild(el("div", "pct", pctText(p)));
    }
    if (sub) row.appendChild(el("div", "sub", sub));
    return row;
  }

  function buildTree() {
    var root = el("ul");
    DATA.ipams.forEach(function (ipam) {
      var li = el("li", "ipam");
      li.dataset.ipamId = ipam.id;
      li.appendChild(node("ipam", ipam.description || ipam.id, ipam.description ? ipam.id : null, 0, null));
      var scopes = el("ul");
      ipam.scopes.forEach(function (scope) {
        var sli = el("li", "scope");
        sli.dataset.scopeId = scope.id;
        sli.appendChild(node(scope.kind + " scope", scope.description || (scope.default ? "default" : scope.id), scope.id, 0, null));
        sli.appendChild(poolList(scope.roots));
        scopes.appendChild(sli);
      });
      li.appendChild(scopes);
      root.appendChild(li);
    });
    document.getElementById("tree").appendChild(root);
  }

  function poolList(indices) {
    var ul = el("ul");
    indices.forEach(function (p) {
      var pool = DATA.pools[p], li = el("li", "pool");
      li.dataset.poolId = pool.id;
      var n = pool.cidrs.reduce(function (s, c) { return s + countAllocations(c); }, 0);
      var sub = pool.family + " · " + fmt(n) + " allocation" + (n === 1 ? "" : "s") +
        (pool.children.length ? " · " + pool.children.length + " child pool" + (pool.children.length === 1 ? "" : "s") : "") +
        (pool.netmask ? " · " + pool.netmask : "") + (pool.locale ? " · " + pool.locale : "") +
        (Object.keys(pool.tags).length ? " · " + tagsText(pool.tags) : "");
      var row = node("", pool.label, sub, pool.used, pool.total, pool.color, "pool-node");
      row.title = pool.id;
      row.addEventListener("click", function () { if (pool.cidrs.length) show(tileOfCidr[pool.cidrs[0]]); });
      li.appendChild(row);
      var cul = el("ul");
      pool.cidrs.forEach(function (c) {
        var C = DATA.cidrs[c], cli = el("li", "pool-cidr");
        cli.dataset.poolCidrId = C.id;
        var r = node("", C.cidr, null, C.used, C.total, null, "cidr-node");
        r.addEventListener("click", function () { show(tileOfCidr[c]); });
        cli.appendChild(r);
        cul.appendChild(cli);
      });
      if (pool.cidrs.length) li.appendChild(cul);
      if (pool.children.length) li.appendChild(poolList(pool.children));
      ul.appendChild(li);
    });
    return ul;
  }

  function buildLegend() {
    var box = document.getElementById("legend");
    var shown = DATA.legend.slice(0, 24);
    shown.forEach(function (entry) {
      var key = el("span", "key"), sw = el("span", "swatch");
      sw.style.background = entry[2];
      key.appendChild(sw);
      key.appendChild(document.createTextNode(entry[0]));
      if (entry[1]) key.title = entry[1];
      box.appendChild(key);
    });
    if (DATA.legend.length > shown.length) box.appendChild(el("span", "key muted", "+" + (DATA.legend.length - shown.length) + " more"));
    [["free", "free space"], ["child", "child pool"], ["agg", "blocks under a pixel (stronger = fuller)"]].forEach(function (e) {
      var key = el("span", "key muted"), sw = el("span", "swatch " + e[0]);
      key.appendChild(sw);
      key.appendChild(document.createTextNode(e[1]));
      box.appendChild(key);
    });
  }

  function buildSample() {
    var list = document.getElementById("allocation-sample");
    var own = [];
    for (var k = 0; k < N; k++) if (childOf[k] < 0) own.push(k);
    var m = Math.min(own.length, 200);
    for (var j = 0; j < m; j++) {
      var kk = own[Math.floor(j * own.length / m)];
      var li = el("li", "allocation", allocationCidr(kk) + "  " + (DATA.strings[A.desc[kk]] || allocationId(kk)));
      li.dataset.allocationId = allocationId(kk);
      li.dataset.cidr = allocationCidr(kk);
      li.dataset.poolId = DATA.pools[DATA.cidrs[cidrOfAlloc[kk]].pool].id;
      list.appendChild(li);
    }
    document.getElementById("sample-title").textContent = "Sample of allocations: " + fmt(m) + " of " + fmt(own.length);
  }

  buildLegend();
  buildTree();
  buildTiles();
  buildSample();
  // map.html#pin=TILE,U,V pins what lies at (U, V) of tile TILE (fractions of its width and
  // height), as a click there would: a link to one block, and how the tests check the details
  var probe = /^#pin=(\d+),([0-9.]+),([0-9.]+)$/.exec(location.hash);
  if (probe && tiles[+probe[1]]) pin(hit(tiles[+probe[1]].c, +probe[2], +probe[3], []));
  var scopes = DATA.ipams.reduce(function (s, i) { return s + i.scopes.length; }, 0);
  function plural(n, word) { return fmt(n) + " " + word + (n === 1 ? "" : "s"); }
  document.getElementById("stats").textContent = [plural(DATA.ipams.length, "ipam"), plural(scopes, "scope"),
    plural(DATA.pools.length, "pool"), plural(DATA.cidrs.length, "pool CIDR"), plural(DATA.allocationCount, "allocation"),
    "generated " + DATA.generated, DATA.colorBy ? "coloured by tag " + DATA.colorBy : "coloured by pool"].join(" · ");
  var summary = document.getElementById("map-summary");
  summary.dataset.pools = DATA.pools.length;
  summary.dataset.poolCidrs = DATA.cidrs.length;
  summary.dataset.allocations = DATA.allocationCount;
  summary.dataset.drawnBlocks = drawnBlocks;
  summary.dataset.aggregatedBlocks = aggregatedBlocks;
  summary.dataset.renderMs = performance.now().toFixed(1);
})();
