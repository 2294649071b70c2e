/*
 * dlnotes study controls under `mkdocs serve`: turns the control spans that
 * dlnotes.kb.render puts after each question, resource and plan chapter into buttons
 * (resolve with an optional answer, reopen, mark read/digested, start/finish).
 * Needs api.js first.
 */
(function () {
  "use strict";
  var cfg = window.__dlnotes__;
  if (!cfg || !cfg.study) return;
  var LABELS = {
    question: {open: [["resolve", "标记为已解决"]], resolved: [["reopen", "重新打开"]]},
    resource: {
      unread: [["read", "标记已读"], ["digest", "标记已消化"]],
      read: [["digest", "标记已消化"], ["unread", "标为未读"]],
      digested: [["unread", "标为未读"]]
    },
    chapter: {
      todo: [["start", "开始"], ["done", "完成"]],
      doing: [["done", "完成"], ["todo", "未开始"]],
      done: [["todo", "未开始"]]
    }
  };
  function post(body, ctl) {
    ctl.classList.add("dl-busy");
    return cfg.api(body).then(function (data) {
      var msg = document.createElement("span");
      msg.className = "dl-msg";
      if (data.ok) {
        msg.textContent = "已保存，正在重新构建…";
        ctl.setAttribute("data-dl-saved", data.status);
        // live reload reloads the page once the rebuild is done; just in case:
        setTimeout(function () { location.reload(); }, 8000);
      } else {
        msg.textContent = "失败：" + (data.error || "未知错误");
        msg.classList.add("dl-error");
        ctl.classList.remove("dl-busy");
      }
      ctl.appendChild(msg);
    });
  }
  function button(text, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "dl-btn";
    b.textContent = text;
    b.setAttribute("data-dl-action", action);
    return b;
  }
  document.querySelectorAll(".dl-ctl[data-dl-id]").forEach(function (ctl) {
    var kind = ctl.getAttribute("data-dl-kind");
    var id = ctl.getAttribute("data-dl-id");
    var status = ctl.getAttribute("data-dl-status");
    var actions = (LABELS[kind] || {})[status] || [];
    ctl.textContent = "";
    actions.forEach(function (pair) {
      var b = button(pair[1], pair[0]);
      ctl.appendChild(b);
      b.addEventListener("click", function () {
        if (pair[0] !== "resolve") { post({action: pair[0], id: id}, ctl); return; }
        if (ctl.querySelector("textarea")) return;
        var box = document.createElement("span");
        box.className = "dl-answer";
        var area = document.createElement("textarea");
        area.rows = 4;
        area.placeholder = "答案（可选，Markdown）";
        var save = button("保存", "save");
        var cancel = button("取消", "cancel");
        box.appendChild(area); box.appendChild(save); box.appendChild(cancel);
        ctl.appendChild(box);
        area.focus();
        save.addEventListener("click", function () {
          post({action: "resolve", id: id, answer: area.value}, ctl);
        });
        cancel.addEventListener("click", function () { box.remove(); });
      });
    });
  });
})();
