/*
 * dlnotes-graph: draws the knowledge graph (the 知识图谱 page, `.dl-graph`) and the
 * small graph of neighbours under each page's backlinks (`.dl-graph--local`) with
 * Cytoscape.js, served by the site itself. Data: assets/graph.json, written by the
 * plugin at every build. Pan and zoom with the mouse, click a note to open it,
 * hover to highlight its neighbours. Follows Material's light/dark scheme.
 */
(function () {
  "use strict";
  var boxes = document.querySelectorAll(".dl-graph");
  if (!boxes.length) return;
  var me = document.currentScript;
  var assets = me ? me.src.replace(/dlnotes\/graph\.js(\?.*)?$/, "") : null;
  var config = document.getElementById("__config");
  var base = config ? JSON.parse(config.textContent).base : ".";
  var root = new URL((base || ".") + "/", window.location.href);

  function loadCytoscape() {
    if (window.cytoscape) return Promise.resolve(window.cytoscape);
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = (assets || root.href + "assets/") + "vendor/cytoscape/cytoscape.min.js";
      s.onload = function () { resolve(window.cytoscape); };
      s.onerror = function () { reject(new Error("cytoscape.min.js did not load")); };
      document.head.appendChild(s);
    });
  }

  // Material's colours are custom properties such as hsla(var(--md-hue), ...):
  // let the browser resolve them on a probe element.
  function cssColor(variable, fallback) {
    var probe = document.createElement("span");
    probe.style.color = "var(" + variable + ", " + fallback + ")";
    probe.style.display = "none";
    document.body.appendChild(probe);
    var value = window.getComputedStyle(probe).color;
    probe.remove();
    return value || fallback;
  }

  function colors() {
    return {
      fg: cssColor("--md-default-fg-color", "#000"),
      light: cssColor("--md-default-fg-color--lighter", "#999"),
      bg: cssColor("--md-default-bg-color", "#fff"),
      accent: cssColor("--md-accent-fg-color", "#526cfe")
    };
  }

  function style(local) {
    var c = colors();
    return [
      {selector: "node", style: {
        "background-color": "data(color)",
        "width": "data(size)", "height": "data(size)",
        "label": "data(label)", "color": c.fg, "font-size": local ? 11 : 12,
        "text-valign": "bottom", "text-margin-y": 4,
        "text-outline-color": c.bg, "text-outline-width": 2,
        "min-zoomed-font-size": local ? 0 : 8
      }},
      {selector: "node[open > 0]", style: {
        "border-width": 3, "border-color": "#e53935", "border-style": "double"
      }},
      {selector: "node.dl-current", style: {"border-width": 4, "border-color": c.fg}},
      {selector: "edge", style: {
        "width": 1.2, "line-color": c.light, "curve-style": "straight",
        "target-arrow-shape": "triangle", "target-arrow-color": c.light,
        "arrow-scale": 0.7, "opacity": 0.8
      }},
      {selector: ".dl-faded", style: {"opacity": 0.15}},
      {selector: "node.dl-hover", style: {"border-width": 3, "border-color": c.accent}},
      {selector: "edge.dl-near", style: {
        "line-color": c.accent, "target-arrow-color": c.accent, "width": 2, "opacity": 1
      }}
    ];
  }

  function elements(data, focus) {
    var keep = null;
    if (focus) {
      keep = {};
      keep[focus] = true;
      data.edges.forEach(function (e) {
        if (e.source === focus) keep[e.target] = true;
        if (e.target === focus) keep[e.source] = true;
      });
    }
    var els = [];
    data.nodes.forEach(function (n) {
      if (keep && !keep[n.id]) return;
      var size = 14 + 7 * Math.sqrt(n.degree);
      els.push({group: "nodes", data: {
        id: n.id, label: n.open ? n.label + " ?" : n.label, url: n.url,
        color: n.color, size: size, open: n.open, section: n.section
      }, classes: n.id === focus ? "dl-current" : ""});
    });
    data.edges.forEach(function (e) {
      if (keep && !(keep[e.source] && keep[e.target])) return;
      els.push({group: "edges", data: {
        id: e.source + "->" + e.target, source: e.source, target: e.target
      }});
    });
    return els;
  }

  function legend(box, data) {
    var list = document.createElement("ul");
    list.className = "dl-graph__legend";
    data.topics.forEach(function (t) {
      var item = document.createElement("li");
      var dot = document.createElement("span");
      dot.className = "dl-graph__dot";
      dot.style.backgroundColor = t.color;
      item.appendChild(dot);
      item.appendChild(document.createTextNode(t.section));
      list.appendChild(item);
    });
    var open = document.createElement("li");
    var ring = document.createElement("span");
    ring.className = "dl-graph__dot dl-graph__dot--open";
    open.appendChild(ring);
    open.appendChild(document.createTextNode("有未解决的疑问（?）"));
    list.appendChild(open);
    box.parentNode.insertBefore(list, box.nextSibling);
  }

  function draw(cytoscape, box, data) {
    var local = box.classList.contains("dl-graph--local");
    var focus = local ? box.dataset.page : null;
    var els = elements(data, focus);
    if (local && els.length < 2) { box.hidden = true; return; }
    var cy = cytoscape({
      container: box,
      elements: els,
      style: style(local),
      layout: local
        ? {name: "concentric", concentric: function (n) { return n.id() === focus ? 2 : 1; },
           levelWidth: function () { return 1; }, animate: false, padding: 20}
        : {name: "cose", animate: false, randomize: false, nodeRepulsion: function () { return 9000; },
           idealEdgeLength: function () { return 80; }, padding: 30},
      minZoom: 0.1, maxZoom: 4, wheelSensitivity: 0.3
    });
    box.dlGraph = cy;
    box.dataset.ready = "true";
    cy.on("tap", "node", function (evt) {
      var url = evt.target.data("url");
      if (url !== undefined) window.location.href = new URL(url, root).href;
    });
    cy.on("mouseover", "node", function (evt) {
      var near = evt.target.closedNeighborhood();
      cy.elements().not(near).addClass("dl-faded");
      evt.target.addClass("dl-hover");
      near.edges().addClass("dl-near");
      box.style.cursor = "pointer";
    });
    cy.on("mouseout", "node", function () {
      cy.elements().removeClass("dl-faded dl-hover dl-near");
      box.style.cursor = "";
    });
    new MutationObserver(function () { cy.style(style(local)); })
      .observe(document.body, {attributes: true, attributeFilter: ["data-md-color-scheme"]});
    if (!local) legend(box, data);
  }

  Promise.all([
    loadCytoscape(),
    fetch(new URL("assets/graph.json", root).href).then(function (r) {
      if (!r.ok) throw new Error("graph.json: HTTP " + r.status);
      return r.json();
    })
  ]).then(function (got) {
    boxes.forEach(function (box) { draw(got[0], box, got[1]); });
  }).catch(function (err) {
    boxes.forEach(function (box) {
      box.classList.add("dl-graph--error");
      box.textContent = "知识图谱无法加载：" + err.message;
    });
  });
})();
