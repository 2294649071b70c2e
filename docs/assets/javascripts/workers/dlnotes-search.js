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
 *  - pages whose title or a section title holds the terms come first, then the
 *    order of Material's scores;
 *  - the highlight marks the whole term, never its single characters.
 *
 * docs/overrides/main.html points Material's configuration at this file.
 */
(function () {
  "use strict";
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
    var unmarked = html.replace(/<mark data-md-highlight>|<\/mark>/g, "");
    return unmarked.split(/(<[^>]*>)/).map(function (part, i) {
      if (i % 2 === 1) return part;
      return part.replace(pattern, "<mark data-md-highlight>$1</mark>");
    }).join("");
  }

  function contains(item, terms) {
    var text = plain((item.title || "") + " " + (item.text || ""));
    return terms.every(function (t) { return text.indexOf(t) >= 0; });
  }

  function isArticle(item) {
    return item.location.indexOf("#") < 0;
  }

  function refine(result, query) {
    var terms = queryTerms(query);
    if (!terms.length || !result || !result.items) return result;
    var pattern = termPattern(terms);
    var found = {};
    terms.forEach(function (t) { found[t] = true; });
    var groups = [];
    result.items.forEach(function (group, order) {
      var hits = group.filter(function (item) { return contains(item, terms); });
      if (!hits.length) return;
      var titled = group.some(function (item) {
        return terms.every(function (t) { return plain(item.title || "").indexOf(t) >= 0; });
      });
      var kept = group
        .filter(function (item) { return isArticle(item) || hits.indexOf(item) >= 0; })
        .map(function (item) {
          var copy = Object.assign({}, item);
          copy.title = highlight(item.title || "", pattern);
          copy.text = highlight(item.text || "", pattern);
          copy.terms = found;
          return copy;
        });
      groups.push({ items: kept, titled: titled, order: order });
    });
    groups.sort(function (a, b) {
      return (b.titled - a.titled) || (a.order - b.order);
    });
    var refined = Object.assign({}, result);
    refined.items = groups.map(function (g) { return g.items; });
    return refined;
  }

  var listen = self.addEventListener.bind(self);
  self.addEventListener = function (type, listener, options) {
    if (type !== "message") return listen(type, listener, options);
    return listen(type, function (ev) {
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
