/* onemap 一张图 — the browser side of the map views.
 *
 * The page holds no features: each visible overlay asks the server for what lies in the viewport at the current
 * zoom (/map/data), so a banner-sized dataset loads as fast as a village. A layer too large even for that (the
 * server marks it with a tile URL, maps/tiling.py) is drawn from its vector tiles, a canvas per tile, in the same
 * colours and with the same popups. A standalone export instead carries its features in the page (config.embedded)
 * and needs no server at all.
 */
(function () {
  "use strict";

  const SEVERITY_ORDER = ["fatal", "injury", "property"];
  // How near (screen pixels) a click must fall to a tiled line or point to pick it.
  const PICK_PX = 8;

  // leaflet.heat 0.2.0 keeps a redraw scheduled after its layer leaves the map, and redraws on new data without a
  // map: switching a heat map off while it loads then throws. A heat layer off the map does nothing until it is back.
  if (L.HeatLayer) {
    const heatRemove = L.HeatLayer.prototype.onRemove;
    const heatRedraw = L.HeatLayer.prototype.redraw;
    L.HeatLayer.include({
      onRemove(map) {
        if (this._frame) L.Util.cancelAnimFrame(this._frame);
        this._frame = null;
        heatRemove.call(this, map);
      },
      redraw() {
        return this._map ? heatRedraw.call(this) : this;
      },
    });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function bboxOf(map) {
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    return [
      clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
      clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90),
    ].map((v) => v.toFixed(6)).join(",");
  }

  /* Icons are drawn with CSS and a single Chinese character: no icon font or image to fetch. */
  function glyphIcon(color, glyph) {
    return L.divIcon({
      className: "om-glyph",
      html: `<span style="background:${color}">${glyph}</span>`,
      iconSize: [22, 22],
      iconAnchor: [11, 11],
      popupAnchor: [0, -11],
    });
  }

  function countIcon(count, color) {
    const size = count < 10 ? 26 : count < 100 ? 32 : count < 1000 ? 38 : 44;
    return L.divIcon({
      className: "om-count",
      html: `<span style="background:${color};width:${size}px;height:${size}px;line-height:${size}px">${count}</span>`,
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2],
    });
  }

  class Overlay {
    constructor(app, spec) {
      this.app = app;
      this.spec = spec;
      this.symbol = spec.symbol;
      this.group = window[spec.fg];
      this.tiled = Boolean(spec.tiles);
      this.content = this.tiled ? this.tileLayer() : this.makeContent();
      this.group.addLayer(this.content);
      this.hiddenNote = null;
    }

    makeContent() {
      if (this.spec.heat) {
        return L.heatLayer([], { radius: 28, blur: 22, maxZoom: 16, minOpacity: 0.35 });
      }
      if (this.symbol.cluster) {
        return L.markerClusterGroup({
          chunkedLoading: true,
          showCoverageOnHover: false,
          maxClusterRadius: 45,
          iconCreateFunction: (cluster) => {
            const keys = cluster.getAllChildMarkers().map((m) => m.options.omKey);
            const worst = SEVERITY_ORDER.find((k) => keys.includes(k)) || keys[0];
            return countIcon(cluster.getChildCount(), this.symbol.colors[worst] || "#555");
          },
        });
      }
      return L.featureGroup();
    }

    /* The layer's vector tiles painted by protomaps-leaflet, styled as featureLayers() styles GeoJSON. Data tiles
     * are a zoom level coarser than the screen's and 512 pixels wide (the library's default), which is what the
     * server simplifies them for; past zoom 16 the zoom-16 tiles are drawn larger. */
    tileLayer() {
      const s = this.symbol;
      const layer = this.spec.layer;
      // Two parameters: the library calls a styling function per feature only when it declares both.
      const color = (zoom, feature) => this.color(this.keyOf(feature.props));
      const outline = new protomapsL.LineSymbolizer({ color, width: s.weight, opacity: 0.9 });
      let symbolizers = [outline];
      if (s.shape === "area") {
        symbolizers = [new protomapsL.PolygonSymbolizer({ fill: color, opacity: s.fillOpacity }), outline];
      } else if (s.shape === "circle") {
        symbolizers = [
          new protomapsL.CircleSymbolizer({ radius: s.radius, fill: color, stroke: "#333", width: 1, opacity: 0.9 }),
        ];
      }
      return protomapsL.leafletLayer({
        url: this.spec.tiles,
        paintRules: symbolizers.map((symbolizer) => ({ dataLayer: layer, symbolizer })),
        labelRules: [],
        maxDataZoom: 16,
        minZoom: s.minZoom,
        pane: s.shape === "area" ? "om-areas" : "overlayPane",
        className: `om-tiles om-tiles-${layer}`,
        attribution: "",
      });
    }

    /* A tiled feature's legend category, from the one property that decides it (maps/symbols.py). */
    keyOf(props) {
      const field = this.symbol.field;
      return field ? String(props[field] || this.symbol.fallback) : "";
    }

    /* The id of the tiled feature under a click, or null: the top-most of the layer's features there. */
    featureAt(latlng) {
      if (!this.tiled || !this.visible || this.app.map.getZoom() < this.symbol.minZoom) return null;
      const picked = this.content.queryTileFeaturesDebug(latlng.lng, latlng.lat, PICK_PX);
      let fid = null;
      for (const features of picked.values()) {
        for (const p of features) if (p.layerName === this.spec.layer && p.feature.id !== undefined) fid = p.feature.id;
      }
      return fid;
    }

    get visible() {
      return this.app.map.hasLayer(this.group);
    }

    /* Looked up as the config's own keys only: a feature's category is data, and "constructor" is no colour. */
    color(key) {
      const colors = this.symbol.colors;
      return (Object.hasOwn(colors, key) && colors[key]) || colors[""] || "#3388ff";
    }

    draw(body) {
      const s = this.symbol;
      this.hiddenNote = body.hidden || null;
      if (this.spec.heat) {
        const points = body.features.map((f) => {
          const [x, y] = f.geometry.coordinates;
          return [y, x, f.properties.w || 1];
        });
        this.content.setLatLngs(points);
        return;
      }
      this.content.clearLayers();
      // The legend lists only the categories in view (all of them when points arrive grouped).
      this.seen = new Set(body.features.map((f) => f.properties.k).filter((k) => k !== undefined));
      if (body.grouped) this.seen = null;
      const layers = [];
      for (const f of body.features) {
        if (f.properties.count !== undefined) {
          const [x, y] = f.geometry.coordinates;
          const marker = L.marker([y, x], { icon: countIcon(f.properties.count, this.color("")) });
          marker.bindTooltip(el("span", "", `${this.spec.title}：${f.properties.count} 个（放大查看）`));
          marker.on("click", () => this.app.map.setView([y, x], this.app.map.getZoom() + 2));
          layers.push(marker);
          continue;
        }
        layers.push(...this.featureLayers(f));
      }
      if (this.content.addLayers) this.content.addLayers(layers);
      else layers.forEach((l) => this.content.addLayer(l));
    }

    featureLayers(f) {
      const s = this.symbol;
      const key = f.properties.k;
      const color = this.color(key);
      const out = [];
      const geo = L.geoJSON(f, {
        pane: s.shape === "area" ? "om-areas" : "overlayPane",
        style: () => ({
          color: s.shape === "area" ? color : color,
          weight: s.weight,
          fillColor: color,
          fillOpacity: s.shape === "area" ? s.fillOpacity : 0.8,
          opacity: 0.9,
        }),
        pointToLayer: (_, latlng) => {
          if (s.shape === "icon") {
            const glyph = (Object.hasOwn(s.glyphs, key) && s.glyphs[key]) || "●";
            return L.marker(latlng, { icon: glyphIcon(color, glyph), omKey: key });
          }
          if (s.cluster) {
            const dot = L.divIcon({ className: "om-dot", html: `<span style="background:${color}"></span>`, iconSize: [12, 12] });
            return L.marker(latlng, { icon: dot, omKey: key });
          }
          // A click on a point is about that feature, not a click on the map (the emergency view's incident pick).
          return L.circleMarker(latlng, {
            radius: s.radius, color: "#333", weight: 1, fillColor: color, fillOpacity: 0.9, bubblingMouseEvents: false,
          });
        },
      });
      geo.eachLayer((layer) => {
        if (f.properties.n) layer.bindTooltip(el("span", "", f.properties.n), { sticky: s.shape !== "icon" && s.shape !== "circle" });
        layer.bindPopup(() => this.popup(f, layer), { maxWidth: 360, minWidth: 240 });
        out.push(layer);
      });
      return out;
    }

    /* The popup's content: inline in an export, else fetched; `show` puts the fetched HTML in place. That HTML is
     * the server's (maps/popups.py), which escapes every value from the data; text from the data that this script
     * shows itself (names, search results, the incident panel) always goes in as textContent, through el(). */
    popup(f, layer, show = (html) => layer.setPopupContent(html)) {
      if (f.properties.popup) return f.properties.popup;
      const box = el("div", "om-popup om-loading", "加载中…");
      fetch(`${this.app.cfg.popupUrl}/${this.spec.layer}/${f.properties.fid}`)
        .then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText))))
        .then(show)
        .catch(() => show('<div class="om-popup">无法加载详情，请稍后重试</div>'));
      return box;
    }
  }

  class App {
    constructor(map, cfg) {
      // Without tiles Leaflet knows no zoom range, and marker clustering needs one.
      if (map.options.maxZoom === undefined) map.setMaxZoom(19);
      if (map.options.minZoom === undefined) map.setMinZoom(5);
      this.map = map;
      this.cfg = cfg;
      // Filled areas lie beneath lines and points, so a coloured village never covers the sources in it.
      map.createPane("om-areas").style.zIndex = 350;
      this.overlays = cfg.overlays.map((spec) => new Overlay(this, spec));
      this.pending = new Map();
      if (cfg.localBasemap) this.basemap();
      if (cfg.village) this.cropToVillage();
      else if (cfg.bounds) {
        const [w, s, e, n] = cfg.bounds;
        map.fitBounds([[s, w], [n, e]], { animate: false });
      }
      L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
      this.legend = this.addLegend();
      this.addTitle();
      this.addNotice();
      this.addSearch();
      if (cfg.reportUrl && !cfg.embedded) this.addReport();
      if (cfg.panel === "near") this.addNear();
      // Ahead of Leaflet (the capture phase): a tiled feature is not an element of its own, and the area beneath
      // it (a village, say) would otherwise take the click.
      if (this.overlays.some((o) => o.tiled)) {
        map.getContainer().addEventListener("click", (event) => this.tiledClick(event), true);
      }
      const refresh = () => this.refresh();
      // A redraw would close the popup being read (and popups pan the map when they open): wait until it closes.
      map.on("popupopen", () => { this.reading = true; });
      map.on("popupclose", () => {
        this.reading = false;
        if (this.stale) refresh();
      });
      map.on("moveend", refresh);
      map.on("overlayadd", refresh);
      map.on("overlayremove", () => this.renderLegend());
      this.refresh();
    }

    /* ---- data -------------------------------------------------------------------------------------------- */

    /* One request per layer and viewport: a layer's heat map and its markers share it. */
    load(layer, zoom, batch) {
      if (this.cfg.embedded) {
        return Promise.resolve(this.cfg.embedded[layer] || { features: [] });
      }
      if (batch.has(layer)) return batch.get(layer);
      const shift = this.cfg.shift ? "&shift=gcj02" : "";
      const url = `${this.cfg.dataUrl}/${layer}?bbox=${bboxOf(this.map)}&zoom=${Math.round(zoom)}${shift}`;
      if (this.pending.has(layer)) this.pending.get(layer).abort();
      const controller = new AbortController();
      this.pending.set(layer, controller);
      const promise = fetch(url, { signal: controller.signal })
        .then((r) => (r.ok ? r.json() : r.json().then((e) => Promise.reject(new Error(e.description)))))
        .finally(() => {
          if (this.pending.get(layer) === controller) this.pending.delete(layer);
        });
      batch.set(layer, promise);
      return promise;
    }

    refresh() {
      this.stale = this.reading;
      if (this.reading) return;
      const zoom = this.map.getZoom();
      const generation = (this.generation = (this.generation || 0) + 1);
      const batch = new Map();
      const jobs = [];
      for (const overlay of this.overlays) {
        if (overlay.tiled) {
          // Its grid layer fetches its own tiles; the legend says when it is too far out to draw.
          overlay.hiddenNote = zoom < overlay.symbol.minZoom ? `放大到 ${overlay.symbol.minZoom} 级后显示` : null;
          continue;
        }
        if (!overlay.visible || overlay.spec.locked) continue;
        if (this.cfg.embedded && overlay.loaded) continue;
        jobs.push(
          this.load(overlay.spec.layer, zoom, batch)
            .then((body) => { overlay.draw(body); overlay.loaded = true; })
            .catch((err) => { if (err.name !== "AbortError") this.status(`加载${overlay.spec.title}失败：${err.message}`); })
        );
      }
      if (this.base) jobs.push(this.refreshBasemap(zoom, batch));
      Promise.all(jobs).then(() => {
        // A newer refresh (the user moved on) supersedes this one: only the latest counts as drawn.
        if (generation !== this.generation) return;
        this.renderLegend();
        document.body.dataset.omReady = String(Number(document.body.dataset.omReady || 0) + 1);
      });
    }

    /* A click on a tiled feature opens its popup, as a click on a GeoJSON feature does, and goes no further. What
     * lies above the tiles keeps its clicks: GeoJSON markers, lines and points (filled areas lie beneath), controls
     * and popups; so does picking a place for a public report, and the end of a drag. */
    tiledClick(event) {
      if (this.picking || (this.map.dragging && this.map.dragging.moved())) return;
      const target = event.target.closest
        ? event.target.closest(".leaflet-interactive, .leaflet-popup-pane, .leaflet-control-container") : null;
      if (target && !target.closest(".leaflet-om-areas-pane")) return;
      const latlng = this.map.mouseEventToLatLng(event);
      for (const overlay of [...this.overlays].reverse()) {
        const fid = overlay.featureAt(latlng);
        if (fid === null) continue;
        event.stopPropagation();
        const popup = L.popup({ maxWidth: 360, minWidth: 240 }).setLatLng(latlng);
        popup.setContent(overlay.popup({ properties: { fid } }, null, (html) => popup.setContent(html)));
        popup.openOn(this.map);
        return;
      }
    }

    status(text) {
      if (!this.statusBox) return;
      this.statusBox.textContent = text;
    }

    /* ---- offline basemap: villages, roads and old settlements in quiet colours ---------------------------- */

    basemap() {
      const pane = this.map.createPane("om-basemap");
      pane.style.zIndex = 250;
      this.map.getContainer().classList.add("om-offline");
      this.base = {
        villages: L.featureGroup([], { pane: "om-basemap" }).addTo(this.map),
        roads: L.featureGroup([], { pane: "om-basemap" }).addTo(this.map),
        old_settlements: L.featureGroup([], { pane: "om-basemap" }).addTo(this.map),
      };
      this.baseLoaded = {};
    }

    refreshBasemap(zoom, batch) {
      const styles = {
        villages: { color: "#c9bfae", weight: 1, fillColor: "#f4f0e6", fillOpacity: 1 },
        old_settlements: { color: "#e0d2bd", weight: 0.5, fillColor: "#ece2d0", fillOpacity: 1 },
        roads: { color: "#ffffff", weight: zoom >= 14 ? 5 : 3, opacity: 1 },
      };
      const jobs = Object.entries(this.base).map(([layer, group]) => {
        if (this.cfg.embedded && this.baseLoaded[layer]) return Promise.resolve();
        return this.load(layer, zoom, batch).then((body) => {
          group.clearLayers();
          L.geoJSON(body, { pane: "om-basemap", style: styles[layer], interactive: false }).addTo(group);
          if (layer === "villages" && zoom >= 12) {
            for (const f of body.features) {
              const centre = L.geoJSON(f).getBounds().getCenter();
              L.marker(centre, {
                pane: "om-basemap", interactive: false,
                icon: L.divIcon({ className: "om-place", html: el("span", "", f.properties.n), iconSize: [100, 16], iconAnchor: [50, 8] }),
              }).addTo(group);
            }
          }
          this.baseLoaded[layer] = true;
        }).catch((err) => { if (err.name !== "AbortError") this.status(`加载底图失败：${err.message}`); });
      });
      return Promise.all(jobs);
    }

    cropToVillage() {
      // The village view's panel takes the right of the page; a village map without one keeps the full width.
      if (document.getElementById("om-village-panel")) document.body.classList.add("om-with-panel");
      this.map.invalidateSize();
      const [w, s, e, n] = this.cfg.village.bounds;
      const bounds = L.latLngBounds([s, w], [n, e]);
      this.map.fitBounds(bounds, { padding: [10, 10], animate: false });
      this.map.setMaxBounds(bounds.pad(0.25));
    }

    /* ---- controls ------------------------------------------------------------------------------------------- */

    addTitle() {
      const Title = L.Control.extend({
        onAdd: () => {
          const box = el("div", "om-title om-box");
          box.appendChild(el("div", "om-title-main", this.cfg.title));
          box.appendChild(el("div", "om-title-sub", this.cfg.audience));
          const nav = el("div", "om-nav");
          for (const link of this.cfg.links || []) {
            const a = el("a", link.current ? "om-current" : "", link.title);
            a.href = link.href;
            nav.appendChild(a);
          }
          box.appendChild(nav);
          if (!this.cfg.embedded) box.appendChild(this.account());
          this.statusBox = el("div", "om-status");
          box.appendChild(this.statusBox);
          L.DomEvent.disableClickPropagation(box);
          return box;
        },
      });
      new Title({ position: "topleft" }).addTo(this.map);
    }

    /* Sign-in for the ledger: the server sets an HttpOnly cookie, the page reloads with what the user may see. */
    account() {
      const box = el("div", "om-account");
      if (this.cfg.user) {
        box.appendChild(el("span", "", `${this.cfg.user.name}（${this.cfg.user.role}）`));
        const out = el("a", "", "退出");
        out.href = "#";
        out.addEventListener("click", (event) => {
          event.preventDefault();
          fetch(this.cfg.signOutUrl, { method: "POST" }).then(() => window.location.reload());
        });
        box.appendChild(out);
        return box;
      }
      const open = el("a", "om-sign-in-link", "登录查看隐患台账");
      open.href = "#";
      const form = el("form", "om-sign-in");
      form.hidden = true;
      const name = el("input");
      name.placeholder = "用户名";
      name.autocomplete = "username";
      const password = el("input");
      password.type = "password";
      password.placeholder = "密码";
      password.autocomplete = "current-password";
      const go = el("button", "", "登录");
      go.type = "submit";
      const message = el("div", "om-status");
      [name, password, go, message].forEach((node) => form.appendChild(node));
      open.addEventListener("click", (event) => {
        event.preventDefault();
        form.hidden = !form.hidden;
      });
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const body = new URLSearchParams({ username: name.value, password: password.value });
        fetch(this.cfg.signInUrl, { method: "POST", body })
          .then((r) => (r.ok ? window.location.reload() : r.json().then((e) => { message.textContent = e.description; })))
          .catch(() => { message.textContent = "网络错误，请稍后重试"; });
      });
      box.appendChild(open);
      box.appendChild(form);
      return box;
    }

    addNotice() {
      for (const text of [this.cfg.notice, ...(this.cfg.notes || [])]) {
        if (text) this.statusBox.parentNode.insertBefore(el("div", "om-notice", text), this.statusBox);
      }
    }

    addLegend() {
      const Legend = L.Control.extend({
        onAdd: () => {
          const box = el("div", "om-legend");
          L.DomEvent.disableClickPropagation(box);
          L.DomEvent.disableScrollPropagation(box);
          return box;
        },
      });
      const control = new Legend({ position: "bottomleft" });
      control.addTo(this.map);
      return control.getContainer();
    }

    renderLegend() {
      const box = this.legend;
      box.textContent = "";
      box.appendChild(el("div", "om-legend-title", "图例"));
      const seen = new Set();
      for (const overlay of this.overlays) {
        if (!overlay.visible || seen.has(overlay.spec.key)) continue;
        seen.add(overlay.spec.key);
        const section = el("div", "om-legend-section");
        section.appendChild(el("div", "om-legend-layer", overlay.spec.title));
        if (overlay.spec.heat) {
          section.appendChild(el("div", "om-legend-heat", "低 ▁▂▃▅▇ 高"));
        } else {
          // A legend that counts the whole map (the four-colour map) lists every row, in view or not.
          const rows = overlay.spec.fixedLegend ? overlay.spec.legend
            : overlay.spec.legend.filter((row) => !overlay.seen || !overlay.seen.size || overlay.seen.has(row.key));
          for (const row of rows) {
            const line = el("div", "om-legend-row");
            const swatch = el("span", `om-swatch om-${overlay.symbol.shape}`, row.glyph || "");
            swatch.style.background = row.color;
            line.appendChild(swatch);
            line.appendChild(el("span", "", row.label));
            section.appendChild(line);
          }
        }
        if (overlay.hiddenNote) section.appendChild(el("div", "om-legend-note", overlay.hiddenNote));
        if (overlay.spec.locked) section.appendChild(el("div", "om-legend-note", "登录后可见"));
        box.appendChild(section);
      }
    }

    addSearch() {
      const Search = L.Control.extend({
        onAdd: () => {
          const box = el("div", "om-search om-box");
          const input = el("input");
          input.type = "search";
          input.placeholder = "搜索村名、地名、隐患编号";
          input.setAttribute("aria-label", "搜索");
          const list = el("ul", "om-search-results");
          box.appendChild(input);
          box.appendChild(list);
          let timer = null;
          input.addEventListener("input", () => {
            clearTimeout(timer);
            timer = setTimeout(() => this.search(input.value.trim(), list), 250);
          });
          L.DomEvent.disableClickPropagation(box);
          L.DomEvent.disableScrollPropagation(box);
          return box;
        },
      });
      new Search({ position: "topleft" }).addTo(this.map);
    }

    search(query, list) {
      list.textContent = "";
      if (!query) return;
      const found = this.cfg.searchIndex
        ? Promise.resolve(this.cfg.searchIndex.filter((r) => r.name.includes(query) || (r.code || "").includes(query)).slice(0, 20))
        : fetch(`${this.cfg.searchUrl}?q=${encodeURIComponent(query)}`).then((r) => r.json()).then((b) => b.results);
      found.then((results) => {
        list.textContent = "";
        if (!results.length) list.appendChild(el("li", "om-empty", "没有找到"));
        for (const r of results) {
          const item = el("li");
          item.appendChild(el("b", "", r.name));
          item.appendChild(el("span", "", ` ${r.title}`));
          item.addEventListener("click", () => {
            const [w, s, e, n] = r.bounds;
            this.map.fitBounds([[s, w], [n, e]], { maxZoom: 17, padding: [40, 40] });
            list.textContent = "";
          });
          list.appendChild(item);
        }
      });
    }

    /* ---- public reports (群众举报): pick a place on the map, describe it, get a tracking code ---------------- */

    addReport() {
      const Report = L.Control.extend({
        onAdd: () => {
          const button = el("button", "om-report-button om-box", "我要举报隐患");
          button.type = "button";
          L.DomEvent.disableClickPropagation(button);
          button.addEventListener("click", () => {
            this.picking = true;
            this.map.getContainer().classList.add("om-picking");
            this.status("请在地图上点选隐患位置");
            this.map.once("click", (event) => {
              this.picking = false;
              this.map.getContainer().classList.remove("om-picking");
              this.status("");
              this.reportForm(event.latlng);
            });
          });
          return button;
        },
      });
      new Report({ position: "topleft" }).addTo(this.map);
    }

    reportForm(latlng) {
      const form = el("form", "om-report-form");
      form.appendChild(el("div", "om-popup-title", "举报隐患"));
      const text = el("textarea");
      text.required = true;
      text.minLength = 5;
      text.maxLength = 1000;
      text.placeholder = "请描述隐患情况（至少 5 个字）";
      const name = el("input");
      name.placeholder = "姓名（可不填）";
      const phone = el("input");
      phone.placeholder = "联系电话（可不填，仅工作人员可见）";
      const send = el("button", "", "提交");
      send.type = "submit";
      const result = el("div", "om-report-result");
      [text, name, phone, send, result].forEach((node) => form.appendChild(node));
      const popup = L.popup({ minWidth: 240 }).setLatLng(latlng).setContent(form).openOn(this.map);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        send.disabled = true;
        const body = {
          lon: Number(latlng.lng.toFixed(6)), lat: Number(latlng.lat.toFixed(6)), description: text.value.trim(),
          reporter: name.value.trim() || null, phone: phone.value.trim() || null,
        };
        if (this.cfg.shift) {
          result.textContent = "高德底图下不能直接举报，请切换到默认底图";
          return;
        }
        fetch(this.cfg.reportUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
          .then((r) => r.json().then((data) => ({ ok: r.ok, data })))
          .then(({ ok, data }) => {
            if (!ok) {
              send.disabled = false;
              result.textContent = `未能提交：${data.description}`;
              return;
            }
            form.textContent = "";
            form.appendChild(el("div", "om-popup-title", "已收到举报"));
            form.appendChild(el("div", "", "跟踪码（请保存，用于查询处理结果）："));
            form.appendChild(el("div", "om-report-code", data.code));
            popup.update();
          })
          .catch(() => { send.disabled = false; result.textContent = "网络错误，请稍后重试"; });
      });
    }

    /* ---- emergency: what lies near an incident ------------------------------------------------------------ */

    addNear() {
      const Panel = L.Control.extend({
        onAdd: () => {
          const box = el("div", "om-near");
          box.appendChild(el("div", "om-near-title", "事发点周边"));
          box.appendChild(el("div", "om-near-body", "在地图空白处单击，标出事发点，列出周边应急资源和风险源"));
          L.DomEvent.disableClickPropagation(box);
          L.DomEvent.disableScrollPropagation(box);
          return box;
        },
      });
      const panel = new Panel({ position: "bottomright" }).addTo(this.map).getContainer();
      this.nearLayer = L.featureGroup().addTo(this.map);
      this.map.on("click", (event) => {
        if (!this.picking) this.near(event.latlng, panel.querySelector(".om-near-body"));
      });
    }

    near(latlng, body) {
      const radius = this.cfg.nearRadius;
      this.nearLayer.clearLayers();
      L.circle(latlng, { radius, color: "#b30000", weight: 1, fillOpacity: 0.05, interactive: false }).addTo(this.nearLayer);
      L.circleMarker(latlng, { radius: 7, color: "#b30000", fillColor: "#fff", fillOpacity: 1 }).addTo(this.nearLayer);
      body.textContent = "查询中…";
      const shift = this.cfg.shift ? "&shift=gcj02" : "";
      fetch(`${this.cfg.nearUrl}?lon=${latlng.lng.toFixed(6)}&lat=${latlng.lat.toFixed(6)}&radius_m=${radius}${shift}`)
        .then((r) => (r.ok ? r.json() : r.json().then((e) => Promise.reject(new Error(e.description)))))
        .then((result) => {
          body.textContent = "";
          body.appendChild(el("div", "om-near-where", result.village ? `位于 ${result.village}` : "不在镇域内"));
          for (const section of result.sections) {
            body.appendChild(el("div", "om-near-section", `${section.title}（${section.items.length}）`));
            const list = el("ul");
            for (const item of section.items) {
              const how = item.minutes !== undefined ? "" : ` — ${Math.round(item.distance_m)} m`;
              list.appendChild(el("li", "", `${item.name}${how}${item.note ? "，" + item.note : ""}`));
              if (!item.location) continue;
              const [x, y] = item.location;
              L.polyline([latlng, [y, x]], { color: "#b30000", weight: 1, dashArray: "4 4", interactive: false }).addTo(this.nearLayer);
            }
            if (!section.items.length) list.appendChild(el("li", "om-empty", section.note || "无"));
            body.appendChild(list);
          }
        })
        .catch((err) => { body.textContent = `查询失败：${err.message}`; });
    }
  }

  window.OneMap = {
    start(map, cfg) {
      window.oneMap = new App(map, cfg);
      return window.oneMap;
    },
  };
})();
