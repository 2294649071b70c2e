/*
 * dlnotes under `mkdocs serve`: shows the warnings of the last build in a banner at
 * the top of every page (file:line and message) until a build is clean. The server
 * writes them to __dlnotes/status.json after each build; livereload reloads the
 * page, and this script polls too, so an open page clears itself once fixed.
 */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.dataset.status) return;
  var url = me.dataset.status;
  var shown = "";

  function render(status) {
    var problems = (status && status.problems) || [];
    var key = JSON.stringify(problems);
    if (key === shown) return;
    shown = key;
    var old = document.getElementById("dl-live-banner");
    if (old) old.remove();
    if (!problems.length) return;
    var box = document.createElement("div");
    box.id = "dl-live-banner";
    box.className = "dl-live-banner";
    box.setAttribute("role", "alert");
    var title = document.createElement("strong");
    title.textContent = "构建警告（" + problems.length + "）：修正后本提示自动消失";
    box.appendChild(title);
    var list = document.createElement("ul");
    problems.forEach(function (p) {
      var item = document.createElement("li");
      if (p.where) {
        var where = document.createElement("code");
        where.textContent = p.where;
        item.appendChild(where);
        item.appendChild(document.createTextNode(" "));
      }
      item.appendChild(document.createTextNode(p.message));
      list.appendChild(item);
    });
    box.appendChild(list);
    var anchor = document.querySelector(".md-main") || document.body;
    anchor.parentNode.insertBefore(box, anchor);
  }

  function poll() {
    fetch(url, {cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(render)
      .catch(function () { /* server restarting: keep what is shown */ });
  }

  poll();
  window.setInterval(poll, 2000);
})();
