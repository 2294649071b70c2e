/*
 * dlnotes search worker: Material's search worker with whole-term matching.
 *
 * Material (9.x) segments a Chinese query against the words of the index and ORs
 * the pieces, so 迁移学习 also finds every page with a lone 学 (and highlights each
 * one). This worker loads Material's own worker unchanged (its URL is passed as
 * ?material=...) and refines each result it posts back:
 *
 *  - a result must contain every term of the query as typed: a Chinese term as
 *    one contiguous string (the index's zero-width word breaks ignored), an
 *    English term as a substring, case-insensitively;
 *  - pages whose title holds the terms come first, then pages
 *    that use the terms most often, then the order of Material's scores;
 *  - the highlight marks the whole term, never its single characters.
 *
 * docs/overrides/main.html points Material's configuration at this file.
 */
(function () {
  "use strict";
  var SETUP = 0;
  var QUERY = 2;
  var RESULT = 3;
  var params = new URL(self.location.href).searchParams;
  var material = params.get("material");
  var lastQuery = "";

  function queryTerms(query) {
    return query
      .replace(/["+*~^]|(^|\s)-/g, " ")
      .split(/[\s\u3000，。、；：？！,;:]+/)
      .filter(function (t) { return t.length > 0; })
      .map(function (t) { return t.toLowerCase(); });
  }

  function plain(html) {
    return html
      .replace(/<[^>]*>/g, " ")
      .replace(/\u200b/g, "")
      .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"")
      .replace(/&#39;/g, "'").replace(/&amp;/g, "&")
      .toLowerCase();
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  function termPattern(terms) {
    // each character may be followed by the index's zero-width word break
    var alternatives = terms.map(function (term) {
      return Array.from(term).map(escapeRegExp).join("\u200b?");
    });
    return new RegExp("(" + alternatives.join("|") + ")", "gi");
  }

  function highlight(html, pattern) {
    var unmarked = html.replace(/<\/?mark[^>]*>/g, "");
    return unmarked.split(/(<[^>]*>)/).map(function (part, i) {
      if (i % 2 === 1) return part;
      return part.replace(pattern, "<mark>$1</mark>");
    }).join("");
  }

  // Every document of the index (from Material's setup message), by location.
  var docs = {};
  var order = [];

  function remember(setup) {
    docs = {};
    order = [];
    ((setup && setup.docs) || []).forEach(function (doc) {
      docs[doc.location] = {
        doc: doc,
        plain: plain((doc.title || "") + " " + (doc.text || "")),
        title: plain(doc.title || "")
      };
      order.push(doc.location);
    });
  }

  function holds(location, terms) {
    var entry = docs[location];
    return !!entry && terms.every(function (t) { return entry.plain.indexOf(t) >= 0; });
  }

  function excerpt(text, pattern) {
    // a window of the section's text around the first whole-term match
    var words = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ");
    pattern.lastIndex = 0;
    var m = pattern.exec(words);
    pattern.lastIndex = 0;
    if (!m) return "";
    var from = Math.max(0, m.index - 60);
    var to = Math.min(words.length, m.index + m[0].length + 120);
    var escape = function (x) {
      return x.replace(/&(?!\w+;|#\d+;)/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    };
    return (from > 0 ? "… " : "") + highlight(escape(words.slice(from, to)), pattern) +
      (to < words.length ? " …" : "");
  }

  function page(location) {
    return location.split("#")[0];
  }

  function item(location, base, pattern, found) {
    var doc = docs[location].doc;
    var copy = Object.assign({}, doc, base || {}, { score: base ? base.score : 0 });
    delete copy.parent;
    copy.title = highlight(doc.title || "", pattern);
    var shown = base && base.text ? base.text : "";
    copy.text = plain(shown).length && holds(location, Object.keys(found)) &&
      pattern.test(shown.replace(/<\/?mark[^>]*>/g, ""))
      ? highlight(shown, pattern)
      : excerpt(doc.text || "", pattern);
    pattern.lastIndex = 0;
    copy.terms = found;
    return copy;
  }

  function refine(result, query) {
    var terms = queryTerms(query);
    if (!terms.length || !result || !result.items) return result;
    var pattern = termPattern(terms);
    var found = {};
    terms.forEach(function (t) { found[t] = true; });
    var groups = {};
    var ranked = [];
    function group(ref) {
      if (!groups[ref]) {
        groups[ref] = { ref: ref, items: {}, rank: ranked.length, titled: false };
        ranked.push(groups[ref]);
      }
      return groups[ref];
    }
    // Material's results first, in its order, keeping what holds every term
    result.items.forEach(function (items) {
      items.forEach(function (it) {
        if (!holds(it.location, terms)) return;
        group(page(it.location)).items[it.location] = it;
      });
    });
    // then every other section that holds them (Material's OR query can miss some)
    order.forEach(function (location) {
      if (!holds(location, terms)) return;
      var g = group(page(location));
      if (!g.items[location]) g.items[location] = null;
    });
    var out = ranked.map(function (g) {
      if (docs[g.ref] && !(g.ref in g.items)) g.items[g.ref] = null;  // the page itself
      var list = Object.keys(g.items).filter(function (l) { return docs[l]; });
      g.titled = !!docs[g.ref] && terms.every(function (t) {
        return docs[g.ref].title.indexOf(t) >= 0;
      });
      // how often the page uses the terms: a page about them says them often
      g.count = list.reduce(function (n, l) {
        return n + terms.reduce(function (k, t) {
          return k + docs[l].plain.split(t).length - 1;
        }, 0);
      }, 0);
      var items = list.map(function (l) { return item(l, g.items[l], pattern, found); });
      items.sort(function (a, b) { return b.score - a.score; });
      g.list = items;
      return g;
    });
    out.sort(function (a, b) {
      return (b.titled - a.titled) || (b.count - a.count) || (a.rank - b.rank);
    });
    var refined = Object.assign({}, result);
    refined.items = out.map(function (g) { return g.list; });
    return refined;
  }

  var listen = self.addEventListener.bind(self);
  self.addEventListener = function (type, listener, options) {
    if (type !== "message") return listen(type, listener, options);
    return listen(type, function (ev) {
      if (ev.data && ev.data.type === SETUP) remember(ev.data.data);
      if (ev.data && ev.data.type === QUERY) lastQuery = String(ev.data.data || "");
      return listener(ev);
    }, options);
  };
  var post = self.postMessage.bind(self);
  self.postMessage = function (message, transfer) {
    if (message && message.type === RESULT) {
      message = { type: RESULT, data: refine(message.data, lastQuery) };
    }
    return transfer === undefined ? post(message) : post(message, transfer);
  };
  if (material) importScripts(material);
})();
