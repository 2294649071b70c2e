/*
 * dlnotes page controls under `mkdocs serve` (served by dlnotes.site.serve).
 *
 * The server adds this script, with the run's token, only to pages it serves to a
 * browser that logged in with the link `mkdocs serve` printed. It reads the page's
 * configuration (JSON, written at build time) and the token, and exposes
 * `window.__dlnotes__.api(body)`, a POST to the endpoint that always resolves to
 * `{ok: ...}`.
 */
(function () {
  "use strict";
  var configNode = document.getElementById("dlnotes-config");
  var sessionNode = document.getElementById("dlnotes-session");
  if (!configNode || !sessionNode) return;
  var cfg = JSON.parse(configNode.textContent);
  var token = JSON.parse(sessionNode.textContent).token;

  cfg.api = function (body) {
    return fetch(cfg.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Dlnotes-Token": token},
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () {
        var why = res.status === 404 ? "（需要 mkdocs serve --livereload）" : "";
        return {ok: false, error: "HTTP " + res.status + why};
      });
    }, function (err) {
      return {ok: false, error: "服务器没有响应（mkdocs serve 还在运行吗？）" + err};
    });
  };
  window.__dlnotes__ = cfg;
})();
